// Periodic resampling: Fourier truncation is exact on band-limited fields,
// striding is picking, bicubic interpolates and converges at third order.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "resample.h"

// A field band-limited to |n_y| ≤ by, |n_x| ≤ bx on the unit square, with
// cosines and sines at every mode.
static double field(double y, double x, int by, int bx)
{
    double v = 0.3;
    for (int a = 0; a <= by; a++)
        for (int b = -bx; b <= bx; b++) {
            double ph = 2 * M_PI * (a * y + b * x);
            double ca = 1.0 / (1 + a * a + b * b);
            if (a == 0 && b < 0) continue;
            v += ca * cos(ph + 0.1 * b) + 0.5 * ca * sin(ph);
        }
    return v;
}

static void sample(double *g, int ny, int nx, int by, int bx)
{
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) g[j * nx + i] = field((double)j / ny, (double)i / nx, by, bx);
}

static double max_diff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void test_fourier_band_limited(void)
{
    // (ny, nx) → (my, mx) pairs: down, up, odd, non-square, identity.
    const int cases[][4] = {{48, 40, 16, 20}, {16, 20, 48, 40}, {45, 33, 15, 11}, {15, 11, 45, 33},
                            {32, 32, 32, 32}, {64, 64, 40, 40}};
    eddy_err e;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int ny = cases[c][0], nx = cases[c][1], my = cases[c][2], mx = cases[c][3];
        int my2 = (ny < my ? ny : my), mx2 = (nx < mx ? nx : mx);
        // Band limit: strictly below both grids' Nyquists (the Nyquist itself
        // is tested below).
        int by = my2 % 2 ? my2 / 2 : my2 / 2 - 1, bx = mx2 % 2 ? mx2 / 2 : mx2 / 2 - 1;
        double *in = malloc(sizeof(double) * ny * nx), *out = malloc(sizeof(double) * my * mx),
               *ex = malloc(sizeof(double) * my * mx);
        sample(in, ny, nx, by, bx);
        sample(ex, my, mx, by, bx);
        CHECK(resample_fourier(in, ny, nx, out, my, mx, &e) == 0, "%s", e.msg);
        double d = max_diff(out, ex, (size_t)my * mx);
        CHECK_CLOSE(d, 0, 1e-13, "band-limited field survives");
        NOTE("%dx%d -> %dx%d band (%d,%d): max error %.3g", ny, nx, my, mx, by, bx, d);
        free(in); free(out); free(ex);
    }
    // Truncation removes exactly the modes above the output band.
    int n = 32, m = 8;
    double *in = malloc(sizeof(double) * n * n), *out = malloc(sizeof(double) * m * m);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            in[j * n + i] = cos(2 * M_PI * 2 * i / n) + cos(2 * M_PI * (5 * i + 6 * j) / n);
    CHECK(resample_fourier(in, n, n, out, m, m, &e) == 0, "%s", e.msg);
    double d = 0;
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) d = fmax(d, fabs(out[j * m + i] - cos(2 * M_PI * 2 * i / m)));
    CHECK_CLOSE(d, 0, 1e-14, "modes above the band are dropped, not aliased");
    // The output Nyquist keeps both halves: cos(π j) at n/2 = m/2 is sampled exactly.
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) in[j * n + i] = cos(2 * M_PI * 4 * j / n);
    CHECK(resample_fourier(in, n, n, out, m, m, &e) == 0, "%s", e.msg);
    d = 0;
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) d = fmax(d, fabs(out[j * m + i] - (j % 2 ? -1 : 1)));
    CHECK_CLOSE(d, 0, 1e-14, "output Nyquist cosine sampled exactly");
    free(in); free(out);
}

static void test_stride(void)
{
    int ny = 12, nx = 18, my = 4, mx = 6;
    double in[12 * 18], out[4 * 6];
    for (int q = 0; q < ny * nx; q++) in[q] = q * 1.5 - 7;
    eddy_err e;
    CHECK(resample_stride(in, ny, nx, out, my, mx, &e) == 0, "%s", e.msg);
    int bad = 0;
    for (int j = 0; j < my; j++)
        for (int i = 0; i < mx; i++) bad += out[j * mx + i] != in[(3 * j) * nx + 3 * i];
    CHECK(bad == 0, "%d values differ from picking every 3rd", bad);
    e.msg[0] = 0;
    CHECK(resample_stride(in, ny, nx, out, 5, 6, &e) == -1 && strstr(e.msg, "multiple"), "12 -> 5 refused: %s", e.msg);
    CHECK(resample_check(RESAMPLE_STRIDE, 12, 18, 24, 18, &e) == -1, "upsampling by stride refused");
    CHECK(resample_check(RESAMPLE_FOURIER, 0, 18, 4, 4, &e) == -1, "size 0 refused");
    resample_method m;
    CHECK(resample_method_parse("bicubic", &m, &e) == 0 && m == RESAMPLE_BICUBIC, "parse");
    CHECK(resample_method_parse("linear", &m, &e) == -1, "unknown method refused");
}

static double smooth(double y, double x) { return sin(2 * M_PI * x) * cos(2 * M_PI * y) + 0.5 * cos(2 * M_PI * (x - 2 * y)); }

static void test_bicubic(void)
{
    eddy_err e;
    // Interpolating: on the input points it returns the input; with a
    // divisible factor, downsampling equals striding.
    int n = 64, m = 16;
    double *in = malloc(sizeof(double) * n * n), *o1 = malloc(sizeof(double) * m * m), *o2 = malloc(sizeof(double) * m * m);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) in[j * n + i] = smooth((double)j / n, (double)i / n) + 0.01 * ((i * 7 + j * 3) % 5);
    CHECK(resample_bicubic(in, n, n, o1, m, m, RESAMPLE_CUBIC_A, &e) == 0, "%s", e.msg);
    CHECK(resample_stride(in, n, n, o2, m, m, &e) == 0, "%s", e.msg);
    CHECK(max_diff(o1, o2, (size_t)m * m) == 0, "bicubic at input points = stride");
    // Third-order convergence on a smooth field: 16² and 32² inputs
    // evaluated on 128²; error ratio ≈ 8.
    int M = 128;
    double *fine = malloc(sizeof(double) * M * M), *ex = malloc(sizeof(double) * M * M), err[2];
    for (int j = 0; j < M; j++)
        for (int i = 0; i < M; i++) ex[j * M + i] = smooth((double)j / M, (double)i / M);
    for (int r = 0; r < 2; r++) {
        int k = 16 << r;
        double *c = malloc(sizeof(double) * k * k);
        for (int j = 0; j < k; j++)
            for (int i = 0; i < k; i++) c[j * k + i] = smooth((double)j / k, (double)i / k);
        CHECK(resample_bicubic(c, k, k, fine, M, M, RESAMPLE_CUBIC_A, &e) == 0, "%s", e.msg);
        err[r] = max_diff(fine, ex, (size_t)M * M);
        free(c);
    }
    NOTE("bicubic max error from 16^2: %.3g, from 32^2: %.3g, ratio %.2f", err[0], err[1], err[0] / err[1]);
    // Catmull–Rom's error is ≤ ~(2πh)³/ (a few); stated bounds ~2× the measured values.
    CHECK(err[0] < 2e-2, "16^2 error %g", err[0]);
    CHECK(err[1] < 1.5e-3, "32^2 error %g", err[1]);
    CHECK(err[0] / err[1] > 7 && err[0] / err[1] < 10, "third order: ratio %g", err[0] / err[1]);
    // Arbitrary points (with wrap-around and negative coordinates) agree with the grid version.
    double ys[3] = {-0.25, 15.5, 33.75}, xs[3] = {2.5, -16.125, 7.0}, pv[3];
    int k = 16;
    double *c = malloc(sizeof(double) * k * k);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < k; i++) c[j * k + i] = smooth((double)j / k, (double)i / k);
    resample_bicubic_points(c, k, k, ys, xs, 3, RESAMPLE_CUBIC_A, pv);
    for (int p = 0; p < 3; p++)
        CHECK_CLOSE(pv[p], smooth(ys[p] / k, xs[p] / k), 2e-2, "point value");
    // Reproduces a quadratic locally: f = (x-8)² on a 16-wide grid, away from the wrap.
    for (int j = 0; j < k; j++)
        for (int i = 0; i < k; i++) c[j * k + i] = (i - 8.0) * (i - 8.0) + 0.5 * (j - 8.0);
    double qy[1] = {8.3}, qx[1] = {7.6}, qv[1];
    resample_bicubic_points(c, k, k, qy, qx, 1, RESAMPLE_CUBIC_A, qv);
    CHECK_CLOSE(qv[0], (7.6 - 8) * (7.6 - 8) + 0.5 * (8.3 - 8), 1e-13, "quadratic reproduced");
    free(c); free(in); free(o1); free(o2); free(fine); free(ex);
}

int main(void)
{
    RUN(test_fourier_band_limited);
    RUN(test_stride);
    RUN(test_bicubic);
    return check_done();
}
