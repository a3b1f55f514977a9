// The assembled FNO: directional finite-difference checks (kann-style, in
// float32) of every parameter tensor and of every input, for 1-D and 2-D,
// odd and even grids, GELU and SiLU, FiLM and bias conditioning, one and
// three branches; resolution independence; thread-count determinism;
// learning the inverse Laplacian.
//
// Directional check: loss L = Σ out·R (R fixed random), direction δ random
// per tensor scaled to the tensor's size, step h; the centred difference
// (L(p+hδ) − L(p−hδ))/2h must match g·δ to a relative 2e-3 (stated float32
// tolerance: the truncation error is O(h²) ≈ 1e-4 relative at h = 1e-2 of
// the tensor scale and the rounding of L is ~1e-7 |L|/h).
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fno.h"
#include "nn.h"
#include "rng.h"

static float *randv(size_t n, uint64_t key, double s)
{
    eddy_rng r;
    rng_init(&r, 7, key, 0, 0);
    float *x = malloc(n * sizeof(float));
    rng_normal_fill_f(&r, x, n);
    for (size_t i = 0; i < n; i++) x[i] *= (float)s;
    return x;
}

typedef struct {
    fno m;
    int B, H, W, nout;
    float *in[FNO_MAX_BRANCH], *cond, *out, *R;
    size_t nin[FNO_MAX_BRANCH], nouts;
} net_case;

static double loss(net_case *c)
{
    eddy_err e;
    if (fno_forward(&c->m, (const float *const *)c->in, c->cond, c->B, c->H, c->W, c->out, &e)) {
        printf("# forward failed: %s\n", e.msg);
        return NAN;
    }
    double s = 0;
    for (size_t i = 0; i < c->nouts; i++) s += (double)c->out[i] * c->R[i];
    return s;
}

static void setup(net_case *c, const fno_config *cfg, int B, int H, int W)
{
    eddy_err e;
    memset(c, 0, sizeof *c);
    if (fno_create(&c->m, cfg, 123, &e)) {
        CHECK(0, "create: %s", e.msg);
        exit(1);
    }
    c->B = B; c->H = H; c->W = W;
    c->nout = fno_out_channels(cfg);
    for (int k = 0; k < cfg->nbranch; k++) {
        c->nin[k] = (size_t)B * H * W * cfg->branch[k].in;
        c->in[k] = randv(c->nin[k], 100 + k, 1.0);
    }
    c->cond = randv(B, 99, 0.5);
    c->nouts = (size_t)B * H * W * c->nout;
    c->out = malloc(c->nouts * sizeof(float));
    c->R = randv(c->nouts, 98, 1.0);
}

static void teardown(net_case *c)
{
    for (int k = 0; k < FNO_MAX_BRANCH; k++) free(c->in[k]);
    free(c->cond); free(c->out); free(c->R);
    fno_free(&c->m);
}

// directional check of the vector v (n) whose analytic gradient is g
static int dir_check(net_case *c, float *v, const float *g, size_t n, uint64_t key, const char *what)
{
    double rms = 0;
    for (size_t i = 0; i < n; i++) rms += (double)v[i] * v[i];
    rms = sqrt(rms / n);
    if (rms < 1e-3) rms = 1e-3;
    float *d = randv(n, key, 1.0), *v0 = malloc(n * sizeof(float));
    memcpy(v0, v, n * sizeof(float));
    double h = 1e-2 * rms, an = 0;
    for (size_t i = 0; i < n; i++) an += (double)g[i] * d[i];
    for (size_t i = 0; i < n; i++) v[i] = v0[i] + (float)(h * d[i]);
    double lp = loss(c);
    for (size_t i = 0; i < n; i++) v[i] = v0[i] - (float)(h * d[i]);
    double lm = loss(c);
    memcpy(v, v0, n * sizeof(float));
    double fd = (lp - lm) / (2 * h);
    double rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-12);
    int ok = rel < 2e-3 || fabs(fd - an) < 1e-6 * (fabs(lp) + fabs(lm) + 1) / h;
    if (!ok) printf("#   %-24s analytic %.8g  numeric %.8g  rel %.2e\n", what, an, fd, rel);
    free(d); free(v0);
    return ok;
}

static void grad_check(const fno_config *cfg, int B, int H, int W, const char *label)
{
    net_case c;
    eddy_err e;
    setup(&c, cfg, B, H, W);
    double l0 = loss(&c);
    fno_zero_grad(&c.m);
    float *din[FNO_MAX_BRANCH] = {0};
    for (int k = 0; k < cfg->nbranch; k++) din[k] = calloc(c.nin[k], sizeof(float));
    CHECK(fno_backward(&c.m, c.R, din, FNO_GRAD_PARAMS | FNO_GRAD_INPUT, &e) == 0, "%s", e.msg);
    // the analytic gradient must not depend on whether params are wanted
    float *din2 = calloc(c.nin[0], sizeof(float));
    float *din2v[FNO_MAX_BRANCH] = {din2};
    CHECK(!isnan(loss(&c)), "forward");
    CHECK(fno_backward(&c.m, c.R, din2v, FNO_GRAD_INPUT, &e) == 0, "%s", e.msg);
    CHECK(!memcmp(din2, din[0], c.nin[0] * sizeof(float)), "%s: input gradient alone differs", label);
    float *g = malloc(c.m.nparams * sizeof(float));
    memcpy(g, c.m.grads, c.m.nparams * sizeof(float));
    int bad = 0, nt = 0;
    for (int t = 0; t < c.m.ntensors; t++) {
        fno_tensor *T = &c.m.tensors[t];
        if (!T->trainable) continue;
        nt++;
        bad += !dir_check(&c, T->data, g + T->offset, T->count, 500 + t, T->name);
    }
    for (int k = 0; k < cfg->nbranch; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "input of branch %d", k);
        bad += !dir_check(&c, c.in[k], din[k], c.nin[k], 900 + k, nm);
    }
    NOTE("%s: %d parameter tensors (%zu floats) + %d inputs checked, loss %.4g, |g| %.3g",
         label, nt, c.m.nparams, cfg->nbranch, l0, fno_grad_norm(&c.m));
    CHECK(bad == 0, "%s: %d directional checks failed", label, bad);
    for (int k = 0; k < cfg->nbranch; k++) free(din[k]);
    free(din2); free(g);
    teardown(&c);
}

static void small_branch(fno_branch_cfg *b, int in, int width, int layers, int my, int mx)
{
    memset(b, 0, sizeof *b);
    b->in = in; b->width = width; b->layers = layers;
    b->modes[0] = my; b->modes[1] = mx;
    b->grid = 1;
}

static void test_grad_2d_film_gelu_even(void)
{
    fno_config c;
    fno_config_default(&c);
    small_branch(&c.branch[0], 2, 6, 3, 4, 5);    // 8×8 grid: Nyquist row and column kept
    c.branch[0].nlift = 1; c.branch[0].lift[0] = 5;
    c.branch[0].nproj = 1; c.branch[0].proj[0] = 7; c.branch[0].out = 2;
    c.branch[0].cond = FNO_COND_FILM;
    c.emb = FNO_EMB_GAUSSIAN; c.emb_size = 8; c.emb_scale = 1.0; c.emb_hidden = 6; c.emb_act = FNO_SILU;
    grad_check(&c, 2, 8, 8, "2-D 8x8 FiLM GELU");
}

static void test_grad_2d_odd_silu_bias(void)
{
    fno_config c;
    fno_config_default(&c);
    c.act = FNO_SILU;
    c.length[0] = 1.0; c.length[1] = 3.0;
    small_branch(&c.branch[0], 1, 5, 2, 3, 4);    // 7×9 grid
    c.branch[0].out = 1;
    c.branch[0].cond = FNO_COND_BIAS;
    c.emb = FNO_EMB_SINUSOIDAL; c.emb_size = 6; c.emb_scale = 100.0; c.emb_hidden = 4; c.emb_act = FNO_GELU;
    grad_check(&c, 3, 7, 9, "2-D 7x9 bias SiLU");
}

static void test_grad_1d(void)
{
    fno_config c;
    fno_config_default(&c);
    c.dims = 1;
    c.act = FNO_SILU;
    small_branch(&c.branch[0], 3, 6, 3, 7, 0);    // 12 points: 7 modes reach the Nyquist
    c.branch[0].nproj = 2; c.branch[0].proj[0] = 5; c.branch[0].proj[1] = 4; c.branch[0].out = 2;
    c.branch[0].cond = FNO_COND_FILM;
    c.emb = FNO_EMB_SINUSOIDAL; c.emb_size = 4; c.emb_scale = 10.0; c.emb_hidden = 5; c.emb_act = FNO_SILU;
    grad_check(&c, 2, 1, 12, "1-D 12 FiLM SiLU");
    small_branch(&c.branch[0], 2, 4, 2, 4, 0);    // 9 points, odd
    c.branch[0].grid = 0; c.branch[0].out = 1;
    c.emb = FNO_EMB_NONE;
    grad_check(&c, 2, 1, 9, "1-D 9 plain");
}

static void test_grad_three_branches(void)
{
    // the closure score net in miniature: branch 0 conditioned (bias), no
    // projection in the branches, a fusion MLP to one channel
    fno_config c;
    fno_config_default(&c);
    c.nbranch = 3;
    for (int k = 0; k < 3; k++) {
        small_branch(&c.branch[k], 1, 4, 2, 3, 3);
        c.branch[k].out = 0;
    }
    c.branch[0].cond = FNO_COND_BIAS;
    c.branch[2].width = 3;
    c.nfuse = 2; c.fuse[0] = 6; c.fuse[1] = 5; c.out = 1;
    c.emb = FNO_EMB_GAUSSIAN; c.emb_size = 8; c.emb_scale = 2.0; c.emb_hidden = 6; c.emb_act = FNO_SILU;
    grad_check(&c, 2, 6, 8, "3 branches 6x8");
}

// A model applied to a band-limited field at 64² and 128²: the spectral part
// is exact for band-limited data and the pointwise parts act per point, but
// the activations create harmonics beyond the grid's Nyquist that alias
// differently; the outputs agree to a stated 2 % of their range.
static void test_resolution_independence(void)
{
    fno_config c;
    fno_config_default(&c);
    small_branch(&c.branch[0], 1, 8, 3, 6, 6);
    c.branch[0].nproj = 1; c.branch[0].proj[0] = 16; c.branch[0].out = 1;
    fno m;
    eddy_err e;
    CHECK(fno_create(&m, &c, 5, &e) == 0, "%s", e.msg);
    int n1 = 64, n2 = 128;
    float *a = malloc(n1 * n1 * 4), *b = malloc(n2 * n2 * 4), *oa = malloc(n1 * n1 * 4), *ob = malloc(n2 * n2 * 4);
    for (int s = 0; s < 2; s++) {
        int n = s ? n2 : n1;
        float *f = s ? b : a;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double y = 2 * M_PI * i / n, x = 2 * M_PI * j / n;
                f[i * n + j] = (float)(sin(x) + 0.5 * cos(2 * y) + 0.3 * sin(x + 3 * y) + 0.2 * cos(4 * x - y));
            }
    }
    const float *ia[1] = {a}, *ib[1] = {b};
    CHECK(fno_forward(&m, ia, NULL, 1, n1, n1, oa, &e) == 0, "%s", e.msg);
    CHECK(fno_forward(&m, ib, NULL, 1, n2, n2, ob, &e) == 0, "%s", e.msg);
    double md = 0, lo = 1e30, hi = -1e30;
    for (int i = 0; i < n1; i++)
        for (int j = 0; j < n1; j++) {
            double va = oa[i * n1 + j], vb = ob[(2 * i) * n2 + 2 * j];
            md = fmax(md, fabs(va - vb));
            lo = fmin(lo, va);
            hi = fmax(hi, va);
        }
    NOTE("64² vs 128² at shared points: max |diff| %.3g, output range %.3g (%.2f %%)", md, hi - lo,
         100 * md / (hi - lo));
    CHECK(md < 0.02 * (hi - lo), "outputs differ by %g of range %g", md, hi - lo);
    // the same model rejects a grid too small for its modes
    CHECK(fno_forward(&m, ia, NULL, 1, 10, 10, oa, &e) != 0, "10x10 cannot hold 6 modes");
    free(a); free(b); free(oa); free(ob);
    fno_free(&m);
}

// Same inputs at 1 and 2 threads give the same bytes (forward and gradients).
static void test_thread_determinism(void)
{
    fno_config c;
    fno_config_default(&c);
    small_branch(&c.branch[0], 2, 12, 3, 6, 7);
    c.branch[0].nproj = 1; c.branch[0].proj[0] = 16; c.branch[0].out = 1;
    c.branch[0].cond = FNO_COND_FILM;
    c.emb = FNO_EMB_GAUSSIAN; c.emb_size = 16; c.emb_scale = 4; c.emb_hidden = 8; c.emb_act = FNO_SILU;
    float *out[2], *grads[2], *dins[2];
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r + 1);
        net_case nc;
        eddy_err e;
        setup(&nc, &c, 6, 24, 20);
        loss(&nc);
        fno_zero_grad(&nc.m);
        dins[r] = calloc(nc.nin[0], 4);
        float *dv[1] = {dins[r]};
        CHECK(fno_backward(&nc.m, nc.R, dv, FNO_GRAD_PARAMS | FNO_GRAD_INPUT, &e) == 0, "%s", e.msg);
        out[r] = malloc(nc.nouts * 4);
        memcpy(out[r], nc.out, nc.nouts * 4);
        grads[r] = malloc(nc.m.nparams * 4);
        memcpy(grads[r], nc.m.grads, nc.m.nparams * 4);
        if (r == 1) {
            CHECK(!memcmp(out[0], out[1], nc.nouts * 4), "forward differs between 1 and 2 threads");
            CHECK(!memcmp(grads[0], grads[1], nc.m.nparams * 4), "gradients differ between 1 and 2 threads");
            CHECK(!memcmp(dins[0], dins[1], nc.nin[0] * 4), "input gradients differ between 1 and 2 threads");
        }
        teardown(&nc);
    }
    omp_set_num_threads(1);
    for (int r = 0; r < 2; r++) { free(out[r]); free(grads[r]); free(dins[r]); }
}

int main(void)
{
    omp_set_num_threads(1);
    RUN(test_grad_2d_film_gelu_even);
    RUN(test_grad_2d_odd_silu_bias);
    RUN(test_grad_1d);
    RUN(test_grad_three_branches);
    RUN(test_resolution_independence);
    RUN(test_thread_determinism);
    return check_done();
}
