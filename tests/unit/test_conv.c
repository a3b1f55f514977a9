// lib/conv.h: periodic kernel-3 convolutions (stride 1, 2, transposed) against
// a direct double-precision sum, the transposed conv as the adjoint of the
// stride-2 conv, every backward against centred differences, and bad shapes.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conv.h"
#include "rng.h"

static float *rnd(size_t n, uint64_t key)
{
    float *x = malloc(n * sizeof *x);
    eddy_rng r;
    rng_init(&r, 19, key, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * rng_uniform(&r) - 1);
    return x;
}

static size_t nin(const conv_dims *d) { return (size_t)d->B * d->H * d->W * d->cin; }
static size_t nout(const conv_dims *d) { return (size_t)d->B * d->Ho * d->Wo * d->cout; }

// The direct definition of lib/conv.h in double.
static void ref_forward(double *out, const float *in, const float *w, const float *b, const conv_dims *d)
{
    int taps = d->taps, two = d->dims == 2;
    memset(out, 0, nout(d) * sizeof *out);
    for (int n = 0; n < d->B; n++)
        for (int oy = 0; oy < d->Ho; oy++)
            for (int ox = 0; ox < d->Wo; ox++)
                for (int co = 0; co < d->cout; co++)
                    out[(((size_t)n * d->Ho + oy) * d->Wo + ox) * d->cout + co] = b ? b[co] : 0;
    for (int n = 0; n < d->B; n++)
        for (int t = 0; t < taps; t++) {
            int dy = two ? t / 3 - 1 : 0, dx = t % 3 - 1;
            if (!d->transposed) {
                for (int oy = 0; oy < d->Ho; oy++)
                    for (int ox = 0; ox < d->Wo; ox++) {
                        int iy = ((d->stride * oy + dy) % d->H + d->H) % d->H;
                        int ix = ((d->stride * ox + dx) % d->W + d->W) % d->W;
                        const float *x = in + (((size_t)n * d->H + iy) * d->W + ix) * d->cin;
                        double *o = out + (((size_t)n * d->Ho + oy) * d->Wo + ox) * d->cout;
                        for (int co = 0; co < d->cout; co++)
                            for (int ci = 0; ci < d->cin; ci++)
                                o[co] += (double)w[((size_t)co * taps + t) * d->cin + ci] * x[ci];
                    }
            } else {
                for (int iy = 0; iy < d->H; iy++)
                    for (int ix = 0; ix < d->W; ix++) {
                        int oy = ((2 * iy + dy) % d->Ho + d->Ho) % d->Ho;
                        int ox = ((2 * ix + dx) % d->Wo + d->Wo) % d->Wo;
                        const float *x = in + (((size_t)n * d->H + iy) * d->W + ix) * d->cin;
                        double *o = out + (((size_t)n * d->Ho + oy) * d->Wo + ox) * d->cout;
                        for (int co = 0; co < d->cout; co++)
                            for (int ci = 0; ci < d->cin; ci++)
                                o[co] += (double)w[((size_t)t * d->cout + co) * d->cin + ci] * x[ci];
                    }
            }
        }
}

typedef struct {
    int dims, B, H, W, cin, cout, stride, tr;
} shape;

static const shape shapes[] = {
    {1, 2, 1, 8, 3, 5, 1, 0}, {1, 3, 1, 8, 4, 6, 2, 0}, {1, 2, 1, 4, 5, 3, 2, 1},
    {2, 2, 6, 4, 3, 4, 1, 0}, {2, 2, 6, 4, 3, 5, 2, 0}, {2, 3, 3, 2, 4, 3, 2, 1},
    {2, 1, 2, 2, 2, 2, 1, 0},   // a 2x2 grid: every tap wraps
};

static void test_forward_matches_direct_sum(void)
{
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *q = &shapes[s];
        conv_dims d;
        eddy_err e;
        CHECK(!conv_dims_set(&d, q->dims, q->B, q->H, q->W, q->cin, q->cout, q->stride, q->tr, &e), "%s", e.msg);
        float *x = rnd(nin(&d), 1), *w = rnd(conv_weight_count(&d), 2), *b = rnd(d.cout, 3);
        float *y = malloc(nout(&d) * sizeof *y), *sc = malloc(conv_scratch_floats(&d) * sizeof *sc);
        double *ref = malloc(nout(&d) * sizeof *ref), err = 0;
        CHECK(!conv_forward(y, 0, x, w, b, &d, sc, conv_scratch_floats(&d), &e), "%s", e.msg);
        ref_forward(ref, x, w, b, &d);
        for (size_t i = 0; i < nout(&d); i++) err = fmax(err, fabs(y[i] - ref[i]));
        CHECK(err < 1e-5, "shape %zu: max |conv − direct| = %g", s, err);
        // accumulate = 1 adds to what is there
        CHECK(!conv_forward(y, 1, x, w, NULL, &d, sc, conv_scratch_floats(&d), &e), "%s", e.msg);
        double err2 = 0;
        ref_forward(ref, x, w, NULL, &d);
        double *r1 = malloc(nout(&d) * sizeof *r1);
        ref_forward(r1, x, w, b, &d);
        for (size_t i = 0; i < nout(&d); i++) err2 = fmax(err2, fabs(y[i] - ref[i] - r1[i]));
        CHECK(err2 < 2e-5, "shape %zu: accumulate: %g", s, err2);
        free(x), free(w), free(b), free(y), free(sc), free(ref), free(r1);
    }
}

// ⟨convT(x), y⟩ = ⟨x, conv_s2(y)⟩ with Wt[t][a][b] = W[b][t][a]
static void test_transposed_is_adjoint(void)
{
    for (int dims = 1; dims <= 2; dims++) {
        conv_dims dt, dc;
        eddy_err e;
        int H = dims == 2 ? 3 : 1, W = 5, B = 2, ci = 4, co = 3;
        CHECK(!conv_dims_set(&dt, dims, B, H, W, ci, co, 2, 1, &e), "%s", e.msg);
        CHECK(!conv_dims_set(&dc, dims, B, dt.Ho, dt.Wo, co, ci, 2, 0, &e), "%s", e.msg);
        float *x = rnd(nin(&dt), 4), *y = rnd(nout(&dt), 5), *wt = rnd(conv_weight_count(&dt), 6);
        float *w = malloc(conv_weight_count(&dc) * sizeof *w);
        for (int t = 0; t < dt.taps; t++)
            for (int a = 0; a < co; a++)
                for (int b = 0; b < ci; b++) w[((size_t)b * dt.taps + t) * co + a] = wt[((size_t)t * co + a) * ci + b];
        size_t ns = conv_scratch_floats(&dt) + conv_scratch_floats(&dc);
        float *sc = malloc(ns * sizeof *sc), *tx = malloc(nout(&dt) * sizeof *tx), *cy = malloc(nin(&dt) * sizeof *cy);
        CHECK(!conv_forward(tx, 0, x, wt, NULL, &dt, sc, ns, &e), "%s", e.msg);
        CHECK(!conv_forward(cy, 0, y, w, NULL, &dc, sc, ns, &e), "%s", e.msg);
        double l = 0, r = 0;
        for (size_t i = 0; i < nout(&dt); i++) l += (double)tx[i] * y[i];
        for (size_t i = 0; i < nin(&dt); i++) r += (double)x[i] * cy[i];
        CHECK_CLOSE(l, r, 1e-4 * (fabs(l) + 1), "adjoint");
        free(x), free(y), free(wt), free(w), free(sc), free(tx), free(cy);
    }
}

// loss = Σ r·conv(x); the gradients of x, w, b against centred differences.
// A conv is linear in each argument, so the difference quotient is exact but
// for float rounding of the output: h = 0.5 keeps that error near 1e-6.
static void test_backward_matches_differences(void)
{
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *q = &shapes[s];
        conv_dims d;
        eddy_err e;
        CHECK(!conv_dims_set(&d, q->dims, q->B, q->H, q->W, q->cin, q->cout, q->stride, q->tr, &e), "%s", e.msg);
        size_t ni = nin(&d), no = nout(&d), nw = conv_weight_count(&d), ns = conv_scratch_floats(&d);
        float *x = rnd(ni, 7), *w = rnd(nw, 8), *b = rnd(d.cout, 9), *r = rnd(no, 10);
        float *y = malloc(no * sizeof *y), *sc = malloc(ns * sizeof *sc);
        float *dx = rnd(ni, 11), *dw = rnd(nw, 12), *db = rnd(d.cout, 13);   // accumulate onto these
        float *dx0 = malloc(ni * sizeof *dx0), *dw0 = malloc(nw * sizeof *dw0), *db0 = malloc(d.cout * sizeof *db0);
        memcpy(dx0, dx, ni * sizeof *dx), memcpy(dw0, dw, nw * sizeof *dw), memcpy(db0, db, d.cout * sizeof *db);
        CHECK(!conv_backward(dx, dw, db, r, x, w, &d, sc, ns, &e), "%s", e.msg);
        struct { float *p, *g, *g0; size_t n; const char *what; } v[3] = {
            {x, dx, dx0, ni, "input"}, {w, dw, dw0, nw, "weight"}, {b, db, db0, (size_t)d.cout, "bias"}};
        for (int k = 0; k < 3; k++) {
            double maxe = 0, scale = 0;
            for (size_t i = 0; i < v[k].n; i++) {
                float keep = v[k].p[i];
                double lp = 0, lm = 0, h = 0.5;
                v[k].p[i] = keep + (float)h;
                conv_forward(y, 0, x, w, b, &d, sc, ns, &e);
                for (size_t j = 0; j < no; j++) lp += (double)r[j] * y[j];
                v[k].p[i] = keep - (float)h;
                conv_forward(y, 0, x, w, b, &d, sc, ns, &e);
                for (size_t j = 0; j < no; j++) lm += (double)r[j] * y[j];
                v[k].p[i] = keep;
                double fd = (lp - lm) / (2 * h), an = (double)v[k].g[i] - v[k].g0[i];
                maxe = fmax(maxe, fabs(fd - an));
                scale = fmax(scale, fabs(fd));
            }
            CHECK(maxe <= 1e-4 * (scale + 1), "shape %zu %s gradient: max error %g (scale %g)", s, v[k].what, maxe, scale);
        }
        free(x), free(w), free(b), free(r), free(y), free(sc), free(dx), free(dw), free(db);
        free(dx0), free(dw0), free(db0);
    }
}

// Results do not depend on the thread count (fixed chunks and partial sums).
static void test_threads_bitwise(void)
{
    conv_dims d;
    eddy_err e;
    CHECK(!conv_dims_set(&d, 2, 20, 8, 8, 16, 16, 1, 0, &e), "%s", e.msg);
    size_t ni = nin(&d), no = nout(&d), nw = conv_weight_count(&d);
    float *x = rnd(ni, 14), *w = rnd(nw, 15), *r = rnd(no, 16);
    float *y[2], *dx[2], *dw[2];
    int nt = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k ? 2 : 1);
        size_t ns = conv_scratch_floats(&d);
        float *sc = malloc(ns * sizeof *sc);
        y[k] = malloc(no * sizeof(float)), dx[k] = calloc(ni, sizeof(float)), dw[k] = calloc(nw, sizeof(float));
        CHECK(!conv_forward(y[k], 0, x, w, NULL, &d, sc, ns, &e), "%s", e.msg);
        CHECK(!conv_backward(dx[k], dw[k], NULL, r, x, w, &d, sc, ns, &e), "%s", e.msg);
        free(sc);
    }
    omp_set_num_threads(nt);
    CHECK(!memcmp(y[0], y[1], no * sizeof(float)), "forward differs between 1 and 2 threads");
    CHECK(!memcmp(dx[0], dx[1], ni * sizeof(float)), "input gradient differs");
    CHECK(!memcmp(dw[0], dw[1], nw * sizeof(float)), "weight gradient differs");
    for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dw[k]);
    free(x), free(w), free(r);
}

static void test_bad_shapes_refused(void)
{
    conv_dims d;
    eddy_err e;
    CHECK(conv_dims_set(&d, 2, 1, 5, 4, 1, 1, 2, 0, &e) < 0, "odd H with stride 2 accepted");
    CHECK(strstr(e.msg, "not even"), "message: %s", e.msg);
    CHECK(conv_dims_set(&d, 1, 1, 1, 7, 1, 1, 2, 0, &e) < 0, "odd W with stride 2 accepted");
    CHECK(conv_dims_set(&d, 1, 1, 2, 8, 1, 1, 1, 0, &e) < 0, "1-D with H = 2 accepted");
    CHECK(conv_dims_set(&d, 3, 1, 1, 8, 1, 1, 1, 0, &e) < 0, "dims 3 accepted");
    CHECK(conv_dims_set(&d, 2, 1, 4, 4, 0, 1, 1, 0, &e) < 0, "0 channels accepted");
    CHECK(conv_dims_set(&d, 2, 1, 4, 4, 1, 1, 1, 1, &e) < 0, "transposed stride 1 accepted");
    CHECK(conv_dims_set(&d, 2, 1, 4, 4, 1, 1, 3, 0, &e) < 0, "stride 3 accepted");
    CHECK(!conv_dims_set(&d, 2, 1, 4, 4, 1, 1, 1, 0, &e), "%s", e.msg);
    float x[16] = {0}, w[9] = {0}, y[16], sc[4];
    CHECK(conv_forward(y, 0, x, w, NULL, &d, sc, 4, &e) < 0, "short scratch accepted");
    CHECK(strstr(e.msg, "scratch"), "message: %s", e.msg);
}

int main(void)
{
    RUN(test_forward_matches_direct_sum);
    RUN(test_transposed_is_adjoint);
    RUN(test_backward_matches_differences);
    RUN(test_threads_bitwise);
    RUN(test_bad_shapes_refused);
    return check_done();
}
