#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fno.h"

// ---------------------------------------------------------------- linear

// Threads: OpenMP only.  OpenBLAS is held to one thread inside every layer
// and the big products are split by OpenMP into fixed blocks of rows: two
// thread pools (GOMP's and OpenBLAS's, both spin-waiting) on two cores would
// fight each other, and fixed blocks keep the bits free of the thread count.
static int blas_single(void)
{
    int nb = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return nb;
}

enum { ROWBLK = 4096 };

// A narrow output (the last projection layer, often 1 channel) makes a GEMM
// with N ≤ 4 that OpenBLAS runs ~5× below its speed: dot products instead,
// in 16 fixed partial sums (vectorised, and the same order on any thread).
enum { SMALL_OUT = 4, LANES = 16 };

static void narrow_rows(float *out, int ldo, const float *in, int ldi, const float *w,
                        const float *b, size_t nr, int cin, int cout, int accumulate)
{
    int cv = cin / LANES * LANES;
    for (size_t i = 0; i < nr; i++) {
        const float *x = in + i * (size_t)ldi;
        for (int o = 0; o < cout; o++) {
            const float *wo = w + (size_t)o * cin;
            float acc[LANES] = {0};
            for (int c = 0; c < cv; c += LANES)
                for (int j = 0; j < LANES; j++) acc[j] += x[c + j] * wo[c + j];
            float s = 0.0f;
            for (int j = 0; j < LANES; j++) s += acc[j];
            for (int c = cv; c < cin; c++) s += x[c] * wo[c];
            float *y = out + i * (size_t)ldo + o;
            *y = (accumulate ? *y : 0.0f) + (b ? b[o] : 0.0f) + s;
        }
    }
}

void nn_linear_forward(float *out, int ldo, const float *in, int ldi, const float *w,
                       const float *b, size_t N, int cin, int cout, int accumulate)
{
    int nb = blas_single();
    size_t nblk = (N + ROWBLK - 1) / ROWBLK;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nblk; k++) {
        size_t r0 = k * ROWBLK, nr = N - r0 < ROWBLK ? N - r0 : ROWBLK;
        float *o = out + r0 * (size_t)ldo;
        if (cout <= SMALL_OUT) {
            narrow_rows(o, ldo, in + r0 * (size_t)ldi, ldi, w, b, nr, cin, cout, accumulate);
            continue;
        }
        float beta = accumulate ? 1.0f : 0.0f;
        if (b && !accumulate) {
            // filling the bias first lets the GEMM add onto it
            for (size_t i = 0; i < nr; i++)
                for (int c = 0; c < cout; c++) o[i * (size_t)ldo + c] = b[c];
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, cout, cin, 1.0f,
                    in + r0 * (size_t)ldi, ldi, w, cin, beta, o, ldo);
        if (b && accumulate)
            for (size_t i = 0; i < nr; i++)
                for (int c = 0; c < cout; c++) o[i * (size_t)ldo + c] += b[c];
    }
    openblas_set_num_threads(nb);
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
    int nb = blas_single();
    size_t nblk = (N + ROWBLK - 1) / ROWBLK, nw = (size_t)cout * cin;
    // dW = Σ_blocks doutᵀ·in: one partial per block, summed in block order
    float *part = dw && nblk > 1 ? malloc(nblk * nw * sizeof(float)) : NULL;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nblk; k++) {
        size_t r0 = k * ROWBLK, nr = N - r0 < ROWBLK ? N - r0 : ROWBLK;
        const float *g = dout + r0 * (size_t)lddo;
        if (din && cout <= SMALL_OUT) {   // outer products, as for the forward
            for (size_t i = 0; i < nr; i++) {
                float *dx = din + (r0 + i) * (size_t)lddi;
                for (int o = 0; o < cout; o++) {
                    float go = g[i * (size_t)lddo + o];
                    const float *wo = w + (size_t)o * cin;
                    for (int c = 0; c < cin; c++) dx[c] += go * wo[c];
                }
            }
        } else if (din) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nr, cin, cout, 1.0f, g,
                        lddo, w, cin, 1.0f, din + r0 * (size_t)lddi, lddi);
        }
        if (part)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, cin, (int)nr, 1.0f, g, lddo,
                        in + r0 * (size_t)ldi, ldi, 0.0f, part + k * nw, cin);
    }
    if (part) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            float s = 0.0f;
            for (size_t k = 0; k < nblk; k++) s += part[k * nw + i];
            dw[i] += s;
        }
        free(part);
    } else if (dw) {
        // one block, or no memory for the partials: one product, in order
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cout, cin, (int)N, 1.0f, dout, lddo,
                    in, ldi, 1.0f, dw, cin);
    }
    if (db) colsum_add(db, dout, lddo, N, cout);
    openblas_set_num_threads(nb);
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
// The element-wise kernels are compute-bound (a rational erf, exp): full
// 512-bit vectors where the CPU has them (gcc's -march=native default is 256).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define WIDE __attribute__((target("prefer-vector-width=512"), noinline))
#else
#define WIDE
#endif

static inline float gelu1(float x) { return 0.5f * x * (1.0f + verff(x * INV_SQRT2)); }
static inline float silu1(float x) { return x / (1.0f + vexpf(-x)); }

WIDE static void gelu_fwd(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = gelu1(in[i]);
}

WIDE static void silu_fwd(float *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = silu1(in[i]);
}

// acc = 1: din += dout·act'(in);  acc = 0: din = dout·act'(in) (saves the
// caller a zeroing pass).  The branch is hoisted out of the loop by the compiler.
WIDE static void gelu_bwd(float *restrict din, const float *restrict dout, const float *restrict in,
                     size_t n, int acc)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float d = 0.5f * (1.0f + verff(x * INV_SQRT2)) + x * INV_SQRT2PI * vexpf(-0.5f * x * x);
        din[i] = (acc ? din[i] : 0.0f) + dout[i] * d;
    }
}

WIDE static void silu_bwd(float *restrict din, const float *restrict dout, const float *restrict in,
                     size_t n, int acc)
{
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float s = 1.0f / (1.0f + vexpf(-x));
        din[i] = (acc ? din[i] : 0.0f) + dout[i] * s * (1.0f + x * (1.0f - s));
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

void nn_act_backward(float *din, const float *dout, const float *in, size_t n, int act,
                     int accumulate)
{
    size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nc; k++) {
        size_t len = (k + 1) * CHUNK <= n ? CHUNK : n - k * CHUNK, o = k * CHUNK;
        if (act == FNO_GELU) gelu_bwd(din + o, dout + o, in + o, len, accumulate);
        else silu_bwd(din + o, dout + o, in + o, len, accumulate);
    }
}

void nn_linear_act_forward(float *pre, float *out, const float *in, int ldi, const float *w,
                           const float *b, size_t N, int cin, int cout, int accumulate, int act)
{
    int nb = blas_single();
    // blocks of ~128 KB per array, so the activation reads pre from cache
    size_t blk = 32768 / (size_t)cout < 16 ? 16 : 32768 / (size_t)cout;
    size_t nblk = (N + blk - 1) / blk;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nblk; k++) {
        size_t r0 = k * blk, nr = N - r0 < blk ? N - r0 : blk;
        float *p = pre + r0 * (size_t)cout, *o = out + r0 * (size_t)cout;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, cout, cin, 1.0f,
                    in + r0 * (size_t)ldi, ldi, w, cin, accumulate ? 1.0f : 0.0f, p, cout);
        if (b)
            for (size_t i = 0; i < nr; i++)
                for (int c = 0; c < cout; c++) p[i * (size_t)cout + c] += b[c];
        if (act == FNO_GELU) gelu_fwd(o, p, nr * (size_t)cout);
        else silu_fwd(o, p, nr * (size_t)cout);
    }
    openblas_set_num_threads(nb);
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

// Intermediate of the two-axis transform: (B, H, 2·mx + 1, C) real, rows
// (kx, re/im) and one spare row that carries the bias into the last product.
static size_t t1_floats(const nn_spec_dims *d, int B, int C)
{
    return (size_t)B * d->H * (2 * d->mx + 1) * C;
}

// Per-thread scratch (floats, a multiple of 16 so each slice stays 64-byte
// aligned): the folded rows and P/Q or S/T rows of one item (2-D), or one
// mode's real matrix.
static size_t tls_floats(const nn_spec_dims *d, int C)
{
    size_t a = d->dims == 2 ? (size_t)(2 * (d->my + 1) + d->H) * 2 * d->mx * C : 0;
    size_t b = (size_t)4 * C * C;
    return ((a > b ? a : b) + 15) / 16 * 16;
}

size_t nn_spec_scratch_floats(const nn_spec_dims *d, int B, int C)
{
    // intermediate + two mode buffers (B, nm, 2, C) + one slice per thread
    return t1_floats(d, B, C) + 2 * (size_t)d->nm * B * C * 2 +
           (size_t)omp_get_max_threads() * tls_floats(d, C) + 16;
}

// ---- truncated DFT by matrix products.  Only 2·my × mx of the H × (W/2+1)
// half-spectrum modes are kept, and at these sizes (W ≈ 40..128, C ≈ 32..128)
// a DFT written as a GEMM against a small twiddle matrix runs at BLAS speed
// (~80–120 GFLOP/s) while FFTW's strided batched transforms manage a few
// GFLOP/s on channels-last data: measured 3–5× faster for the whole layer.
// Complex numbers are SPLIT, not interleaved: a mode of C channels is C real
// parts then C imaginary parts, which is what a real GEMM against the
// (cos, −sin) rows produces, so no reshuffling pass is ever needed.
// Axis x (last, real data) first: for each row (b, y), a real GEMM
//     X1[b, y] (2mx, C) = F (2mx, W) · x[b, y] (W, C),   rows (kx, re/im),
// then axis y (complex) for each item b, by one real GEMM (see dft_forward):
//     X[b] (nr, 2mx·C) from X1[b] (H, 2mx·C),   nr = 2my (2-D) or 1.
// The inverse runs the mirror image.  Kept modes are stored (B, nr, mx, 2, C),
// mode q = row·mx + kx with rows ordered {0..my−1, −my..−1}.  The mode
// mixing is a real GEMM per mode against [[Wr, Wi], [−Wi, Wr]].
// Every item and row is one fixed BLAS call on one thread, so the bits do not
// depend on how OpenMP splits the batch.

enum { DFT_FX, DFT_FX_MULT, DFT_IX, DFT_IX_MULT, DFT_FY, DFT_IY };

typedef struct {
    int kind, n, m;
    float *mat;
} dft_entry;

enum { MAX_DFT = 128 };
static dft_entry dfts[MAX_DFT];
static int ndft;
static pthread_mutex_t dft_mutex = PTHREAD_MUTEX_INITIALIZER;

// Weight of half-spectrum column j in the real inverse transform: interior
// columns stand for themselves and their conjugates, so they count twice.
static inline double col_mult(int W, int j)
{
    return (j == 0 || (W % 2 == 0 && j == W / 2)) ? 1.0 : 2.0;
}

// Twiddle e^{sign·2πi·k·n/N} with k·n reduced mod N first, so large
// products do not lose the angle's accuracy.
static void twiddle(double *c, double *s, long k, long n, int N)
{
    long r = ((k * n) % N + N) % N;
    double a = 2.0 * M_PI * (double)r / N;
    *c = cos(a);
    *s = sin(a);
}

// The matrix of a kind for length n (W or H) and m modes (mx or my):
//   FX (2m, n):  rows (kx, re/im) = (cos, −sin)(2π kx x/n) [× mult(kx) for FX_MULT]
//   IX (n, 2m+1): (x, (kx, re/im)) = (cos, −sin)(2π kx x/n) [× mult(kx) for IX_MULT],
//                 last column 1: a bias row appended to the data adds the bias for free
//   FY: (m+1, ns) cos(2π k y/n), y = 0..ns−1, then (m+1, nd) sin(2π k y/n),
//       y = 1..nd, with ns = n/2 + 1, nd = (n−1)/2 (the folded halves)
//   IY: (ns, m+1) cos, then (nd, m+1) sin: the transposes.
// All real: along y the data are complex, but the rows ±k share cos and sin,
// so a real GEMM on both parts gives both rows, and folding y with n − y
// (cos even, sin odd) halves the work again (see dft_forward).
static const float *dft_matrix(int kind, int n, int m)
{
    const float *mat = NULL;
    pthread_mutex_lock(&dft_mutex);
    for (int i = 0; i < ndft; i++)
        if (dfts[i].kind == kind && dfts[i].n == n && dfts[i].m == m) {
            mat = dfts[i].mat;
            break;
        }
    if (!mat && ndft < MAX_DFT) {
        int ny = (kind == DFT_FY || kind == DFT_IY);
        int nk = ny ? m + 1 : m;   // frequencies 0..m (y) or 0..m−1 (x)
        int ix = (kind == DFT_IX || kind == DFT_IX_MULT);
        int ns = n / 2 + 1, nd = (n - 1) / 2;
        size_t cnt = ny ? (size_t)nk * n : (size_t)(2 * nk + ix) * n;
        float *a = aligned_alloc(64, (cnt * sizeof(float) + 63) / 64 * 64);
        if (a) {
            for (int k = 0; k < nk; k++)
                for (int x = 0; x < n; x++) {
                    double c, s;
                    twiddle(&c, &s, k, x, n);
                    if (kind == DFT_FY) {
                        if (x < ns) a[(size_t)k * ns + x] = (float)c;
                        if (x >= 1 && x <= nd) a[(size_t)nk * ns + (size_t)k * nd + x - 1] = (float)s;
                    } else if (kind == DFT_IY) {
                        if (x < ns) a[(size_t)x * nk + k] = (float)c;
                        if (x >= 1 && x <= nd) a[(size_t)nk * ns + (size_t)(x - 1) * nk + k] = (float)s;
                    } else {
                        double w = (kind == DFT_FX_MULT || kind == DFT_IX_MULT) ? col_mult(n, k) : 1.0;
                        if (kind == DFT_FX || kind == DFT_FX_MULT) {
                            a[(size_t)(2 * k) * n + x] = (float)(w * c);
                            a[(size_t)(2 * k + 1) * n + x] = (float)(-w * s);
                        } else {
                            a[(size_t)x * (2 * m + 1) + 2 * k] = (float)(w * c);
                            a[(size_t)x * (2 * m + 1) + 2 * k + 1] = (float)(-w * s);
                            a[(size_t)x * (2 * m + 1) + 2 * m] = 1.0f;
                        }
                    }
                }
            dfts[ndft++] = (dft_entry){kind, n, m, a};
            mat = a;
        }
    }
    pthread_mutex_unlock(&dft_mutex);
    return mat;
}

static int nrows(const nn_spec_dims *d) { return d->dims == 2 ? 2 * d->my : 1; }

// x (B, H, W, C) real → X (B, nr, mx, 2, C); t1 scratch (t1_floats), tls
// the per-thread slices of tls_floats(d, C) floats each.
// mult: weight column kx by col_mult (the adjoint of the inverse).
// Returns −1 when a transform matrix cannot be allocated.
static int dft_forward(float *X, const float *x, const nn_spec_dims *d, int B, int C, int mult,
                       float *t1, float *tls)
{
    int H = d->H, W = d->W, mx = d->mx, nr = nrows(d);
    const float *F = dft_matrix(mult ? DFT_FX_MULT : DFT_FX, W, mx);
    const float *G = d->dims == 2 ? dft_matrix(DFT_FY, H, d->my) : NULL;
    if (!F || (d->dims == 2 && !G)) return -1;
    float *X1 = d->dims == 2 ? t1 : X;   // (B, H, mx, 2, C)
    size_t rowf = (size_t)2 * mx * C;    // floats per (b, y) row of X1 and per mode row of X
#pragma omp parallel for schedule(static)
    for (int r = 0; r < B * H; r++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2 * mx, C, W, 1.0f, F, W,
                    x + (size_t)r * W * C, C, 0.0f, X1 + (size_t)r * rowf, C);
    if (d->dims == 1) return 0;
    // P = Σ_y cos·X1, Q = Σ_y sin·X1 (k = 0..my) by real GEMMs on both parts,
    // after folding y with H − y: P from the sums, Q from the differences.
    // Then X[k] = P − iQ and X[−k] = P + iQ.
    int my = d->my, nk = my + 1, ns = H / 2 + 1, nd = (H - 1) / 2;
    size_t per = tls_floats(d, C);
#pragma omp parallel
    {
        float *fs = tls + (size_t)omp_get_thread_num() * per;   // (ns + nd, rowf) folded
        float *pq = fs + (size_t)H * rowf;                       // (2 nk, rowf)
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            const float *x1 = X1 + (size_t)b * H * rowf;
            memcpy(fs, x1, rowf * sizeof(float));
            if (H % 2 == 0) memcpy(fs + (size_t)(H / 2) * rowf, x1 + (size_t)(H / 2) * rowf, rowf * sizeof(float));
            for (int y = 1; y <= nd; y++) {
                const float *restrict u = x1 + (size_t)y * rowf, *restrict v = x1 + (size_t)(H - y) * rowf;
                float *restrict sp = fs + (size_t)y * rowf, *restrict dp = fs + (size_t)(ns + y - 1) * rowf;
                for (size_t i = 0; i < rowf; i++) {
                    sp[i] = u[i] + v[i];
                    dp[i] = u[i] - v[i];
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nk, (int)rowf, ns, 1.0f, G, ns,
                        fs, (int)rowf, 0.0f, pq, (int)rowf);
            if (nd > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nk, (int)rowf, nd, 1.0f,
                            G + (size_t)nk * ns, nd, fs + (size_t)ns * rowf, (int)rowf, 0.0f,
                            pq + (size_t)nk * rowf, (int)rowf);
            else
                memset(pq + (size_t)nk * rowf, 0, (size_t)nk * rowf * sizeof(float));
            float *Xb = X + (size_t)b * nr * rowf;
            for (int r = 0; r < nr; r++) {
                int k = r < my ? r : nr - r;
                float sg = r < my ? 1.0f : -1.0f;
                for (int j = 0; j < mx; j++) {
                    size_t o = (size_t)2 * j * C;
                    const float *restrict Pr = pq + (size_t)k * rowf + o, *restrict Pi = Pr + C;
                    const float *restrict Qr = pq + (size_t)(nk + k) * rowf + o, *restrict Qi = Qr + C;
                    float *restrict Or = Xb + (size_t)r * rowf + o, *restrict Oi = Or + C;
                    for (int c = 0; c < C; c++) {
                        Or[c] = Pr[c] + sg * Qi[c];
                        Oi[c] = Pi[c] - sg * Qr[c];
                    }
                }
            }
        }
    }
    return 0;
}

// X (B, nr, mx, 2, C) → y (B, H, W, C) = beta·y + Σ_k w_k Re(X_k e^{+iθ}) + bias
// with w_k = col_mult(kx) (mult) or 1 (the adjoint of the forward); bias (C)
// may be NULL.  t1 scratch as above.
static int dft_inverse(float *y, float beta, const float *bias, const float *X,
                       const nn_spec_dims *d, int B, int C, int mult, float *t1, float *tls)
{
    int H = d->H, W = d->W, mx = d->mx, nr = nrows(d);
    const float *F = dft_matrix(mult ? DFT_IX_MULT : DFT_IX, W, mx);
    const float *G = d->dims == 2 ? dft_matrix(DFT_IY, H, d->my) : NULL;
    if (!F || (d->dims == 2 && !G)) return -1;
    size_t rowf = (size_t)2 * mx * C, ld1 = rowf + C;   // t1 rows carry the spare bias row
    if (d->dims == 1) {
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) memcpy(t1 + b * ld1, X + b * rowf, rowf * sizeof(float));
    } else {
        // Pair the rows ±k: e^{+iθ}X[k] + e^{−iθ}X[−k] = cos·S_k + sin·T_k with
        // S = X[k] + X[−k], T = i(X[k] − X[−k]) (absent rows count as 0); then
        // E = Σ cos·S for y ≤ H/2 and O = Σ sin·T for 1 ≤ y ≤ (H−1)/2 by real
        // GEMMs on both parts, and t1[y] = E + O, t1[H − y] = E − O.
        int my = d->my, nk = my + 1, ns = H / 2 + 1, nd = (H - 1) / 2;
        size_t per = tls_floats(d, C);
#pragma omp parallel
        {
            float *st = tls + (size_t)omp_get_thread_num() * per;   // (2 nk, rowf)
            float *eo = st + (size_t)2 * nk * rowf;                   // (ns + nd, rowf)
#pragma omp for schedule(static)
            for (int b = 0; b < B; b++) {
                const float *Xb = X + (size_t)b * nr * rowf;
                for (int k = 0; k < nk; k++) {
                    // absent rows (X[+my], X[−0]) read as zero through a 0 factor on a real row
                    float fp = k < my ? 1.0f : 0.0f, fm = k > 0 ? 1.0f : 0.0f;
                    const float *zp = Xb + (size_t)(k < my ? k : 0) * rowf;
                    const float *zm = Xb + (size_t)(k > 0 ? nr - k : 0) * rowf;
                    for (int j = 0; j < mx; j++) {
                        size_t o = (size_t)2 * j * C;
                        const float *restrict pr = zp + o, *restrict pi = pr + C;
                        const float *restrict mr = zm + o, *restrict mi = mr + C;
                        float *restrict Sr = st + (size_t)k * rowf + o, *restrict Si = Sr + C;
                        float *restrict Tr = st + (size_t)(nk + k) * rowf + o, *restrict Ti = Tr + C;
                        for (int c = 0; c < C; c++) {
                            float ar = fp * pr[c], ai = fp * pi[c], br = fm * mr[c], bi = fm * mi[c];
                            Sr[c] = ar + br;
                            Si[c] = ai + bi;
                            Tr[c] = bi - ai;
                            Ti[c] = ar - br;
                        }
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ns, (int)rowf, nk, 1.0f, G,
                            nk, st, (int)rowf, 0.0f, eo, (int)rowf);
                if (nd > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nd, (int)rowf, nk, 1.0f,
                                G + (size_t)nk * ns, nk, st + (size_t)nk * rowf, (int)rowf, 0.0f,
                                eo + (size_t)ns * rowf, (int)rowf);
                float *tb = t1 + (size_t)b * H * ld1;
                memcpy(tb, eo, rowf * sizeof(float));
                if (H % 2 == 0)
                    memcpy(tb + (size_t)(H / 2) * ld1, eo + (size_t)(H / 2) * rowf, rowf * sizeof(float));
                for (int y = 1; y <= nd; y++) {
                    const float *restrict e = eo + (size_t)y * rowf, *restrict od = eo + (size_t)(ns + y - 1) * rowf;
                    float *restrict lo = tb + (size_t)y * ld1, *restrict hi = tb + (size_t)(H - y) * ld1;
                    for (size_t i = 0; i < rowf; i++) {
                        lo[i] = e[i] + od[i];
                        hi[i] = e[i] - od[i];
                    }
                }
            }
        }
    }
#pragma omp parallel for schedule(static)
    for (int r = 0; r < B * H; r++) {
        float *t = t1 + (size_t)r * ld1;
        if (bias) memcpy(t + rowf, bias, (size_t)C * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, W, C, 2 * mx + (bias != NULL), 1.0f,
                    F, 2 * mx + 1, t, C, beta, y + (size_t)r * W * C, C);
    }
    return 0;
}

// The real (2cin, 2cout) matrix [[Wr, Wi], [−Wi, Wr]] of complex W (cin, cout):
// [xr | xi] · it = [Re(x·W) | Im(x·W)].
static void wbig(float *restrict o, const float *restrict w, int cin, int cout)
{
    size_t ld = (size_t)2 * cout;
    for (int i = 0; i < cin; i++) {
        const float *wr = w + (size_t)i * cout * 2;
        float *a = o + i * ld, *b = o + (cin + i) * ld;
        for (int j = 0; j < cout; j++) {
            float re = wr[2 * j], im = wr[2 * j + 1];
            a[j] = re;
            a[cout + j] = im;
            b[j] = -im;
            b[cout + j] = re;
        }
    }
}

// Mode mixing on the (B, nm, 2, ·) arrays, one real GEMM per mode, modes
// spread over OpenMP threads.  which 0: y_q (B, cout) = alpha · x_q · W_q;
// which 1: dx_q (B, cin) = alpha · dy_q · W_qᴴ  (a = dy).
static void mix_modes(float *out, const float *a, const float *w, int nm, int B, int cin,
                      int cout, int which, float alpha, float *tls, size_t per)
{
    size_t lx = (size_t)nm * 2 * cin, ly = (size_t)nm * 2 * cout;
#pragma omp parallel
    {
        float *wb = tls + (size_t)omp_get_thread_num() * per;
#pragma omp for schedule(static)
        for (int q = 0; q < nm; q++) {
            wbig(wb, w + (size_t)q * cin * cout * 2, cin, cout);
            if (which == 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, 2 * cout, 2 * cin, alpha,
                            a + (size_t)q * 2 * cin, (int)lx, wb, 2 * cout, 0.0f,
                            out + (size_t)q * 2 * cout, (int)ly);
            else   // [dyr | dyi] · [[Wr, Wi], [−Wi, Wr]]ᵀ = [Re(dy·Wᴴ) | Im(dy·Wᴴ)]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, 2 * cin, 2 * cout, alpha,
                            a + (size_t)q * 2 * cout, (int)ly, wb, 2 * cout, 0.0f,
                            out + (size_t)q * 2 * cin, (int)lx);
        }
    }
}

// dW_q (cin, cout) += alpha · xk_qᴴ · dy_q: from G = [xr | xi]ᵀ · [dyr | dyi],
// Re = G_rr + G_ii, Im = G_ri − G_ir.
static void mix_modes_dw(float *dw, const float *xk, const float *dyk, int nm, int B, int cin,
                         int cout, float alpha, float *tls, size_t per)
{
    size_t lx = (size_t)nm * 2 * cin, ly = (size_t)nm * 2 * cout, lg = (size_t)2 * cout;
#pragma omp parallel
    {
        float *g = tls + (size_t)omp_get_thread_num() * per;
#pragma omp for schedule(static)
        for (int q = 0; q < nm; q++) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 2 * cin, 2 * cout, B, alpha,
                        xk + (size_t)q * 2 * cin, (int)lx, dyk + (size_t)q * 2 * cout, (int)ly,
                        0.0f, g, (int)lg);
            float *dq = dw + (size_t)q * cin * cout * 2;
            for (int i = 0; i < cin; i++) {
                const float *gr = g + i * lg, *gi = g + (cin + i) * lg;
                float *o = dq + (size_t)i * cout * 2;
                for (int j = 0; j < cout; j++) {
                    o[2 * j] += gr[j] + gi[cout + j];
                    o[2 * j + 1] += gr[cout + j] - gi[j];
                }
            }
        }
    }
}

// The parts of the scratch: t1, two mode buffers, the per-thread slices.
// Fails when spec (nspec floats) is too small for the current thread count.
static int spec_parts(const nn_spec_dims *d, int B, int C, float *spec, size_t nspec, float **m1,
                      float **m2, float **tls, eddy_err *e)
{
    if (nspec < nn_spec_scratch_floats(d, B, C))
        return eddy_fail(e, "spectral conv: scratch of %zu floats, %zu needed", nspec,
                         nn_spec_scratch_floats(d, B, C));
    *m1 = spec + t1_floats(d, B, C);
    *m2 = *m1 + (size_t)d->nm * B * C * 2;
    float *t = *m2 + (size_t)d->nm * B * C * 2;
    *tls = t + (64 - (uintptr_t)t % 64) % 64 / sizeof(float);   // spec is float-aligned
    return 0;
}

int nn_spec_forward(float *y, int accumulate, const float *bias, float *xk, const float *x,
                    const float *w, float *spec, size_t nspec, const nn_spec_dims *d, int B,
                    int cin, int cout, eddy_err *e)
{
    int cmax = cin > cout ? cin : cout;
    float *yk = NULL, *unused = NULL, *tls = NULL;
    if (spec_parts(d, B, cmax, spec, nspec, &yk, &unused, &tls, e)) return -1;
    int nb = blas_single();
    int rc = dft_forward(xk, x, d, B, cin, 0, spec, tls);
    if (!rc) {
        mix_modes(yk, xk, w, d->nm, B, cin, cout, 0, 1.0f / ((float)d->H * d->W), tls,
                  tls_floats(d, cmax));
        rc = dft_inverse(y, accumulate ? 1.0f : 0.0f, bias, yk, d, B, cout, 1, spec, tls);
    }
    openblas_set_num_threads(nb);
    return rc ? eddy_fail(e, "spectral conv: out of memory") : 0;
}

int nn_spec_backward(float *dx, int accumulate, float *dw, const float *dy, const float *xk,
                     const float *w, float *spec, size_t nspec, const nn_spec_dims *d, int B,
                     int cin, int cout, eddy_err *e)
{
    int cmax = cin > cout ? cin : cout;
    float *dyk = NULL, *dxk = NULL, *tls = NULL;
    if (spec_parts(d, B, cmax, spec, nspec, &dyk, &dxk, &tls, e)) return -1;
    size_t per = tls_floats(d, cmax);
    float alpha = 1.0f / ((float)d->H * d->W);
    int nb = blas_single();
    // Adjoint of y = Σ mult·Re(Y e^{+iθ})/N restricted to kept modes: the
    // forward DFT of dy with interior columns doubled.
    int rc = dft_forward(dyk, dy, d, B, cout, 1, spec, tls);
    if (!rc && dw) mix_modes_dw(dw, xk, dyk, d->nm, B, cin, cout, alpha, tls, per);
    if (!rc && dx) {
        mix_modes(dxk, dyk, w, d->nm, B, cin, cout, 1, alpha, tls, per);
        // Adjoint of the kept forward DFT: Re Σ_k dX̂_k e^{+iθ}, into or onto dx.
        rc = dft_inverse(dx, accumulate ? 1.0f : 0.0f, NULL, dxk, d, B, cin, 0, spec, tls);
    }
    openblas_set_num_threads(nb);
    return rc ? eddy_fail(e, "spectral conv: out of memory") : 0;
}
