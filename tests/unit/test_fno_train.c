// Training: Adam fits a known linear operator (ω ↦ ψ, −Δψ = ω, on a 2π-periodic
// 16² grid) to < 1 % relative error on held-out fields; checkpoints round-trip
// bit for bit with caller attributes; a run resumed from a checkpoint equals
// the uninterrupted run bit for bit; a truncated checkpoint is refused.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adam.h"
#include "check.h"
#include "checkpoint.h"
#include "fno.h"
#include "rng.h"

enum { N = 16, KMAX = 4 };

// A random band-limited ω (|n_x|, |n_y| ≤ KMAX, mean 0) and its ψ = Δ⁻¹(−ω),
// both evaluated exactly from the Fourier sum, keyed by (step, sample).
static void make_pair(float *w, float *psi, uint64_t step, int sample)
{
    eddy_rng r;
    rng_init(&r, 2024, step, (uint64_t)sample, 1);
    double a[2 * KMAX + 1][KMAX + 1], b[2 * KMAX + 1][KMAX + 1];
    for (int i = 0; i <= 2 * KMAX; i++)
        for (int j = 0; j <= KMAX; j++) {
            a[i][j] = rng_normal(&r);
            b[i][j] = rng_normal(&r);
        }
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            double sw = 0, sp = 0;
            for (int i = 0; i <= 2 * KMAX; i++)
                for (int j = 0; j <= KMAX; j++) {
                    int ky = i - KMAX, kx = j;
                    if (kx == 0 && ky <= 0) continue;   // each real mode once, no mean
                    double th = 2 * M_PI * (kx * x + ky * y) / N;
                    double v = a[i][j] * cos(th) + b[i][j] * sin(th);
                    sw += v;
                    sp += v / (kx * kx + ky * ky);
                }
            w[y * N + x] = (float)(sw / 4);
            psi[y * N + x] = (float)(sp / 4 * 4);   // ψ scaled ×4 so it is O(1)
        }
}

static void lap_config(fno_config *c)
{
    fno_config_default(c);
    fno_branch_cfg *b = &c->branch[0];
    b->in = 1;
    b->width = 8;
    b->layers = 1;
    b->modes[0] = b->modes[1] = KMAX + 1;
    b->nproj = 0;
    b->out = 1;
    b->grid = 0;
}

// one Adam step on a batch keyed by the optimizer's step count; returns the loss
static double train_step(fno *m, adam *opt, int B, float *w, float *psi, float *out, float *dout)
{
    eddy_err e;
    for (int s = 0; s < B; s++) make_pair(w + s * N * N, psi + s * N * N, (uint64_t)opt->t, s);
    const float *in[1] = {w};
    if (fno_forward(m, in, NULL, B, N, N, out, &e)) return NAN;
    double l = 0;
    size_t n = (size_t)B * N * N;
    for (size_t i = 0; i < n; i++) {
        double d = out[i] - psi[i];
        l += d * d;
        dout[i] = (float)(2 * d / n);
    }
    fno_zero_grad(m);
    if (fno_backward(m, dout, NULL, FNO_GRAD_PARAMS, &e)) return NAN;
    adam_step(opt, m->params, m->grads);
    return l / n;
}

static double heldout_relerr(fno *m)
{
    enum { B = 16 };
    float *w = malloc(B * N * N * 4), *psi = malloc(B * N * N * 4), *out = malloc(B * N * N * 4);
    for (int s = 0; s < B; s++) make_pair(w + s * N * N, psi + s * N * N, 999999, s);
    const float *in[1] = {w};
    eddy_err e;
    double num = 0, den = 0;
    if (fno_forward(m, in, NULL, B, N, N, out, &e)) return NAN;
    for (int i = 0; i < B * N * N; i++) {
        num += (out[i] - psi[i]) * (double)(out[i] - psi[i]);
        den += (double)psi[i] * psi[i];
    }
    free(w); free(psi); free(out);
    return sqrt(num / den);
}

static void test_learn_inverse_laplacian(void)
{
    fno_config c;
    lap_config(&c);
    fno m;
    adam opt;
    adam_cfg ac;
    eddy_err e;
    CHECK(fno_create(&m, &c, 1, &e) == 0, "%s", e.msg);
    adam_cfg_default(&ac);
    ac.lr = 1e-2;
    ac.decay_every = 150;
    ac.decay_gamma = 0.5;
    CHECK(adam_init(&opt, &ac, m.nparams, &e) == 0, "%s", e.msg);
    enum { B = 8, STEPS = 300 };
    float *w = malloc(B * N * N * 4), *psi = malloc(B * N * N * 4), *out = malloc(B * N * N * 4),
          *dout = malloc(B * N * N * 4);
    double r0 = heldout_relerr(&m), l = 0;
    for (int s = 0; s < STEPS; s++) l = train_step(&m, &opt, B, w, psi, out, dout);
    double r1 = heldout_relerr(&m);
    NOTE("ω ↦ ψ: held-out relative L2 error %.4f before, %.2e after %d Adam steps (last loss %.3g, lr now %.3g)",
         r0, r1, STEPS, l, adam_lr(&opt));
    CHECK(r1 < 0.01, "relative error %g ≥ 1 %%", r1);
    free(w); free(psi); free(out); free(dout);
    adam_free(&opt);
    fno_free(&m);
}

static int same_params(const fno *a, const fno *b)
{
    return a->nparams == b->nparams && !memcmp(a->params, b->params, a->nparams * 4);
}

static void test_checkpoint_roundtrip_and_resume(void)
{
    char path[] = "/tmp/test_fno_ckpt_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    // a conditioned two-branch model exercises every record kind
    fno_config c;
    fno_config_default(&c);
    c.nbranch = 2;
    for (int k = 0; k < 2; k++) {
        fno_branch_cfg *b = &c.branch[k];
        memset(b, 0, sizeof *b);
        b->in = 1; b->width = 6; b->layers = 2; b->modes[0] = 3; b->modes[1] = 4; b->grid = 1;
    }
    c.branch[0].cond = FNO_COND_FILM;
    c.nfuse = 1; c.fuse[0] = 5; c.out = 1;
    c.emb = FNO_EMB_GAUSSIAN; c.emb_size = 8; c.emb_scale = 30; c.emb_hidden = 6; c.emb_act = FNO_SILU;
    fno m, m2;
    adam opt, opt2;
    adam_cfg ac;
    eddy_err e;
    CHECK(fno_create(&m, &c, 77, &e) == 0, "%s", e.msg);
    adam_cfg_default(&ac);
    ac.lr = 3e-3; ac.decay_every = 3; ac.weight_decay = 1e-4;
    CHECK(adam_init(&opt, &ac, m.nparams, &e) == 0, "%s", e.msg);
    enum { B = 3, H = 8, W = 10 };
    size_t n = (size_t)B * H * W;
    float *x0 = malloc(n * 4), *x1 = malloc(n * 4), *t = malloc(B * 4), *out = malloc(n * 4),
          *out2 = malloc(n * 4), *dout = malloc(n * 4);
    // training data keyed by the step, so a resumed run sees the same batches
    #define STEP(M, O)                                                              \
        do {                                                                        \
            eddy_rng r_;                                                            \
            rng_init(&r_, 5, (uint64_t)(O).t, 0, 0);                                \
            rng_normal_fill_f(&r_, x0, n);                                          \
            rng_normal_fill_f(&r_, x1, n);                                          \
            for (int i_ = 0; i_ < B; i_++) t[i_] = (float)rng_uniform(&r_);         \
            const float *in_[2] = {x0, x1};                                         \
            CHECK(fno_forward(&(M), in_, t, B, H, W, out, &e) == 0, "%s", e.msg);   \
            for (size_t i_ = 0; i_ < n; i_++) dout[i_] = out[i_] - x0[i_];          \
            fno_zero_grad(&(M));                                                    \
            CHECK(fno_backward(&(M), dout, NULL, FNO_GRAD_PARAMS, &e) == 0, "%s", e.msg); \
            adam_step(&(O), (M).params, (M).grads);                                 \
        } while (0)
    for (int s = 0; s < 4; s++) STEP(m, opt);
    tsr_record extra;
    tsr_record_init(&extra);
    tsr_attr_set_double(&extra, "sigma0", 26.0);
    tsr_attr_set(&extra, "norm.mean", "0.125");
    CHECK(ckpt_save(path, &m, &opt, &extra, &e) == 0, "%s", e.msg);
    int has = 0;
    tsr_record got;
    tsr_record_init(&got);
    CHECK(ckpt_load(path, &m2, &opt2, &has, &got, &e) == 0, "%s", e.msg);
    CHECK(has == 1 && opt2.t == 4, "optimizer state restored (has %d, t %ld)", has, opt2.t);
    CHECK(same_params(&m, &m2), "parameters round trip bit for bit");
    CHECK(!memcmp(m.frozen, m2.frozen, m.nfrozen * 4), "frozen embedding round trips");
    CHECK(!memcmp(opt.m, opt2.m, m.nparams * 4) && !memcmp(opt.v, opt2.v, m.nparams * 4), "moments round trip");
    double s0 = 0;
    CHECK(tsr_attr_double(&got, "sigma0", &s0, &e) == 0 && s0 == 26.0, "caller attribute kept");
    const float *in[2] = {x0, x1};
    CHECK(fno_forward(&m, in, t, B, H, W, out, &e) == 0, "%s", e.msg);
    CHECK(fno_forward(&m2, in, t, B, H, W, out2, &e) == 0, "%s", e.msg);
    CHECK(!memcmp(out, out2, n * 4), "loaded model gives the same outputs");
    // continue both: uninterrupted (m, opt) and resumed (m2, opt2)
    for (int s = 0; s < 5; s++) {
        STEP(m, opt);
        STEP(m2, opt2);
    }
    CHECK(same_params(&m, &m2) && opt.t == opt2.t, "resumed run equals the uninterrupted one bit for bit");
    // a truncated checkpoint is refused with a message
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc(len);
    CHECK(fread(bytes, 1, len, f) == (size_t)len, "read back");
    fclose(f);
    f = fopen(path, "wb");
    fwrite(bytes, 1, len - 40, f);
    fclose(f);
    fno m3;
    e.msg[0] = 0;
    CHECK(ckpt_load(path, &m3, NULL, NULL, NULL, &e) != 0, "truncated checkpoint loaded");
    NOTE("truncated checkpoint: %s", e.msg);
    free(bytes);
    unlink(path);
    tsr_record_free(&extra);
    tsr_record_free(&got);
    free(x0); free(x1); free(t); free(out); free(out2); free(dout);
    adam_free(&opt); adam_free(&opt2);
    fno_free(&m); fno_free(&m2);
}

// The update in blocks of 16 (SIMD) and in the scalar tail gives the same
// bits: 37 copies of one parameter stay identical, coupled and decoupled.
static void test_adam_lanes_agree(void)
{
    for (int dec = 0; dec < 2; dec++) {
        adam a;
        adam_cfg c;
        eddy_err e;
        adam_cfg_default(&c);
        c.lr = 0.05;
        c.weight_decay = 0.02;
        c.decoupled = dec;
        enum { N = 37 };
        CHECK(adam_init(&a, &c, N, &e) == 0, "%s", e.msg);
        float p[N], g[N];
        for (int t = 0; t < 3; t++) {
            for (int i = 0; i < N; i++) {
                if (t == 0) p[i] = 0.7f;
                g[i] = t == 1 ? -0.3f : 0.45f;
            }
            adam_step(&a, p, g);
        }
        int same = 1;
        for (int i = 1; i < N; i++) same &= !memcmp(&p[i], &p[0], sizeof(float));
        CHECK(same, "%s: lanes differ from the tail", dec ? "decoupled" : "coupled");
        adam_free(&a);
    }
}

static void test_adam_matches_formula(void)
{
    // two steps on known gradients against the closed form (torch.optim.Adam)
    adam a;
    adam_cfg c;
    eddy_err e;
    adam_cfg_default(&c);
    c.lr = 0.1;
    c.weight_decay = 0.01;
    CHECK(adam_init(&a, &c, 1, &e) == 0, "%s", e.msg);
    float p = 1.0f, g1 = 0.5f, g2 = -0.25f;
    adam_step(&a, &p, &g1);
    adam_step(&a, &p, &g2);
    double pp = 1.0, m = 0, v = 0, gs[2] = {0.5, -0.25};
    for (int t = 1; t <= 2; t++) {
        double g = gs[t - 1] + 0.01 * pp;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        pp -= 0.1 * (m / (1 - pow(0.9, t))) / (sqrt(v / (1 - pow(0.999, t))) + 1e-8);
    }
    CHECK_CLOSE(p, pp, 1e-6, "adam two steps");
    adam_free(&a);
    c.decay_every = 10;
    c.decay_gamma = 0.5;
    CHECK(adam_init(&a, &c, 1, &e) == 0, "%s", e.msg);
    a.t = 25;
    CHECK_CLOSE(adam_lr(&a), 0.025, 1e-15, "step decay after 25 steps");
    adam_free(&a);
}

int main(void)
{
    omp_set_num_threads(1);
    RUN(test_adam_matches_formula);
    RUN(test_adam_lanes_agree);
    RUN(test_checkpoint_roundtrip_and_resume);
    RUN(test_learn_inverse_laplacian);
    return check_done();
}
