#include "nn.h"

#include <cblas.h>
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "fno.h"

// ---------------------------------------------------------------- linear

void nn_linear_forward(float *out, int ldo, const float *in, int ldi, const float *w,
                       const float *b, size_t N, int cin, int cout, int accumulate)
{
    float beta = accumulate ? 1.0f : 0.0f;
    if (b && !accumulate) {
        // Filling the bias first lets the GEMM add onto it: one pass less.
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < N; i++)
            memcpy(out + i * (size_t)ldo, b, (size_t)cout * sizeof(float));
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, cout, cin, 1.0f, in, ldi, w,
                cin, beta, out, ldo);
    if (b && accumulate) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < cout; c++) out[i * (size_t)ldo + c] += b[c];
    }
}

// Column sums of a (N, C) array into acc (C), in fixed blocks of rows so the
// rounding does not depend on the thread count.
static void colsum_add(float *acc, const float *a, int lda, size_t N, int C)
{
    enum { BLK = 1024 };
    size_t nblk = (N + BLK - 1) / BLK;
    if (nblk <= 1) {
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < C; c++) acc[c] += a[i * (size_t)lda + c];
        return;
    }
    float *part = calloc(nblk * (size_t)C, sizeof(float));
    if (!part) {  // fall back to the serial sum rather than fail a backward pass
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < C; c++) acc[c] += a[i * (size_t)lda + c];
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nblk; k++) {
        float *p = part + k * (size_t)C;
        size_t end = (k + 1) * BLK < N ? (k + 1) * BLK : N;
        for (size_t i = k * BLK; i < end; i++)
            for (int c = 0; c < C; c++) p[c] += a[i * (size_t)lda + c];
    }
    for (size_t k = 0; k < nblk; k++)
        for (int c = 0; c < C; c++) acc[c] += part[k * (size_t)C + c];
    free(part);
}

void nn_linear_backward(float *din, int lddi, float *dw, float *db, const float *dout, int lddo,
                        const float *in, int ldi, const float *w, size_t N, int cin, int cout)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, cin, cout, 1.0f, dout,
                    lddo, w, cin, 1.0f, din, lddi);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, cin, (int)N, 1.0f, dout, lddo,
                    in, ldi, 1.0f, dw, cin);
    if (db) colsum_add(db, dout, lddo, N, cout);
}

// ---------------------------------------------------------------- activations
// libm's erff/expf are not vectorised without fast-math; these are, and are
// accurate to a few ulp (checked against libm in test_fno_layers).

static inline float vexpf(float x)
{
    // ternaries, not fminf/fmaxf: those are library calls without fast-math
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    // round to nearest by the 1.5·2^23 trick (rintf blocks vectorisation)
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    union { int32_t i; float f; } s = {((int32_t)n + 127) << 23};
    return p * s.f;
}

// erf as x·P(x²)/Q(x²) on [−4, 4] (the rational form used by Eigen/XLA).
static inline float verff(float x)
{
    x = x < -4.0f ? -4.0f : x > 4.0f ? 4.0f : x;
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = fmaf(p, x2, 2.77068142495902e-08f);
    p = fmaf(p, x2, -2.10102402082508e-06f);
    p = fmaf(p, x2, -5.69250639462346e-05f);
    p = fmaf(p, x2, -7.34990630326855e-04f);
    p = fmaf(p, x2, -2.95459980854025e-03f);
    p = fmaf(p, x2, -1.60960333262415e-02f);
    float q = -1.45660718464996e-05f;
    q = fmaf(q, x2, -2.13374055278905e-04f);
    q = fmaf(q, x2, -1.68282697438203e-03f);
    q = fmaf(q, x2, -7.37332916720468e-03f);
    q = fmaf(q, x2, -1.42647390514189e-02f);
    return x * p / q;
}

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT2PI 0.39894228040143268f

// Element-wise kernels on one chunk, plain loops the compiler vectorises;
// OpenMP splits the array into fixed chunks around them.
static void gelu_fwd(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = 0.5f * x * (1.0f + verff(x * INV_SQRT2));
    }
}

static void silu_fwd(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x / (1.0f + vexpf(-x));
    }
}

static void gelu_bwd(float *restrict din, const float *restrict dout, const float *restrict in,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float d = 0.5f * (1.0f + verff(x * INV_SQRT2)) + x * INV_SQRT2PI * vexpf(-0.5f * x * x);
        din[i] += dout[i] * d;
    }
}

static void silu_bwd(float *restrict din, const float *restrict dout, const float *restrict in,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float s = 1.0f / (1.0f + vexpf(-x));
        din[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

enum { CHUNK = 4096 };

void nn_act_forward(float *out, const float *in, size_t n, int act)
{
    size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nc; k++) {
        size_t len = (k + 1) * CHUNK <= n ? CHUNK : n - k * CHUNK;
        if (act == FNO_GELU) gelu_fwd(out + k * CHUNK, in + k * CHUNK, len);
        else silu_fwd(out + k * CHUNK, in + k * CHUNK, len);
    }
}

void nn_act_backward(float *din, const float *dout, const float *in, size_t n, int act)
{
    size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nc; k++) {
        size_t len = (k + 1) * CHUNK <= n ? CHUNK : n - k * CHUNK, o = k * CHUNK;
        if (act == FNO_GELU) gelu_bwd(din + o, dout + o, in + o, len);
        else silu_bwd(din + o, dout + o, in + o, len);
    }
}

double nn_act_ref(double x, int act)
{
    return act == FNO_GELU ? 0.5 * x * (1.0 + erf(x / sqrt(2.0))) : x / (1.0 + exp(-x));
}

double nn_act_dref(double x, int act)
{
    if (act == FNO_GELU)
        return 0.5 * (1.0 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    double s = 1.0 / (1.0 + exp(-x));
    return s * (1.0 + x * (1.0 - s));
}

// ---------------------------------------------------------------- FiLM / bias

void nn_film_forward(float *out, const float *in, const float *ss, int B, size_t N, int C,
                     int film)
{
    int ld = film ? 2 * C : C;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < (size_t)B * N; r++) {
        const float *s = ss + (r / N) * (size_t)ld;
        const float *sh = film ? s + C : s;
        const float *x = in + r * (size_t)C;
        float *y = out + r * (size_t)C;
        if (film)
            for (int c = 0; c < C; c++) y[c] = x[c] * (1.0f + s[c]) + sh[c];
        else
            for (int c = 0; c < C; c++) y[c] = x[c] + sh[c];
    }
}

void nn_film_backward(float *din, float *dss, const float *dout, const float *in,
                      const float *ss, int B, size_t N, int C, int film)
{
    int ld = film ? 2 * C : C;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        const float *s = ss + (size_t)b * ld;
        float *ds = dss + (size_t)b * ld;
        float *dsh = film ? ds + C : ds;
        for (size_t p = 0; p < N; p++) {
            size_t r = ((size_t)b * N + p) * C;
            for (int c = 0; c < C; c++) {
                float g = dout[r + c];
                if (din) din[r + c] += film ? g * (1.0f + s[c]) : g;
                if (film) ds[c] += g * in[r + c];
                dsh[c] += g;
            }
        }
    }
}

// ---------------------------------------------------------------- embedding

void nn_embed(float *e, const float *s, int B, int E, const float *freq, double period)
{
    int h = E / 2;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < h; i++) {
            double a = freq ? 2.0 * M_PI * (double)freq[i] * s[b]
                            : exp(-log(period) * i / h) * s[b];
            e[(size_t)b * E + i] = (float)sin(a);
            e[(size_t)b * E + h + i] = (float)cos(a);
        }
}

// ---------------------------------------------------------------- spectral convolution

int nn_spec_dims_set(nn_spec_dims *d, int dims, int H, int W, int my, int mx, eddy_err *e)
{
    if (dims != 1 && dims != 2) return eddy_fail(e, "spectral conv: dims must be 1 or 2");
    if (dims == 1) {
        if (H != 1) return eddy_fail(e, "spectral conv: 1-D fields need H = 1 (got %d)", H);
        my = 1;
    }
    if (W < 1 || H < 1 || mx < 1 || my < 1)
        return eddy_fail(e, "spectral conv: bad grid %dx%d or modes (%d, %d)", H, W, my, mx);
    if (mx > W / 2 + 1)
        return eddy_fail(e, "spectral conv: %d modes along x need at least %d points, grid has %d",
                         mx, 2 * (mx - 1), W);
    if (dims == 2 && 2 * my > H)
        return eddy_fail(e, "spectral conv: %d modes along y need at least %d points, grid has %d",
                         my, 2 * my, H);
    d->dims = dims;
    d->H = H;
    d->W = W;
    d->my = my;
    d->mx = mx;
    d->nm = (dims == 2 ? 2 * my : 1) * mx;
    return 0;
}

static size_t spec_floats(const nn_spec_dims *d, int B, int C)
{
    return (size_t)B * d->H * (d->W / 2 + 1) * C * 2;
}

size_t nn_spec_scratch_floats(const nn_spec_dims *d, int B, int C)
{
    // half spectrum + two mode buffers (nm, B, C) complex
    return spec_floats(d, B, C) + 2 * (size_t)d->nm * B * C * 2;
}

// ---- plan cache: one r2c and one c2r plan per (dims, H, W, C), each doing
// the C channel transforms of ONE batch item (stride C, distance 1), executed
// per item with the new-array interface so the bits never depend on how the
// batch is split among threads.
typedef struct {
    int dims, H, W, C, dir;   // dir 0: r2c, 1: c2r
    fftwf_plan p;
} plan_entry;

enum { MAX_PLANS = 128 };
static plan_entry plans[MAX_PLANS];
static int nplans;

static fftwf_plan get_plan(const nn_spec_dims *d, int C, int dir, eddy_err *e)
{
    fftwf_plan p = NULL;
    fft_plan_lock();
    for (int i = 0; i < nplans; i++)
        if (plans[i].dims == d->dims && plans[i].H == d->H && plans[i].W == d->W &&
            plans[i].C == C && plans[i].dir == dir) {
            p = plans[i].p;
            break;
        }
    if (!p && nplans < MAX_PLANS) {
        int n[2] = {d->H, d->W};
        int rank = d->dims;
        const int *nn = d->dims == 2 ? n : n + 1;
        size_t nr = (size_t)d->H * d->W * C, nc = (size_t)d->H * (d->W / 2 + 1) * C;
        float *r = fftwf_alloc_real(nr);
        fftwf_complex *c = fftwf_alloc_complex(nc);
        if (r && c) {
            unsigned fl = fft_flags() | FFTW_UNALIGNED;
            if (dir == 0)
                p = fftwf_plan_many_dft_r2c(rank, nn, C, r, NULL, C, 1, c, NULL, C, 1, fl);
            else
                p = fftwf_plan_many_dft_c2r(rank, nn, C, c, NULL, C, 1, r, NULL, C, 1,
                                            fl | FFTW_DESTROY_INPUT);
        }
        fftwf_free(r);
        fftwf_free(c);
        if (p) plans[nplans++] = (plan_entry){d->dims, d->H, d->W, C, dir, p};
    }
    fft_plan_unlock();
    if (!p) eddy_fail(e, "spectral conv: cannot plan a %dx%d FFT of %d channels", d->H, d->W, C);
    return p;
}

static inline int mode_row(const nn_spec_dims *d, int r, int i)
{
    return r == 0 ? i : d->H - d->my + i;
}

// Weight of half-spectrum column j in the real inverse transform: interior
// columns stand for themselves and their conjugates, so they count twice.
static inline float col_mult(const nn_spec_dims *d, int j)
{
    return (j == 0 || (d->W % 2 == 0 && j == d->W / 2)) ? 1.0f : 2.0f;
}

// spec (B, H, Wh, C) → modes (nm, B, C), each column j scaled by
// col_mult(j)^pw (pw = 0: plain, 1: ×mult).
static void gather_modes(float *modes, const float *spec, const nn_spec_dims *d, int B, int C,
                         int pw)
{
    int Wh = d->W / 2 + 1;
#pragma omp parallel for collapse(2) schedule(static)
    for (int q = 0; q < d->nm; q++)
        for (int b = 0; b < B; b++) {
            int j = q % d->mx, ri = q / d->mx, r = ri / d->my, i = ri % d->my;
            int row = mode_row(d, r, i);
            float s = pw ? col_mult(d, j) : 1.0f;
            const float *src = spec + (((size_t)b * d->H + row) * Wh + j) * C * 2;
            float *dst = modes + ((size_t)q * B + b) * C * 2;
            for (int c = 0; c < 2 * C; c++) dst[c] = s * src[c];
        }
}

// Projects columns 0 and (if kept) W/2 onto Hermitian symmetry in k_y, so
// that the c2r result is defined by the formula, not by FFTW's algorithm.
static void hermitian_cols(float *sp, const nn_spec_dims *d, int C)
{
    int Wh = d->W / 2 + 1, H = d->H;
    int cols[2] = {0, d->W / 2};
    int ncol = (d->W % 2 == 0 && d->mx - 1 == d->W / 2 && d->W / 2 != 0) ? 2 : 1;
    for (int k = 0; k < ncol; k++) {
        int j = cols[k];
        for (int ky = 0; ky < H; ky++) {
            int p = (H - ky) % H;
            if (p < ky) continue;
            float *a = sp + ((size_t)ky * Wh + j) * C * 2;
            float *bb = sp + ((size_t)p * Wh + j) * C * 2;
            for (int c = 0; c < C; c++) {
                if (p == ky) {
                    a[2 * c + 1] = 0.0f;
                } else {
                    float re = 0.5f * (a[2 * c] + bb[2 * c]);
                    float im = 0.5f * (a[2 * c + 1] - bb[2 * c + 1]);
                    a[2 * c] = re;
                    a[2 * c + 1] = im;
                    bb[2 * c] = re;
                    bb[2 * c + 1] = -im;
                }
            }
        }
    }
}

// modes (nm, B, C) → spec (B, H, Wh, C), zero elsewhere, column j divided by
// col_mult(j) when div, then Hermitian projection of the real-axis columns.
static void scatter_modes(float *spec, const float *modes, const nn_spec_dims *d, int B, int C,
                          int div)
{
    int Wh = d->W / 2 + 1, H = d->H;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *sb = spec + (size_t)b * H * Wh * C * 2;
        for (int row = 0; row < H; row++) {
            int r, i;
            if (row < d->my) { r = 0; i = row; }
            else if (d->dims == 2 && row >= H - d->my) { r = 1; i = row - (H - d->my); }
            else { memset(sb + (size_t)row * Wh * C * 2, 0, (size_t)Wh * C * 2 * sizeof(float)); continue; }
            float *sr = sb + (size_t)row * Wh * C * 2;
            for (int j = 0; j < d->mx; j++) {
                int q = (r * d->my + i) * d->mx + j;
                const float *src = modes + ((size_t)q * B + b) * C * 2;
                float s = div ? 1.0f / col_mult(d, j) : 1.0f;
                for (int c = 0; c < 2 * C; c++) sr[(size_t)j * C * 2 + c] = s * src[c];
            }
            memset(sr + (size_t)d->mx * C * 2, 0, (size_t)(Wh - d->mx) * C * 2 * sizeof(float));
        }
        hermitian_cols(sb, d, C);
    }
}

// out_q (B, N) = alpha · op(A_q) · op(W_q) for every mode q, one small
// complex GEMM each, modes spread over OpenMP threads (OpenBLAS kept to one
// thread inside so neither oversubscribes and the bits are thread-count-free).
static void mix_modes(float *out, const float *a, const float *w, int nm, int B, int cin,
                      int cout, int which, float alpha)
{
    int nb = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const float al[2] = {alpha, 0.0f}, zero[2] = {0.0f, 0.0f};
#pragma omp parallel for schedule(static)
    for (int q = 0; q < nm; q++) {
        const float *wq = w + (size_t)q * cin * cout * 2;
        if (which == 0) {
            // y (B, cout) = x (B, cin) · W (cin, cout)
            cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, cout, cin, al,
                        a + (size_t)q * B * cin * 2, cin, wq, cout, zero,
                        out + (size_t)q * B * cout * 2, cout);
        } else if (which == 1) {
            // dx (B, cin) = dy (B, cout) · Wᴴ (cout, cin);  a = dy
            cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasConjTrans, B, cin, cout, al,
                        a + (size_t)q * B * cout * 2, cout, wq, cout, zero,
                        out + (size_t)q * B * cin * 2, cin);
        }
    }
    openblas_set_num_threads(nb);
}

// dW_q (cin, cout) += alpha · xk_qᴴ (cin, B) · dy_q (B, cout)
static void mix_modes_dw(float *dw, const float *xk, const float *dyk, int nm, int B, int cin,
                         int cout, float alpha)
{
    int nb = openblas_get_num_threads();
    openblas_set_num_threads(1);
    const float al[2] = {alpha, 0.0f}, one[2] = {1.0f, 0.0f};
#pragma omp parallel for schedule(static)
    for (int q = 0; q < nm; q++)
        cblas_cgemm(CblasRowMajor, CblasConjTrans, CblasNoTrans, cin, cout, B, al,
                    xk + (size_t)q * B * cin * 2, cin, dyk + (size_t)q * B * cout * 2, cout, one,
                    dw + (size_t)q * cin * cout * 2, cout);
    openblas_set_num_threads(nb);
}

static void fft_batch(fftwf_plan p, int dir, const float *in, float *out, int B, size_t in_stride,
                      size_t out_stride)
{
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        if (dir == 0)
            fftwf_execute_dft_r2c(p, (float *)in + b * in_stride,
                                  (fftwf_complex *)(out + b * out_stride));
        else
            fftwf_execute_dft_c2r(p, (fftwf_complex *)(in + b * in_stride), out + b * out_stride);
    }
}

int nn_spec_forward(float *y, float *xk, const float *x, const float *w, float *spec,
                    const nn_spec_dims *d, int B, int cin, int cout, eddy_err *e)
{
    fftwf_plan pf = get_plan(d, cin, 0, e), pb = get_plan(d, cout, 1, e);
    if (!pf || !pb) return -1;
    size_t HW = (size_t)d->H * d->W, HWh = (size_t)d->H * (d->W / 2 + 1);
    int cmax = cin > cout ? cin : cout;
    float *yk = spec + spec_floats(d, B, cmax);
    float alpha = 1.0f / (float)HW;
    fft_batch(pf, 0, x, spec, B, HW * cin, HWh * cin * 2);
    gather_modes(xk, spec, d, B, cin, 0);
    mix_modes(yk, xk, w, d->nm, B, cin, cout, 0, alpha);
    scatter_modes(spec, yk, d, B, cout, 0);
    fft_batch(pb, 1, spec, y, B, HWh * cout * 2, HW * cout);
    return 0;
}

int nn_spec_backward(float *dx, float *dw, const float *dy, const float *xk, const float *w,
                     float *spec, float *rbuf, const nn_spec_dims *d, int B, int cin, int cout,
                     eddy_err *e)
{
    fftwf_plan pf = get_plan(d, cout, 0, e), pb = get_plan(d, cin, 1, e);
    if (!pf || !pb) return -1;
    size_t HW = (size_t)d->H * d->W, HWh = (size_t)d->H * (d->W / 2 + 1);
    int cmax = cin > cout ? cin : cout;
    float *dyk = spec + spec_floats(d, B, cmax);
    float *dxk = dyk + (size_t)d->nm * B * cmax * 2;
    float alpha = 1.0f / (float)HW;
    // Adjoint of y = c2r(Ŷ)/N restricted to kept modes: the r2c of dy with
    // interior columns doubled (they stand for their conjugate partners too).
    fft_batch(pf, 0, dy, spec, B, HW * cout, HWh * cout * 2);
    gather_modes(dyk, spec, d, B, cout, 1);
    if (dw) mix_modes_dw(dw, xk, dyk, d->nm, B, cin, cout, alpha);
    if (dx) {
        mix_modes(dxk, dyk, w, d->nm, B, cin, cout, 1, alpha);
        // Adjoint of the kept part of r2c: Re Σ_k dX̂_k e^{+ikx} = c2r(dX̂ / mult).
        scatter_modes(spec, dxk, d, B, cin, 1);
        fft_batch(pb, 1, spec, rbuf, B, HWh * cin * 2, HW * cin);
        size_t n = (size_t)B * HW * cin;
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) dx[i] += rbuf[i];
    }
    return 0;
}
