// lib/unet_layers.h (GroupNorm, attention) and lib/unet.h (the U-Net of seed
// 001 B.2): every backward and input gradient against centred differences,
// the whole network in 1-D and 2-D, presets, bad grids and configurations,
// the parameter records, and thread-count independence.
//
// Tolerance: float32 forward passes, loss Σ r·y accumulated in double, step
// h = 1e-2.  Truncation error ~h²·|f'''| and the output's float rounding
// ~1e-7·√n/h stay near 1e-4 of the gradient scale (h = 1e-3 made the rounding
// term 10× larger, as expected of noise); the checks allow 2e-2 relative to
// the largest gradient of the sample (a wrong backward is off by O(1)).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rng.h"
#include "unet.h"
#include "unet_layers.h"

static float *rnd(size_t n, uint64_t key, double amp)
{
    float *x = malloc(n * sizeof *x);
    eddy_rng r;
    rng_init(&r, 1919, key, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)(amp * (2 * rng_uniform(&r) - 1));
    return x;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

// ---------------------------------------------------------------- GroupNorm

static void test_groupnorm(void)
{
    int B = 2, C = 6, G = 3;
    size_t N = 5, n = (size_t)B * N * C;
    float *x = rnd(n, 1, 2), *ga = rnd(C, 2, 1), *be = rnd(C, 3, 1), *r = rnd(n, 4, 1);
    float *y = malloc(n * sizeof *y), mean[6], rstd[6];
    float *dx = calloc(n, sizeof *dx), dg[6] = {0}, db[6] = {0};
    eddy_err e;
    CHECK(!gn_forward(y, mean, rstd, x, ga, be, B, N, C, G, &e), "%s", e.msg);
    // normalised: each (item, group) of x̂ = (y − β)/γ has mean 0, variance ≈ 1
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            double s = 0, s2 = 0;
            for (size_t p = 0; p < N; p++)
                for (int c = g * 2; c < g * 2 + 2; c++) {
                    double xh = (y[((size_t)b * N + p) * C + c] - be[c]) / ga[c];
                    s += xh, s2 += xh * xh;
                }
            CHECK_CLOSE(s / (2 * N), 0, 1e-5, "group mean");
            CHECK_CLOSE(s2 / (2 * N), 1, 1e-3, "group variance (eps 1e-5)");
        }
    CHECK(!gn_backward(dx, dg, db, r, x, mean, rstd, ga, B, N, C, G, &e), "%s", e.msg);
    struct { float *p, *g; size_t n; const char *w; } v[3] = {{x, dx, n, "x"}, {ga, dg, (size_t)C, "gamma"}, {be, db, (size_t)C, "beta"}};
    for (int k = 0; k < 3; k++) {
        double maxe = 0, sc = 0;
        for (size_t i = 0; i < v[k].n; i++) {
            float keep = v[k].p[i];
            double h = 1e-2, lp, lm;
            v[k].p[i] = keep + (float)h;
            gn_forward(y, mean, rstd, x, ga, be, B, N, C, G, &e);
            lp = dot(r, y, n);
            v[k].p[i] = keep - (float)h;
            gn_forward(y, mean, rstd, x, ga, be, B, N, C, G, &e);
            lm = dot(r, y, n);
            v[k].p[i] = keep;
            double fd = (lp - lm) / (2 * h);
            maxe = fmax(maxe, fabs(fd - v[k].g[i]));
            sc = fmax(sc, fabs(fd));
        }
        CHECK(maxe <= 2e-3 * (sc + 1e-3), "groupnorm %s gradient: max error %g (scale %g)", v[k].w, maxe, sc);
    }
    CHECK(gn_forward(y, mean, rstd, x, ga, be, B, N, C, 4, &e) < 0, "4 groups of 6 channels accepted");
    free(x), free(ga), free(be), free(r), free(y), free(dx);
}

// ---------------------------------------------------------------- attention

static void test_attention(void)
{
    int B = 2, N = 5, C = 6, H = 2;
    size_t nq = (size_t)B * N * 3 * C, no = (size_t)B * N * C;
    float *qkv = rnd(nq, 5, 1.5), *r = rnd(no, 6, 1), *o = malloc(no * sizeof *o);
    float *p = malloc((size_t)B * H * N * N * sizeof *p), *dq = calloc(nq, sizeof *dq);
    size_t ns = attn_scratch_floats(N, C, H);
    float *sc = malloc(ns * sizeof *sc);
    eddy_err e;
    CHECK(!attn_forward(o, p, qkv, B, N, C, H, &e), "%s", e.msg);
    // the weights of a row sum to one; head 1 of item 1, point 2 against a direct softmax
    for (int i = 0; i < B * H * N; i++) {
        double s = 0;
        for (int j = 0; j < N; j++) s += p[(size_t)i * N + j];
        CHECK_CLOSE(s, 1, 1e-6, "softmax row sum");
    }
    {
        int b = 1, h = 1, i = 2, d = C / H;
        double w[5], s = 0, out0 = 0;
        for (int j = 0; j < N; j++) {
            double a = 0;
            for (int k = 0; k < d; k++)
                a += (double)qkv[((size_t)b * N + i) * 3 * C + h * d + k] * qkv[((size_t)b * N + j) * 3 * C + C + h * d + k];
            w[j] = exp(a / sqrt(d));
            s += w[j];
        }
        for (int j = 0; j < N; j++) out0 += w[j] / s * qkv[((size_t)b * N + j) * 3 * C + 2 * C + h * d];
        CHECK_CLOSE(o[((size_t)b * N + i) * C + h * d], out0, 1e-5, "attention output, direct");
    }
    CHECK(!attn_backward(dq, r, p, qkv, B, N, C, H, sc, ns, &e), "%s", e.msg);
    double maxe = 0, scl = 0;
    for (size_t i = 0; i < nq; i++) {
        float keep = qkv[i];
        double h = 1e-2, lp, lm;
        qkv[i] = keep + (float)h;
        attn_forward(o, p, qkv, B, N, C, H, &e);
        lp = dot(r, o, no);
        qkv[i] = keep - (float)h;
        attn_forward(o, p, qkv, B, N, C, H, &e);
        lm = dot(r, o, no);
        qkv[i] = keep;
        double fd = (lp - lm) / (2 * h);
        maxe = fmax(maxe, fabs(fd - dq[i]));
        scl = fmax(scl, fabs(fd));
    }
    CHECK(maxe <= 2e-3 * scl, "attention q/k/v gradient: max error %g (scale %g)", maxe, scl);
    CHECK(attn_forward(o, p, qkv, B, N, C, 4, &e) < 0, "4 heads of 6 channels accepted");
    free(qkv), free(r), free(o), free(p), free(dq), free(sc);
}

// ---------------------------------------------------------------- network

static void small_config(unet_config *c, int dims)
{
    memset(c, 0, sizeof *c);
    c->dims = dims;
    c->in = 3;
    c->out = 2;
    c->base = 4;
    c->levels = 2;
    c->ch[0] = 8;
    c->ch[1] = 8;
    c->nres = dims == 1 ? 2 : 1;
    c->groups = 2;
    c->heads = 2;
    c->emb_size = 8;
    c->emb_period = 1000;
    c->emb_hidden = 6;
}

// Loss Σ r·unet(x, s); every parameter tensor (3 entries each) and 24 input
// entries against centred differences.
static void net_gradcheck(int dims)
{
    unet_config c;
    small_config(&c, dims);
    unet m;
    eddy_err e;
    int B = 2, H = dims == 2 ? 8 : 1, W = dims == 2 ? 4 : 16;
    CHECK(!unet_create(&m, &c, 7, &e), "%s", e.msg);
    // a trained network's GroupNorm affine and biases are not 1/0: vary them
    eddy_rng rg;
    rng_init(&rg, 3, 0, 0, 0);
    for (size_t i = 0; i < m.nparams; i++) m.params[i] += (float)(0.2 * (2 * rng_uniform(&rg) - 1));
    size_t ni = (size_t)B * H * W * c.in, no = (size_t)B * H * W * c.out;
    float *x = rnd(ni, 21, 1), *r = rnd(no, 22, 1), *y = malloc(no * sizeof *y), *dx = malloc(ni * sizeof *dx);
    float cond[2] = {137.0f, 820.0f};
    CHECK(!unet_forward(&m, B, H, W, x, cond, y, &e), "%s", e.msg);
    unet_zero_grad(&m);
    CHECK(!unet_backward(&m, r, dx, UNET_GRAD_PARAMS | UNET_GRAD_INPUT, &e), "%s", e.msg);
    double h = 1e-2;
    // parameters, tensor by tensor
    double worst = 0;
    const char *worst_name = "";
    int nbad = 0;
    for (int t = 0; t < m.ntensors; t++) {
        unet_tensor *T = &m.tensors[t];
        double maxe = 0, sc = 0;
        for (int k = 0; k < 3; k++) {
            size_t i = (size_t)(k * 7919u) % T->count;
            float keep = T->data[i];
            T->data[i] = keep + (float)h;
            unet_forward(&m, B, H, W, x, cond, y, &e);
            double lp = dot(r, y, no);
            T->data[i] = keep - (float)h;
            unet_forward(&m, B, H, W, x, cond, y, &e);
            double lm = dot(r, y, no);
            T->data[i] = keep;
            double fd = (lp - lm) / (2 * h);
            maxe = fmax(maxe, fabs(fd - T->grad[i]));
            sc = fmax(sc, fabs(fd));
        }
        double rel = maxe / (sc + 1e-2);
        if (rel > worst) worst = rel, worst_name = T->name;
        if (rel > 2e-2) {
            nbad++;
            NOTE("%s: max error %g, scale %g", T->name, maxe, sc);
        }
    }
    CHECK(nbad == 0, "%dd: %d of %d parameter tensors off (worst %s %g)", dims, nbad, m.ntensors, worst_name, worst);
    NOTE("%d-D: %d tensors, %zu parameters, worst relative error %.2g (%s)", dims, m.ntensors, m.nparams, worst, worst_name);
    // input gradient
    double maxe = 0, sc = 0;
    for (int k = 0; k < 24; k++) {
        size_t i = (size_t)(k * 104729u) % ni;
        float keep = x[i];
        x[i] = keep + (float)h;
        unet_forward(&m, B, H, W, x, cond, y, &e);
        double lp = dot(r, y, no);
        x[i] = keep - (float)h;
        unet_forward(&m, B, H, W, x, cond, y, &e);
        double lm = dot(r, y, no);
        x[i] = keep;
        double fd = (lp - lm) / (2 * h);
        maxe = fmax(maxe, fabs(fd - dx[i]));
        sc = fmax(sc, fabs(fd));
    }
    CHECK(maxe <= 2e-2 * sc, "%d-D input gradient: max error %g (scale %g)", dims, maxe, sc);
    NOTE("%d-D input gradient: max error %.2g of scale %.2g", dims, maxe, sc);
    // INPUT only leaves the parameter gradients alone and gives the same din
    float *dx2 = malloc(ni * sizeof *dx2);
    float *g0 = malloc(m.nparams * sizeof *g0);
    unet_forward(&m, B, H, W, x, cond, y, &e);
    memcpy(g0, m.grads, m.nparams * sizeof *g0);
    CHECK(!unet_backward(&m, r, dx2, UNET_GRAD_INPUT, &e), "%s", e.msg);
    CHECK(!memcmp(g0, m.grads, m.nparams * sizeof *g0), "INPUT-only backward changed parameter gradients");
    CHECK(!memcmp(dx, dx2, ni * sizeof *dx), "INPUT-only backward gives another input gradient");
    free(x), free(r), free(y), free(dx), free(dx2), free(g0);
    unet_free(&m);
}

static void test_network_gradients_1d(void) { net_gradcheck(1); }
static void test_network_gradients_2d(void) { net_gradcheck(2); }

static void test_presets_and_grids(void)
{
    unet_config c;
    eddy_err e;
    CHECK(!unet_config_preset(&c, UNET_PRESET_L96, &e), "%s", e.msg);
    CHECK(c.dims == 1 && c.in == 10 && c.out == 2 && c.base == 32 && c.levels == 4, "L96 preset");
    CHECK(c.ch[0] == 64 && c.ch[1] == 128 && c.ch[2] == 128 && c.ch[3] == 192, "L96 channels");
    CHECK(!unet_grid_ok(&c, 1, 128, &e), "%s", e.msg);
    CHECK(unet_grid_ok(&c, 1, 120, &e) < 0, "120 points with four halvings accepted");
    CHECK(strstr(e.msg, "not divisible"), "message: %s", e.msg);
    CHECK(unet_grid_ok(&c, 2, 128, &e) < 0, "1-D with H = 2 accepted");
    CHECK(!unet_config_preset(&c, UNET_PRESET_KF, &e), "%s", e.msg);
    CHECK(c.dims == 2 && c.in == 5 && c.out == 1 && c.levels == 3 && c.ch[2] == 192, "KF preset");
    CHECK(!unet_grid_ok(&c, 40, 40, &e), "40² with three halvings: %s", e.msg);
    CHECK(unet_grid_ok(&c, 36, 36, &e) < 0, "36² with three halvings accepted");
    CHECK(unet_grid_ok(&c, 40, 36, &e) < 0, "40x36 accepted");
    c.levels = 4;
    c.ch[3] = 256;
    CHECK(unet_grid_ok(&c, 40, 40, &e) < 0, "40² with four halvings accepted");
    CHECK(unet_config_preset(&c, 7, &e) < 0, "preset 7 accepted");
    // bad configurations
    unet_config_preset(&c, UNET_PRESET_KF, &e);
    c.groups = 5;
    CHECK(unet_config_check(&c, &e) < 0 && strstr(e.msg, "groups"), "5 groups accepted: %s", e.msg);
    unet_config_preset(&c, UNET_PRESET_KF, &e);
    c.heads = 5;
    CHECK(unet_config_check(&c, &e) < 0 && strstr(e.msg, "heads"), "5 heads accepted: %s", e.msg);
    unet_config_preset(&c, UNET_PRESET_KF, &e);
    c.levels = 0;
    CHECK(unet_config_check(&c, &e) < 0, "0 halvings accepted");
    // the presets build; forward refuses a bad grid without writing
    unet m;
    CHECK(!unet_config_preset(&c, UNET_PRESET_L96, &e) && !unet_create(&m, &c, 1, &e), "%s", e.msg);
    NOTE("L96 preset: %zu parameters in %d tensors", m.nparams, m.ntensors);
    float in[10 * 24] = {0}, out[2 * 24], cond[1] = {0};
    out[0] = 123.0f;
    CHECK(unet_forward(&m, 1, 1, 24, in, cond, out, &e) < 0, "24 points accepted by the L96 U-Net");
    CHECK(out[0] == 123.0f, "output written on a refused grid");
    CHECK(unet_backward(&m, out, in, UNET_GRAD_INPUT, &e) < 0, "backward without forward accepted");
    unet_free(&m);
    CHECK(!unet_config_preset(&c, UNET_PRESET_KF, &e) && !unet_create(&m, &c, 1, &e), "%s", e.msg);
    NOTE("KF preset: %zu parameters in %d tensors", m.nparams, m.ntensors);
    unet_free(&m);
}

static void test_records_roundtrip(void)
{
    unet_config c;
    small_config(&c, 2);
    unet m, m2;
    eddy_err e;
    CHECK(!unet_create(&m, &c, 5, &e), "%s", e.msg);
    char path[] = "/tmp/test_unet_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    tsr_record extra;
    tsr_record_init(&extra);
    tsr_attr_set(&extra, "pdd.dt", "0.01");
    CHECK(!unet_save(path, &m, &extra, &e), "%s", e.msg);
    tsr_record h;
    tsr_record_init(&h);
    CHECK(!unet_load(path, &m2, &h, &e), "%s", e.msg);
    CHECK(m2.nparams == m.nparams && !memcmp(m.params, m2.params, m.nparams * sizeof(float)), "parameters differ after a round trip");
    CHECK(tsr_attr_get(&h, "pdd.dt") && !strcmp(tsr_attr_get(&h, "pdd.dt"), "0.01"), "caller attribute lost");
    CHECK(!memcmp(&m.cfg, &m2.cfg, sizeof m.cfg), "configuration differs after a round trip");
    int B = 1, H = 8, W = 4;
    size_t ni = (size_t)B * H * W * c.in, no = (size_t)B * H * W * c.out;
    float *x = rnd(ni, 30, 1), *y1 = malloc(no * 4), *y2 = malloc(no * 4), cond[1] = {400};
    CHECK(!unet_forward(&m, B, H, W, x, cond, y1, &e) && !unet_forward(&m2, B, H, W, x, cond, y2, &e), "%s", e.msg);
    CHECK(!memcmp(y1, y2, no * 4), "loaded model computes another function");
    unet_free(&m2);
    // a record of the wrong shape, and a missing tensor
    {
        tsr_writer *w = tsr_writer_open_path(path, NULL, &e);
        tsr_record r;
        tsr_record_init(&r);
        m.tensors[3].shape[0]++;   // lie about one shape
        CHECK(!unet_write(w, &m, NULL, &e), "%s", e.msg);
        m.tensors[3].shape[0]--;
        CHECK(!tsr_writer_finish(w, &e), "%s", e.msg);
        tsr_record_free(&r);
    }
    CHECK(unet_load(path, &m2, NULL, &e) < 0 && strstr(e.msg, "wrong shape"), "wrong shape accepted: %s", e.msg);
    {
        tsr_writer *w = tsr_writer_open_path(path, NULL, &e);
        tsr_record r;
        tsr_record_init(&r);
        uint64_t one = 1;
        tsr_record_alloc(&r, "fno", TSR_I4, 1, &one, &e);
        tsr_write(w, &r, &e);
        tsr_record_free(&r);
        tsr_writer_finish(w, &e);
    }
    CHECK(unet_load(path, &m2, NULL, &e) < 0 && strstr(e.msg, "not a U-Net"), "an FNO header accepted: %s", e.msg);
    unlink(path);
    tsr_record_free(&extra);
    tsr_record_free(&h);
    free(x), free(y1), free(y2);
    unet_free(&m);
}

static void test_threads_bitwise(void)
{
    unet_config c;
    small_config(&c, 2);
    c.base = 8, c.ch[0] = 16, c.ch[1] = 16;
    unet m;
    eddy_err e;
    CHECK(!unet_create(&m, &c, 9, &e), "%s", e.msg);
    int B = 6, H = 16, W = 16;
    size_t ni = (size_t)B * H * W * c.in, no = (size_t)B * H * W * c.out;
    float *x = rnd(ni, 40, 1), *r = rnd(no, 41, 1), cond[6] = {0, 100, 200, 300, 400, 500};
    float *y[2], *dx[2], *g[2];
    int nt = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        y[k] = malloc(no * 4), dx[k] = malloc(ni * 4), g[k] = malloc(m.nparams * 4);
        unet_zero_grad(&m);
        CHECK(!unet_forward(&m, B, H, W, x, cond, y[k], &e), "%s", e.msg);
        CHECK(!unet_backward(&m, r, dx[k], UNET_GRAD_PARAMS | UNET_GRAD_INPUT, &e), "%s", e.msg);
        memcpy(g[k], m.grads, m.nparams * 4);
    }
    omp_set_num_threads(nt);
    CHECK(!memcmp(y[0], y[1], no * 4), "forward differs between 1 and 2 threads");
    CHECK(!memcmp(dx[0], dx[1], ni * 4), "input gradient differs between 1 and 2 threads");
    CHECK(!memcmp(g[0], g[1], m.nparams * 4), "parameter gradients differ between 1 and 2 threads");
    for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(g[k]);
    free(x), free(r);
    unet_free(&m);
}

int main(void)
{
    RUN(test_groupnorm);
    RUN(test_attention);
    RUN(test_network_gradients_1d);
    RUN(test_network_gradients_2d);
    RUN(test_presets_and_grids);
    RUN(test_records_roundtrip);
    RUN(test_threads_bitwise);
    return check_done();
}
