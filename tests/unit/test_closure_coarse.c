// The coarse term against fields whose G and H are known in closed form: a
// Laplacian eigenmode (G = −ν|k|²V, and u·∇ω = 0), and two modes of different
// |k|, whose advection is a single product mode.
#include <math.h>

#include "check.h"
#include "closure_coarse.h"

enum { N = 32 };

static double maxdiff(const float *a, double (*f)(double, double))
{
    double d = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) d = fmax(d, fabs(a[i * N + j] - f(2 * M_PI * i / N, 2 * M_PI * j / N)));
    return d;
}

static void grid(float *u, double (*f)(double, double))
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) u[i * N + j] = (float)f(2 * M_PI * i / N, 2 * M_PI * j / N);
}

static double eigen(double y, double x) { return sin(x) * cos(2 * y); }
static double eigen_g(double y, double x) { return -5e-3 * eigen(y, x); }
static double zero(double y, double x) { return 0 * x * y; }
// ω = sin x + cos 2y: ψ = sin x + cos(2y)/4, u = ψ_y = −sin(2y)/2, v = −ψ_x = −cos x,
// u·∇ω = −sin(2y)/2 · cos x + (−cos x)(−2 sin 2y) = 1.5 cos x sin 2y.
static double two(double y, double x) { return sin(x) + cos(2 * y); }
static double two_h(double y, double x) { return -1.5 * cos(x) * sin(2 * y); }

static void test_eigenmode(void)
{
    float V[2 * N * N], out[2 * N * N];
    eddy_err e;
    grid(V, eigen), grid(V + N * N, eigen);
    CHECK(coarse_term(V, 2, N, 2 * M_PI, 1e-3, COARSE_G, out, &e) == 0, "%s", e.msg);
    CHECK(maxdiff(out, eigen_g) < 1e-8 && maxdiff(out + N * N, eigen_g) < 1e-8, "G != -nu |k|^2 V");
    CHECK(coarse_term(V, 2, N, 2 * M_PI, 1e-3, COARSE_H, out, &e) == 0, "%s", e.msg);
    CHECK(maxdiff(out, zero) < 1e-6, "H of an eigenmode: %g", maxdiff(out, zero));
}

static void test_two_modes(void)
{
    float V[N * N], out[N * N];
    eddy_err e;
    grid(V, two);
    CHECK(coarse_term(V, 1, N, 2 * M_PI, 1e-3, COARSE_H, out, &e) == 0, "%s", e.msg);
    NOTE("H of sin x + cos 2y: max error %.2e", maxdiff(out, two_h));
    CHECK(maxdiff(out, two_h) < 1e-6, "H off by %g", maxdiff(out, two_h));
}

static void test_parse(void)
{
    coarse_term_kind k;
    CHECK(coarse_term_parse("H", &k) == 0 && k == COARSE_H, "H");
    CHECK(coarse_term_parse("omega", &k) == -1, "only G and H");
}

int main(void)
{
    RUN(test_eigenmode);
    RUN(test_two_modes);
    RUN(test_parse);
    return check_done();
}
