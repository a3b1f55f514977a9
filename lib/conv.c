#include "conv.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

// OpenBLAS is held to one thread inside the layers (lib/nn.c says why).
static int blas_single(void)
{
    int nb = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return nb;
}

// im2col buffers of about 2 MB per chunk: large enough for GEMMs near their
// speed, small enough for the gather and the product to share the cache; and
// at least MIN_CHUNKS chunks when the batch allows, so that two threads have
// work on the coarse levels too (one chunk held the whole batch there; more
// chunks made single-thread GEMMs ~9 % slower).  The count is fixed by the
// shape, not the threads.
enum { COL_TARGET = 1 << 19, MAX_GROUPS = 8, MIN_CHUNKS = 2 };

int conv_dims_set(conv_dims *d, int dims, int B, int H, int W, int cin, int cout, int stride,
                  int transposed, eddy_err *e)
{
    if (dims != 1 && dims != 2) return eddy_fail(e, "conv: dims must be 1 or 2, not %d", dims);
    if (dims == 1 && H != 1) return eddy_fail(e, "conv: 1-D fields need H = 1 (got %d)", H);
    if (B < 1 || H < 1 || W < 1) return eddy_fail(e, "conv: bad shape B %d, grid %dx%d", B, H, W);
    if (cin < 1 || cout < 1) return eddy_fail(e, "conv: channels %d → %d must be positive", cin, cout);
    if (stride != 1 && stride != 2) return eddy_fail(e, "conv: stride %d is not 1 or 2", stride);
    if (transposed && stride != 2) return eddy_fail(e, "conv: a transposed conv has stride 2");
    if (!transposed && stride == 2 && (W % 2 || (dims == 2 && H % 2)))
        return eddy_fail(e, "conv: a stride-2 conv halves the grid: %dx%d is not even", H, W);
    d->dims = dims;
    d->B = B;
    d->H = H;
    d->W = W;
    d->cin = cin;
    d->cout = cout;
    d->stride = stride;
    d->transposed = transposed;
    if (transposed) {
        d->Ho = dims == 2 ? 2 * H : 1;
        d->Wo = 2 * W;
    } else {
        d->Ho = dims == 2 ? H / stride : 1;
        d->Wo = W / stride;
    }
    d->taps = dims == 2 ? 9 : 3;
    return 0;
}

size_t conv_weight_count(const conv_dims *d) { return (size_t)d->cout * d->taps * d->cin; }

// The geometry shared by both directions: the im2col rows live on the
// "small" grid (the conv's output, the transposed conv's input) and gather
// the channels cl of the "large" grid through the taps at stride s.
typedef struct {
    int hs, ws, hl, wl, s, cl, taps, dims;
    size_t rows, K;      // per item: col rows (hs·ws) and width (taps·cl)
    int ipc, nchunk, ngroup;
} geom;

static void geom_of(const conv_dims *d, geom *g)
{
    g->s = d->stride;
    g->taps = d->taps;
    g->dims = d->dims;
    if (d->transposed) {
        g->hs = d->H, g->ws = d->W, g->hl = d->Ho, g->wl = d->Wo, g->cl = d->cout;
    } else {
        g->hs = d->Ho, g->ws = d->Wo, g->hl = d->H, g->wl = d->W, g->cl = d->cin;
    }
    g->rows = (size_t)g->hs * g->ws;
    g->K = (size_t)g->taps * g->cl;
    size_t per = g->rows * g->K;
    g->ipc = per >= COL_TARGET ? 1 : (int)(COL_TARGET / per);
    int cap = (d->B + MIN_CHUNKS - 1) / MIN_CHUNKS;
    if (g->ipc > cap) g->ipc = cap;
    g->nchunk = (d->B + g->ipc - 1) / g->ipc;
    g->ngroup = g->nchunk < MAX_GROUPS ? g->nchunk : MAX_GROUPS;
}

size_t conv_scratch_floats(const conv_dims *d)
{
    geom g;
    geom_of(d, &g);
    size_t col = (size_t)g.ipc * g.rows * g.K;
    return (size_t)omp_get_max_threads() * col + (size_t)g.ngroup * (conv_weight_count(d) + d->cout);
}

// col (rows, taps, cl) of one item from its large-grid field src (hl, wl, cl).
static void gather(float *col, const float *src, const geom *g)
{
    size_t cb = (size_t)g->cl * sizeof(float);
    for (int py = 0; py < g->hs; py++)
        for (int px = 0; px < g->ws; px++) {
            float *c = col + ((size_t)py * g->ws + px) * g->K;
            for (int dy = g->dims == 2 ? -1 : 0; dy <= (g->dims == 2 ? 1 : 0); dy++) {
                int y = (g->s * py + dy + g->hl) % g->hl;
                const float *row = src + (size_t)y * g->wl * g->cl;
                for (int dx = -1; dx <= 1; dx++, c += g->cl) {
                    int x = (g->s * px + dx + g->wl) % g->wl;
                    memcpy(c, row + (size_t)x * g->cl, cb);
                }
            }
        }
}

// The adjoint of gather: dst (hl, wl, cl) += scatter(col).
static void scatter(float *dst, const float *col, const geom *g)
{
    for (int py = 0; py < g->hs; py++)
        for (int px = 0; px < g->ws; px++) {
            const float *c = col + ((size_t)py * g->ws + px) * g->K;
            for (int dy = g->dims == 2 ? -1 : 0; dy <= (g->dims == 2 ? 1 : 0); dy++) {
                int y = (g->s * py + dy + g->hl) % g->hl;
                float *row = dst + (size_t)y * g->wl * g->cl;
                for (int dx = -1; dx <= 1; dx++, c += g->cl) {
                    int x = (g->s * px + dx + g->wl) % g->wl;
                    float *o = row + (size_t)x * g->cl;
                    for (int k = 0; k < g->cl; k++) o[k] += c[k];
                }
            }
        }
}

static int check_scratch(const conv_dims *d, size_t nscratch, eddy_err *e)
{
    size_t need = conv_scratch_floats(d);
    if (nscratch < need) return eddy_fail(e, "conv: scratch of %zu floats, need %zu", nscratch, need);
    return 0;
}

int conv_forward(float *out, int accumulate, const float *in, const float *w, const float *b,
                 const conv_dims *d, float *scratch, size_t nscratch, eddy_err *e)
{
    if (check_scratch(d, nscratch, e)) return -1;
    geom g;
    geom_of(d, &g);
    size_t colsz = (size_t)g.ipc * g.rows * g.K;
    size_t rin = (size_t)d->H * d->W, rout = (size_t)d->Ho * d->Wo;
    int nb = blas_single();
#pragma omp parallel for schedule(static)
    for (int k = 0; k < g.nchunk; k++) {
        float *col = scratch + (size_t)omp_get_thread_num() * colsz;
        int b0 = k * g.ipc, n = d->B - b0 < g.ipc ? d->B - b0 : g.ipc;
        if (!d->transposed) {
            for (int i = 0; i < n; i++)
                gather(col + i * g.rows * g.K, in + (b0 + i) * rin * d->cin, &g);
            float *o = out + b0 * rout * d->cout;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * g.rows), d->cout,
                        (int)g.K, 1.0f, col, (int)g.K, w, (int)g.K, accumulate ? 1.0f : 0.0f, o,
                        d->cout);
        } else {
            // col (n·rin, taps·cout) = in · Wtᵀ with Wt (taps·cout, cin)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * rin), (int)g.K,
                        d->cin, 1.0f, in + b0 * rin * d->cin, d->cin, w, d->cin, 0.0f, col,
                        (int)g.K);
            for (int i = 0; i < n; i++) {
                float *o = out + (b0 + i) * rout * d->cout;
                if (!accumulate) memset(o, 0, rout * d->cout * sizeof(float));
                scatter(o, col + i * g.rows * g.K, &g);
            }
        }
        if (b) {
            float *o = out + b0 * rout * d->cout;
            for (size_t r = 0; r < n * rout; r++)
                for (int c = 0; c < d->cout; c++) o[r * d->cout + c] += b[c];
        }
    }
    openblas_set_num_threads(nb);
    return 0;
}

int conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                  const float *w, const conv_dims *d, float *scratch, size_t nscratch,
                  eddy_err *e)
{
    if (check_scratch(d, nscratch, e)) return -1;
    if (dw && !in) return eddy_fail(e, "conv: the weight gradient needs the forward input");
    geom g;
    geom_of(d, &g);
    size_t colsz = (size_t)g.ipc * g.rows * g.K, nw = conv_weight_count(d);
    size_t rin = (size_t)d->H * d->W, rout = (size_t)d->Ho * d->Wo;
    float *part = scratch + (size_t)omp_get_max_threads() * colsz;   // (ngroup, nw + cout)
    memset(part, 0, (size_t)g.ngroup * (nw + d->cout) * sizeof(float));
    int nb = blas_single();
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < g.ngroup; gi++) {
        float *col = scratch + (size_t)omp_get_thread_num() * colsz;
        float *pw = part + (size_t)gi * (nw + d->cout), *pb = pw + nw;
        int k0 = gi * g.nchunk / g.ngroup, k1 = (gi + 1) * g.nchunk / g.ngroup;
        for (int k = k0; k < k1; k++) {
            int b0 = k * g.ipc, n = d->B - b0 < g.ipc ? d->B - b0 : g.ipc;
            const float *dy = dout + b0 * rout * d->cout;
            int M = (int)(n * g.rows);
            if (!d->transposed) {
                if (dw) {
                    for (int i = 0; i < n; i++)
                        gather(col + i * g.rows * g.K, in + (b0 + i) * rin * d->cin, &g);
                    // dW (cout, K) += doutᵀ · col
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d->cout, (int)g.K, M,
                                1.0f, dy, d->cout, col, (int)g.K, 1.0f, pw, (int)g.K);
                }
                if (din) {
                    // dcol (M, K) = dout · W, scattered onto the input grid
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, (int)g.K, d->cout,
                                1.0f, dy, d->cout, w, (int)g.K, 0.0f, col, (int)g.K);
                    for (int i = 0; i < n; i++)
                        scatter(din + (b0 + i) * rin * d->cin, col + i * g.rows * g.K, &g);
                }
            } else if (dw || din) {
                for (int i = 0; i < n; i++)
                    gather(col + i * g.rows * g.K, dy + i * rout * d->cout, &g);
                const float *x = in ? in + b0 * rin * d->cin : NULL;
                if (din)   // din (M, cin) += dcol · Wt
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, d->cin, (int)g.K,
                                1.0f, col, (int)g.K, w, d->cin, 1.0f, din + b0 * rin * d->cin,
                                d->cin);
                if (dw)    // dWt (K, cin) += dcolᵀ · in
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g.K, d->cin, M,
                                1.0f, col, (int)g.K, x, d->cin, 1.0f, pw, d->cin);
            }
            if (db)
                for (size_t r = 0; r < n * rout; r++)
                    for (int c = 0; c < d->cout; c++) pb[c] += dy[r * d->cout + c];
        }
    }
    openblas_set_num_threads(nb);
    for (int gi = 0; gi < g.ngroup; gi++) {
        const float *pw = part + (size_t)gi * (nw + d->cout), *pb = pw + nw;
        if (dw)
            for (size_t i = 0; i < nw; i++) dw[i] += pw[i];
        if (db)
            for (int c = 0; c < d->cout; c++) db[c] += pb[c];
    }
    return 0;
}
