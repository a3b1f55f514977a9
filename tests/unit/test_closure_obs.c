// Sparse observations and their fills against analytic fields and hand
// computations: exact pick-off when n divides N, third-order convergence of
// the periodic bicubic fill, interpolation at the nodes, partition of unity,
// and the masked box average on a case small enough to do by hand.
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "closure_obs.h"

static double f(double y, double x) { return sin(x + 0.3) * cos(2 * y) + 0.5 * sin(y); }

static void field(float *u, int N)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) u[i * N + j] = (float)f(2 * M_PI * i / N, 2 * M_PI * j / N);
}

static void test_sample(void)
{
    enum { N = 64 };
    float u[N * N], obs[16 * 16];
    eddy_err e;
    field(u, N);
    CHECK(obs_sample(u, N, 16, obs, &e) == 0, "%s", e.msg);
    int exact = 1;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) exact &= obs[i * 16 + j] == u[(4 * i) * N + 4 * j];
    CHECK(exact, "n | N must read grid values exactly");
    // n = 5 does not divide 64: bicubic from the grid, against the analytic value.
    CHECK(obs_sample(u, N, 5, obs, &e) == 0, "%s", e.msg);
    double err = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            err = fmax(err, fabs(obs[i * 5 + j] - f(2 * M_PI * i / 5, 2 * M_PI * j / 5)));
    NOTE("n = 5 on 64²: max error %.2e", err);
    CHECK(err < 2e-4, "n = 5 observations off by %g", err);
    CHECK(obs_sample(u, N, 65, obs, &e) == -1, "n > N must fail");
}

static double fill_error(int n, int M)
{
    float *obs = malloc(sizeof(float) * n * n), *out = malloc(sizeof(float) * M * M);
    eddy_err e;
    field(obs, n);
    CHECK(obs_fill(obs, n, M, OBS_FILL_BICUBIC, 0, out, &e) == 0, "%s", e.msg);
    double err = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++)
            err = fmax(err, fabs(out[i * M + j] - f(2 * M_PI * i / M, 2 * M_PI * j / M)));
    free(obs), free(out);
    return err;
}

static void test_bicubic_fill(void)
{
    double e8 = fill_error(8, 256), e16 = fill_error(16, 256), e32 = fill_error(32, 256);
    NOTE("bicubic fill max error n=8 %.3e, 16 %.3e, 32 %.3e (ratios %.2f, %.2f)", e8, e16, e32,
         e8 / e16, e16 / e32);
    CHECK(e16 / e32 > 6 && e16 / e32 < 12, "order 3 expected: ratio %g", e16 / e32);
    enum { n = 16, M = 64 };
    float obs[n * n], out[M * M];
    eddy_err e;
    for (int i = 0; i < n * n; i++) obs[i] = (float)sin(1.7 * i);
    CHECK(obs_fill(obs, n, M, OBS_FILL_BICUBIC, 0, out, &e) == 0, "%s", e.msg);
    double d = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) d = fmax(d, fabs(out[(4 * i) * M + 4 * j] - obs[i * n + j]));
    CHECK(d < 1e-6, "fill does not interpolate the nodes: %g", d);
    for (int i = 0; i < n * n; i++) obs[i] = 2.5f;
    obs_fill(obs, n, M, OBS_FILL_BICUBIC, 0, out, &e);
    d = 0;
    for (int i = 0; i < M * M; i++) d = fmax(d, fabs(out[i] - 2.5));
    CHECK(d < 1e-6, "constant not reproduced: %g", d);
}

static void test_box_fill(void)
{
    // n = 2 on M = 4: observations at (0,0) (0,2) (2,0) (2,2); width 3.
    float obs[4] = {1, 2, 3, 4}, out[16];
    eddy_err e;
    CHECK(obs_box_width(2, 4) == 3 && obs_box_width(16, 64) == 7 && obs_box_width(16, 256) == 31,
          "box widths");
    CHECK(obs_fill(obs, 2, 4, OBS_FILL_BOX, 0, out, &e) == 0, "%s", e.msg);
    CHECK_CLOSE(out[0], 1, 1e-6, "(0,0) sees only itself");
    CHECK_CLOSE(out[1], 1.5, 1e-6, "(0,1) sees (0,0) and (0,2)");
    CHECK_CLOSE(out[1 * 4 + 1], 2.5, 1e-6, "(1,1) sees all four");
    CHECK_CLOSE(out[3 * 4 + 3], 2.5, 1e-6, "(3,3) sees all four through the wrap");
    CHECK_CLOSE(out[2 * 4 + 2], 4, 1e-6, "(2,2) sees only itself");
    CHECK(obs_fill(obs, 2, 4, OBS_FILL_BOX, 2, out, &e) == -1, "even width must fail");
    CHECK(obs_fill(obs, 2, 8, OBS_FILL_BOX, 1, out, &e) == -1, "a box missing every point must fail");
    // Constant and resolution: n = 5 on 64² with the default width.
    float o25[25], big[64 * 64];
    for (int i = 0; i < 25; i++) o25[i] = -0.75f;
    CHECK(obs_fill(o25, 5, 64, OBS_FILL_BOX, 0, big, &e) == 0, "%s", e.msg);
    double d = 0;
    for (int i = 0; i < 64 * 64; i++) d = fmax(d, fabs(big[i] + 0.75));
    CHECK(d < 1e-6, "constant not reproduced by the box: %g", d);
}

int main(void)
{
    RUN(test_sample);
    RUN(test_bicubic_fill);
    RUN(test_box_fill);
    return check_done();
}
