#include "resample.h"

#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"

static const char *const method_names[] = {"fourier", "stride", "bicubic"};

int resample_method_parse(const char *name, resample_method *m, eddy_err *e)
{
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, method_names[i])) {
            *m = (resample_method)i;
            return 0;
        }
    return eddy_fail(e, "unknown resampling method '%s' (fourier, stride or bicubic)", name ? name : "");
}

const char *resample_method_name(resample_method m)
{
    return (unsigned)m < 3 ? method_names[m] : "?";
}

int resample_check(resample_method m, int ny, int nx, int my, int mx, eddy_err *e)
{
    if (ny < 1 || nx < 1 || my < 1 || mx < 1)
        return eddy_fail(e, "cannot resample %dx%d to %dx%d: sizes must be positive", ny, nx, my, mx);
    if (m == RESAMPLE_STRIDE && (my > ny || mx > nx || ny % my || nx % mx))
        return eddy_fail(e, "cannot stride %dx%d to %dx%d: the input size must be a multiple of the output size",
                         ny, nx, my, mx);
    return 0;
}

// ---------------------------------------------------------------- plan cache

enum { PLAN_R2C, PLAN_C2R };
#define CACHE_MAX 64
static struct {
    int ny, nx, kind;
    fftw_plan p;
} cache[CACHE_MAX];
static int ncache;

// A cached plan for (ny, nx); NULL only if FFTW cannot plan.  Plans are made
// on fftw_malloc'd scratch (FFTW_ESTIMATE does not touch it) and executed on
// other fftw_malloc'd arrays, which have the same alignment.
static fftw_plan get_plan(int ny, int nx, int kind)
{
    fftw_plan p = NULL;
    fft_plan_lock();
    for (int i = 0; i < ncache && !p; i++)
        if (cache[i].ny == ny && cache[i].nx == nx && cache[i].kind == kind) p = cache[i].p;
    if (!p) {
        double *r = fftw_alloc_real((size_t)ny * nx);
        fftw_complex *c = fftw_alloc_complex((size_t)ny * (nx / 2 + 1));
        if (r && c)
            p = kind == PLAN_R2C ? fftw_plan_dft_r2c_2d(ny, nx, r, c, fft_flags())
                                 : fftw_plan_dft_c2r_2d(ny, nx, c, r, fft_flags());
        fftw_free(r);
        fftw_free(c);
        if (p && ncache < CACHE_MAX) {
            cache[ncache].ny = ny, cache[ncache].nx = nx, cache[ncache].kind = kind, cache[ncache].p = p;
            ncache++;
        }
        // A full cache leaks the plan rather than destroy one another thread may be using.
    }
    fft_plan_unlock();
    return p;
}

// ---------------------------------------------------------------- Fourier

typedef struct {
    int n[2];       // signed input frequencies
    double w[2];
    int cnt;
} sources;

// For every output index o of one axis, the input frequencies that land on
// it: n in the input's symmetric band (an even grid's Nyquist split in
// halves), |n| ≤ m/2, n ≡ o (mod m).
static void axis_sources(int nin, int m, sources *src)   // src: (m)
{
    for (int o = 0; o < m; o++) src[o].cnt = 0;
    int lo = -(nin / 2), hi = nin / 2;
    for (int n = lo; n <= hi; n++) {
        double w = (nin % 2 == 0 && (n == lo || n == hi)) ? 0.5 : 1.0;
        if (2 * abs(n) > m) continue;
        int o = ((n % m) + m) % m;
        sources *s = &src[o];
        s->n[s->cnt] = n, s->w[s->cnt] = w, s->cnt++;
    }
}

int resample_fourier(const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e)
{
    if (resample_check(RESAMPLE_FOURIER, ny, nx, my, mx, e)) return -1;
    int nhi = nx / 2 + 1, nho = mx / 2 + 1;
    fftw_plan pf = get_plan(ny, nx, PLAN_R2C), pb = get_plan(my, mx, PLAN_C2R);
    double *ri = fftw_alloc_real((size_t)ny * nx), *ro = fftw_alloc_real((size_t)my * mx);
    double complex *ci = fftw_alloc_complex((size_t)ny * nhi), *co = fftw_alloc_complex((size_t)my * nho);
    sources *sy = malloc(sizeof(sources) * my), *sx = malloc(sizeof(sources) * mx);
    int rc = 0;
    if (!pf || !pb) rc = eddy_fail(e, "FFTW could not plan %dx%d / %dx%d transforms", ny, nx, my, mx);
    else if (!ri || !ro || !ci || !co || !sy || !sx) rc = eddy_fail(e, "out of memory resampling %dx%d", ny, nx);
    if (!rc) {
        memcpy(ri, in, sizeof(double) * ny * nx);
        fftw_execute_dft_r2c(pf, ri, ci);
        axis_sources(ny, my, sy);
        axis_sources(nx, mx, sx);
        double sc = 1.0 / ((double)ny * nx);   // unnormalised forward, c2r adds nothing
        for (int oy = 0; oy < my; oy++)
            for (int ox = 0; ox < nho; ox++) {
                double complex acc = 0;
                for (int a = 0; a < sy[oy].cnt; a++)
                    for (int b = 0; b < sx[ox].cnt; b++) {
                        int fy = sy[oy].n[a], fx = sx[ox].n[b];
                        double complex c;
                        // The half spectrum holds fx ≥ 0; C(fy, fx) = conj C(−fy, −fx).
                        if (fx >= 0) c = ci[(size_t)(((fy % ny) + ny) % ny) * nhi + fx];
                        else c = conj(ci[(size_t)(((-fy % ny) + ny) % ny) * nhi + (-fx)]);
                        acc += sy[oy].w[a] * sx[ox].w[b] * c;
                    }
                co[(size_t)oy * nho + ox] = acc * sc;
            }
        fftw_execute_dft_c2r(pb, co, ro);
        memcpy(out, ro, sizeof(double) * my * mx);
    }
    fftw_free(ri); fftw_free(ro); fftw_free(ci); fftw_free(co);
    free(sy); free(sx);
    return rc;
}

// ---------------------------------------------------------------- stride

int resample_stride(const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e)
{
    if (resample_check(RESAMPLE_STRIDE, ny, nx, my, mx, e)) return -1;
    int sy = ny / my, sx = nx / mx;
    for (int j = 0; j < my; j++)
        for (int i = 0; i < mx; i++) out[(size_t)j * mx + i] = in[(size_t)j * sy * nx + (size_t)i * sx];
    return 0;
}

// ---------------------------------------------------------------- bicubic

// Keys weights of the 4 neighbours at offsets −1, 0, 1, 2 for fraction t ∈ [0, 1).
static void keys_weights(double t, double a, double w[4])
{
    double s0 = 1 + t, s1 = t, s2 = 1 - t, s3 = 2 - t;
    w[0] = ((a * s0 - 5 * a) * s0 + 8 * a) * s0 - 4 * a;
    w[1] = ((a + 2) * s1 - (a + 3)) * s1 * s1 + 1;
    w[2] = ((a + 2) * s2 - (a + 3)) * s2 * s2 + 1;
    w[3] = ((a * s3 - 5 * a) * s3 + 8 * a) * s3 - 4 * a;
}

// Splits a coordinate into a wrapped base index and a fraction.
static void locate(double c, int n, int *base, double *t)
{
    double f = floor(c);
    *t = c - f;
    long b = (long)f % n;
    *base = (int)(b < 0 ? b + n : b);
}

static double bicubic_at(const double *in, int ny, int nx, int y0, const double wy[4], int x0, const double wx[4])
{
    double v = 0;
    for (int p = 0; p < 4; p++) {
        const double *row = in + (size_t)((y0 + p - 1 + ny) % ny) * nx;
        double r = 0;
        for (int q = 0; q < 4; q++) r += wx[q] * row[(x0 + q - 1 + nx) % nx];
        v += wy[p] * r;
    }
    return v;
}

void resample_bicubic_points(const double *in, int ny, int nx, const double *ys, const double *xs, size_t np,
                             double a, double *out)
{
    for (size_t p = 0; p < np; p++) {
        int y0, x0;
        double ty, tx, wy[4], wx[4];
        locate(ys[p], ny, &y0, &ty);
        locate(xs[p], nx, &x0, &tx);
        keys_weights(ty, a, wy);
        keys_weights(tx, a, wx);
        out[p] = bicubic_at(in, ny, nx, y0, wy, x0, wx);
    }
}

int resample_bicubic(const double *in, int ny, int nx, double *out, int my, int mx, double a, eddy_err *e)
{
    if (resample_check(RESAMPLE_BICUBIC, ny, nx, my, mx, e)) return -1;
    int *x0 = malloc(sizeof(int) * mx);
    double *wx = malloc(sizeof(double) * 4 * mx);
    if (!x0 || !wx) {
        free(x0); free(wx);
        return eddy_fail(e, "out of memory");
    }
    // Output point i sits at input index i·nx/mx: exact rational positions, so
    // points that coincide with input points get the weights (0, 1, 0, 0).
    for (int i = 0; i < mx; i++) {
        long num = (long)i * nx;
        x0[i] = (int)(num / mx);
        keys_weights((double)(num % mx) / mx, a, wx + 4 * i);
    }
    for (int j = 0; j < my; j++) {
        long num = (long)j * ny;
        double wy[4];
        keys_weights((double)(num % my) / my, a, wy);
        for (int i = 0; i < mx; i++)
            out[(size_t)j * mx + i] = bicubic_at(in, ny, nx, (int)(num / my), wy, x0[i], wx + 4 * i);
    }
    free(x0); free(wx);
    return 0;
}

int resample_2d(resample_method m, const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e)
{
    switch (m) {
    case RESAMPLE_FOURIER: return resample_fourier(in, ny, nx, out, my, mx, e);
    case RESAMPLE_STRIDE: return resample_stride(in, ny, nx, out, my, mx, e);
    case RESAMPLE_BICUBIC: return resample_bicubic(in, ny, nx, out, my, mx, RESAMPLE_CUBIC_A, e);
    }
    return eddy_fail(e, "unknown resampling method %d", (int)m);
}
