// Spectra against Parseval, single modes, and synthetic power laws.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spectrum.h"

static double rnd(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0 - 0.5; }

// Σ P = mean(u²) in 1-D, 2-D and 3-D (odd and even sizes); Σ E = ½ mean(u²).
static void test_parseval(void)
{
    int shapes[4][3] = { { 37, 0, 0 }, { 24, 19, 0 }, { 7, 10, 12 }, { 16, 16, 0 } };
    int ranks[4] = { 1, 2, 3, 2 };
    unsigned s = 1;
    eddy_err e;
    for (int c = 0; c < 4; c++) {
        int rank = ranks[c], *n = shapes[c];
        size_t N = 1;
        for (int a = 0; a < rank; a++) N *= n[a];
        double *u = malloc(N * sizeof *u), ms = 0;
        for (size_t i = 0; i < N; i++) { u[i] = rnd(&s) + 0.3; ms += u[i] * u[i] / N; }
        size_t M = spec_half_size(rank, n);
        double *P = calloc(M, sizeof *P), sum = 0;
        CHECK(spec_power_acc(u, rank, n, P, &e) == 0, "%s", e.msg);
        for (size_t m = 0; m < M; m++) sum += P[m];
        CHECK_REL(sum, ms, 1e-12, "sum P = mean u^2");
        double mean = 0;
        for (size_t i = 0; i < N; i++) mean += u[i] / N;
        CHECK_REL(P[0], mean * mean, 1e-12, "P(0) = mean^2");
        if (rank == 2) {
            int nb = spec_nshells(n[0], n[1]);
            double *E = calloc(nb, sizeof *E), se = 0;
            CHECK(spec_energy2d_acc(u, n[0], n[1], E, &e) == 0, "%s", e.msg);
            for (int k = 0; k < nb; k++) se += E[k];
            CHECK_REL(se, 0.5 * ms, 1e-12, "sum E = mean u^2 / 2");
            free(E);
        }
        free(u); free(P);
    }
}

// A single mode A cos(3x + 4y) has all its energy A²/4 in shell 5; in 1-D
// A cos(5x) has P(5) = A²/2; a travelling wave cos(3x − 2·2πt/T) sits at one
// (ω, k) entry of the space–time spectrum.
static void test_single_mode(void)
{
    int N = 32;
    double A = 1.7;
    double *u = malloc(N * N * sizeof *u);
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) u[y * N + x] = A * cos(2 * M_PI * (3.0 * x + 4.0 * y) / N);
    int nb = spec_nshells(N, N);
    double *E = calloc(nb, sizeof *E);
    eddy_err e;
    spec_energy2d_acc(u, N, N, E, &e);
    for (int k = 0; k < nb; k++) CHECK_CLOSE(E[k], k == 5 ? A * A / 4 : 0.0, 1e-13, "shell energy");
    free(E);

    double v[64], P[33] = { 0 };
    for (int x = 0; x < 64; x++) v[x] = A * cos(2 * M_PI * 5 * x / 64.0 + 0.4);
    int n1 = 64;
    spec_power_acc(v, 1, &n1, P, &e);
    for (int k = 0; k <= 32; k++) CHECK_CLOSE(P[k], k == 5 ? A * A / 2 : 0.0, 1e-13, "1-D PSD");

    int T = 20, n2[2] = { T, N };
    double *w = malloc((size_t)T * N * sizeof *w);
    for (int t = 0; t < T; t++)
        for (int x = 0; x < N; x++) w[t * N + x] = cos(2 * M_PI * (3.0 * x / N - 2.0 * t / T));
    size_t M = spec_half_size(2, n2);
    double *Q = calloc(M, sizeof *Q);
    spec_power_acc(w, 2, n2, Q, &e);
    int hx = N / 2 + 1;
    // e^{i(kx − ωt)} with k = 3 and ω = 2 lands at row −2 (T − 2), column 3.
    for (int t = 0; t < T; t++)
        for (int j = 0; j < hx; j++)
            CHECK_CLOSE(Q[t * hx + j], (t == T - 2 && j == 3) ? 0.5 : 0.0, 1e-13, "space-time PSD");
    free(Q); free(w); free(u);
}

// Least-squares slope of log E against log k over [k0, k1].
static double slope(const double *E, int k0, int k1)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (int k = k0; k <= k1; k++, n++) {
        double x = log(k), y = log(E[k]);
        sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

// Fields built as sums of cosines with |û(n)|² ∝ |n|^{−p−1} (2-D, since a
// shell holds ~2πk modes) or n^{−p} (1-D) and pseudo-random phases must show
// E ∝ k^{−p}.  Tolerance 0.1 on the slope: shell counts fluctuate around 2πk.
static void test_power_law(void)
{
    int N = 64;
    double p = 3.0;
    double *u = calloc(N * N, sizeof *u);
    unsigned s = 7;
    for (int a = -N / 2 + 1; a < N / 2; a++)
        for (int b = 0; b < N / 2; b++) {
            if (b == 0 && a <= 0) continue;    // one of each ±n pair
            double r = sqrt((double)a * a + (double)b * b);
            if (r > N / 2 - 1) continue;
            double amp = pow(r, -(p + 1) / 2), ph = 2 * M_PI * (rnd(&s) + 0.5);
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) u[y * N + x] += amp * cos(2 * M_PI * (a * y + b * x) / (double)N + ph);
        }
    int nb = spec_nshells(N, N);
    double *E = calloc(nb, sizeof *E);
    eddy_err e;
    spec_energy2d_acc(u, N, N, E, &e);
    double sl = slope(E, 3, 28);
    CHECK_CLOSE(sl, -p, 0.1, "2-D slope");
    NOTE("2-D energy spectrum slope %.4f (want %.1f)", sl, -p);
    free(E); free(u);

    int n1 = 512;
    double *v = calloc(n1, sizeof *v), *P = calloc(n1 / 2 + 1, sizeof *P);
    double q = 5.0 / 3.0;
    for (int k = 1; k < n1 / 2; k++) {
        double amp = pow(k, -q / 2), ph = 2 * M_PI * (rnd(&s) + 0.5);
        for (int x = 0; x < n1; x++) v[x] += amp * cos(2 * M_PI * k * x / (double)n1 + ph);
    }
    spec_power_acc(v, 1, &n1, P, &e);
    // Exact in 1-D: one mode per wavenumber, so the slope is exact.
    double sl1 = slope(P, 1, 200);
    CHECK_CLOSE(sl1, -q, 1e-9, "1-D slope");
    free(v); free(P);
}

// The record accumulator: a (t, y, x) record of two frames u = cos(x) and
// u = 2 cos(x) averages to E(1) = (1/4 + 1)/2 per frame in auto (energy)
// mode; psd on 2-D fields and spacetime without a t axis are refused.
static void test_record_acc(void)
{
    tsr_record r;
    tsr_record_init(&r);
    uint64_t shape[3] = { 2, 8, 8 };
    eddy_err e;
    CHECK(tsr_record_alloc(&r, "w", TSR_F8, 3, shape, &e) == 0, "alloc");
    tsr_attr_set(&r, "dims", "t,y,x");
    double *d = r.data;
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 64; i++) d[t * 64 + i] = (1 + t) * cos(2 * M_PI * (i % 8) / 8);
    layout l;
    CHECK(layout_of(&r, NULL, &l, &e) == 0, "layout");
    spec_acc a = { 0 };
    CHECK(spec_acc_start(&a, &l, SPEC_AUTO, &e) == 0 && a.mode == SPEC_ENERGY, "auto is energy for 2-D");
    CHECK(spec_acc_add(&a, &r, &e) == 0 && a.count == 2, "two frames added");
    double *E = spec_acc_result(&a);
    CHECK(E && (int)a.nout == spec_nshells(8, 8), "one value per shell");
    CHECK_CLOSE(E[1], (0.25 + 1.0) / 2, 1e-14, "E(1), the mean of both frames");
    CHECK_CLOSE(E[0] + E[2], 0, 1e-14, "no other shell");
    free(E);
    CHECK(spec_acc_start(&a, &l, SPEC_PSD, &e) != 0 && strstr(e.msg, "psd needs 1-D"), "psd on 2-D refused");
    tsr_attr_set(&r, "dims", "b,y,x");
    CHECK(layout_of(&r, NULL, &l, &e) == 0, "layout without t");
    CHECK(spec_acc_start(&a, &l, SPEC_SPACETIME, &e) != 0 && strstr(e.msg, "t axis"), "spacetime needs t");
    spec_acc_free(&a);
    tsr_record_free(&r);
}

int main(void)
{
    RUN(test_parseval);
    RUN(test_single_mode);
    RUN(test_power_law);
    RUN(test_record_acc);
    return check_done();
}
