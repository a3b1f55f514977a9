// The training objectives as lib/train.h runs them: for each (the VE-SDE
// score loss of the closure model; the PDD increment loss; the two DDPM
// baselines) one whole training step's loss and parameter gradient, against
// centred finite differences of the same objective (same batch, same step,
// so the same keyed noise) along a random direction per tensor.  float32
// networks: the stated tolerance is a relative 5e-3 (truncation O(h²) ≈ 1e-4
// at h = 1e-2 of the tensor's rms, rounding of the loss ~1e-7 |L|/h), as in
// test_fno_net.c.  Also: the shares of a batch (the data-parallel seam) sum
// to the whole batch's loss and gradient, and train_share tiles the batch.
// The loop itself on a toy objective: a diverging run stops naming the step
// and never saves a state that is not finite; a resumed run's log is cut
// back to its checkpoint's step (torn last row included).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "closure_score.h"
#include "pdd_net.h"
#include "rng.h"
#include "train.h"

static float *randf(size_t n, uint64_t key)
{
    float *v = malloc(n * sizeof *v);
    eddy_rng r;
    rng_init(&r, 11, key, 0, 0);
    for (size_t i = 0; i < n; i++) v[i] = (float)rng_normal(&r);
    return v;
}

static double run(const train_model *tm, const train_batch *b)
{
    eddy_err e;
    double L = NAN;
    memset(tm->grads, 0, tm->nparams * sizeof(float));
    if (tm->objective(tm->objective_ctx, b, &L, &e)) CHECK(0, "objective: %s", e.msg);
    return L;
}

// Directional check of every trainable tensor of m; returns the worst relative error.
static void step_check(const train_model *tm, const train_batch *b, fno *m, const char *label)
{
    run(tm, b);
    float *g = malloc(tm->nparams * sizeof *g);
    memcpy(g, tm->grads, tm->nparams * sizeof *g);
    double worst = 0;
    int bad = 0, checked = 0;
    for (int t = 0; t < m->ntensors; t++) {
        fno_tensor *x = &m->tensors[t];
        if (!x->trainable) continue;
        size_t n = x->count;
        double rms = 0, an = 0;
        for (size_t i = 0; i < n; i++) rms += (double)x->data[i] * x->data[i];
        rms = fmax(sqrt(rms / n), 1e-3);
        float *d = randf(n, (uint64_t)t), *v0 = malloc(n * sizeof *v0);
        memcpy(v0, x->data, n * sizeof *v0);
        double h = 1e-2 * rms;
        for (size_t i = 0; i < n; i++) an += (double)g[x->offset + i] * d[i];
        for (size_t i = 0; i < n; i++) x->data[i] = v0[i] + (float)(h * d[i]);
        double lp = run(tm, b);
        for (size_t i = 0; i < n; i++) x->data[i] = v0[i] - (float)(h * d[i]);
        double lm = run(tm, b);
        memcpy(x->data, v0, n * sizeof *v0);
        double fd = (lp - lm) / (2 * h), rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-12);
        int ok = rel < 5e-3 || fabs(fd - an) < 1e-6 * (fabs(lp) + fabs(lm) + 1) / h;
        if (!ok) NOTE("%s %s: analytic %.8g numeric %.8g rel %.2e", label, x->name, an, fd, rel);
        bad += !ok, checked++;
        if (ok && rel > worst) worst = rel;
        free(d), free(v0);
    }
    NOTE("%s: %d tensors, worst relative error %.1e", label, checked, worst);
    CHECK(bad == 0 && checked > 0, "%s: %d of %d tensors disagree with finite differences", label,
          bad, checked);
    free(g);
}

// The shares [0, 1) and [1, B) of a batch sum to the whole batch.
static void share_check(const train_model *tm, const train_batch *b, const char *label)
{
    size_t n = tm->nparams;
    double L = run(tm, b);
    float *g = malloc(n * sizeof *g), *gs = calloc(n, sizeof *gs);
    memcpy(g, tm->grads, n * sizeof *g);
    train_batch p = *b;
    double Ls = 0;
    for (int k = 0; k < 2; k++) {
        p.b0 = k ? 1 : 0, p.nb = k ? b->B - 1 : 1;
        Ls += run(tm, &p);
        for (size_t i = 0; i < n; i++) gs[i] += tm->grads[i];
    }
    double dg = 0, ng = 0;
    for (size_t i = 0; i < n; i++) dg += (double)(g[i] - gs[i]) * (g[i] - gs[i]), ng += (double)g[i] * g[i];
    CHECK_REL(Ls, L, 1e-5, label);
    CHECK(sqrt(dg) <= 1e-4 * sqrt(ng), "%s: shares' gradient off by %.2e of its norm", label,
          sqrt(dg / ng));
    free(g), free(gs);
}

static void test_closure_objective(void)
{
    cs_arch a;
    cs_arch_default(&a);
    a.width = 4, a.layers = 1, a.modes = 3, a.emb_size = 8, a.emb_hidden = 8, a.nfuse = 1, a.fuse[0] = 6;
    fno_config cfg;
    eddy_err e;
    fno m;
    CHECK(cs_config(&a, &cfg, &e) == 0 && fno_create(&m, &cfg, 5, &e) == 0, "model: %s", e.msg);
    const int n = 4, H = 8, W = 8;
    cs_data d = {.n = n, .H = H, .W = W};
    d.U = randf((size_t)n * H * W, 1), d.V = randf((size_t)n * H * W, 2), d.Y = randf((size_t)n * H * W, 3);
    for (int pre = 0; pre < 2; pre++) {
        cs_objective ob = {.m = &m, .d = &d,
                           .opts = {.sigma0 = 26, .t_min = 0.05, .t_max = 1, .sigma_data = pre ? 0.7 : 0}};
        train_model tm = {m.params, m.grads, m.nparams, cs_objective_grad, &ob, NULL, NULL};
        long idx[] = {2, 0, 3};
        train_batch b = {.idx = idx, .B = 3, .b0 = 0, .nb = 3, .step = 4, .seed = 9};
        step_check(&tm, &b, &m, pre ? "VE-SDE, preconditioned" : "VE-SDE");
        share_check(&tm, &b, "VE-SDE shares");
        cs_objective_free(&ob);
    }
    free(d.U), free(d.V), free(d.Y);
    fno_free(&m);
}

// P random paths of n's geometry (seeded), standardised with their own
// constants, as pd-train hands them to the objective: (P, T, C, S).
static double *standardised_paths(pdd_net *n, long P, uint64_t seed)
{
    const long npath = (long)n->g.T * n->g.C * pdd_geom_points(&n->g);
    double *u = malloc((size_t)(P * npath) * sizeof *u);
    float *r = randf((size_t)(P * npath), seed);
    for (long i = 0; i < P * npath; i++) u[i] = r[i];
    free(r);
    pdd_net_fit_standardisation(n, u, P);
    pdd_net_standardise(n, u, P * n->g.T);
    return u;
}

static void test_pdd_objectives(void)
{
    const char *names[] = {"PDD", "DDPM-gen", "DDPM-cond"};
    pdd_objective objs[] = {PDD_OBJ_PDD, PDD_OBJ_DDPM_GEN, PDD_OBJ_DDPM_COND};
    for (int k = 0; k < 3; k++) {
        pdd_geom g = {.T = 4, .C = 2, .dims = 1, .n = {16, 0}, .L = 2 * M_PI, .W = 2};
        pdd_process p = objs[k] == PDD_OBJ_PDD ? pdd_process_rg(0.1, sqrt(2)) : pdd_process_vp(3);
        pdd_arch a;
        pdd_arch_default(&a);
        a.width = 4, a.layers = 1, a.modes = 4, a.emb_size = 8, a.emb_hidden = 8;
        pdd_net n;
        eddy_err e;
        CHECK(pdd_net_create(&n, objs[k], &g, &p, &a, 7, &e) == 0, "%s: %s", names[k], e.msg);
        double *u = standardised_paths(&n, 3, 20 + k);
        n.max_batch = 5;   // several FNO calls per step
        pdd_train_ctx ob = {&n, u};
        train_model tm = pdd_net_train_model(&n, &ob, NULL);
        long idx[] = {1, 2, 0};
        train_batch b = {.idx = idx, .B = 3, .b0 = 0, .nb = 3, .step = 2, .seed = 13};
        step_check(&tm, &b, &n.m, names[k]);
        share_check(&tm, &b, names[k]);
        free(u);
        pdd_net_free(&n);
    }
}

// The same objectives on the U-Net (lib/pdd_net.h PDD_ARCH_UNET): the
// gradient through pdd_objective_grad along a random direction, against
// centred finite differences, for every 12th tensor and the attention's (the
// layers themselves are checked one by one in test_unet), and the batch shares.
static void test_pdd_unet_objectives(void)
{
    const char *names[] = {"U-Net PDD", "U-Net DDPM-gen", "U-Net DDPM-cond"};
    pdd_objective objs[] = {PDD_OBJ_PDD, PDD_OBJ_DDPM_GEN, PDD_OBJ_DDPM_COND};
    for (int k = 0; k < 3; k++) {
        pdd_geom g = {.T = 4, .C = 2, .dims = 1, .n = {16, 0}, .L = 2 * M_PI, .W = 2};
        pdd_process p = objs[k] == PDD_OBJ_PDD ? pdd_process_rg(0.1, sqrt(2)) : pdd_process_vp(3);
        pdd_arch a;
        pdd_arch_default(&a);
        a.kind = PDD_ARCH_UNET;
        a.unet_base = 4, a.unet_levels = 2, a.unet_ch[0] = 4, a.unet_ch[1] = 8, a.unet_nres = 1;
        a.unet_groups = 2, a.unet_heads = 2, a.unet_emb_size = 8, a.unet_emb_hidden = 8;
        pdd_net n;
        eddy_err e;
        CHECK(pdd_net_create(&n, objs[k], &g, &p, &a, 7, &e) == 0, "%s: %s", names[k], e.msg);
        double *u = standardised_paths(&n, 3, 20 + k);
        n.max_batch = 5;   // several network calls per step
        pdd_train_ctx ob = {&n, u};
        train_model tm = pdd_net_train_model(&n, &ob, NULL);
        CHECK(tm.params == n.u.params && tm.nparams == n.u.nparams, "%s: not the U-Net's buffer", names[k]);
        long idx[] = {1, 2, 0};
        train_batch b = {.idx = idx, .B = 3, .b0 = 0, .nb = 3, .step = 2, .seed = 13};
        run(&tm, &b);
        float *gr = malloc(tm.nparams * sizeof *gr);
        memcpy(gr, tm.grads, tm.nparams * sizeof *gr);
        int bad = 0, checked = 0;
        double worst = 0;
        for (int t = 0; t < n.u.ntensors; t++) {
            unet_tensor *x = &n.u.tensors[t];
            if (t % 12 && strcmp(x->name, "mid.attn.qkv.w")) continue;
            checked++;
            size_t cnt = x->count;
            double rms = 0, an = 0;
            for (size_t i = 0; i < cnt; i++) rms += (double)x->data[i] * x->data[i];
            rms = fmax(sqrt(rms / cnt), 1e-2);
            float *d = randf(cnt, (uint64_t)t), *v0 = malloc(cnt * sizeof *v0);
            memcpy(v0, x->data, cnt * sizeof *v0);
            double h = 1e-2 * rms;
            for (size_t i = 0; i < cnt; i++) an += (double)gr[x->offset + i] * d[i];
            for (size_t i = 0; i < cnt; i++) x->data[i] = v0[i] + (float)(h * d[i]);
            double lp = run(&tm, &b);
            for (size_t i = 0; i < cnt; i++) x->data[i] = v0[i] - (float)(h * d[i]);
            double lm = run(&tm, &b);
            memcpy(x->data, v0, cnt * sizeof *v0);
            double fd = (lp - lm) / (2 * h), rel = fabs(fd - an) / (fabs(fd) + fabs(an) + 1e-12);
            int ok = rel < 5e-3 || fabs(fd - an) < 1e-6 * (fabs(lp) + fabs(lm) + 1) / h;
            if (!ok) NOTE("%s %s: analytic %.8g numeric %.8g rel %.2e", names[k], x->name, an, fd, rel);
            bad += !ok;
            if (ok && rel > worst) worst = rel;
            free(d), free(v0);
        }
        NOTE("%s: %d tensors, worst relative error %.1e", names[k], checked, worst);
        CHECK(bad == 0, "%s: %d of %d tensors disagree with finite differences", names[k], bad, checked);
        free(gr);
        share_check(&tm, &b, names[k]);
        free(u);
        pdd_net_free(&n);
    }
}

static void test_share(void)
{
    for (int B = 1; B <= 9; B++)
        for (int R = 1; R <= 4; R++) {
            int next = 0, ok = 1;
            for (int rank = 0; rank < R; rank++) {
                int b0, nb;
                train_share(B, rank, R, &b0, &nb);
                ok &= b0 == next && nb >= B / R && nb <= B / R + 1;
                next = b0 + nb;
            }
            CHECK(ok && next == B, "train_share(%d, ·, %d) must tile the batch", B, R);
        }
}

// The toy model of the loop tests: loss sum p², gradient 2p; the save hook
// records each save's step and whether what it was given was finite.
typedef struct {
    float p[4], g[4];
    long saves, last_step;
    int saved_nonfinite;
} toy;

static int toy_objective(void *ctx, const train_batch *b, double *loss, eddy_err *e)
{
    toy *t = ctx;
    double s = 0;
    for (int i = 0; i < 4; i++) s += (double)t->p[i] * t->p[i], t->g[i] += 2 * t->p[i];
    *loss = s;
    return 0;
}

static int toy_save(void *ctx, const char *path, const adam *opt, eddy_err *e)
{
    toy *t = ctx;
    for (int i = 0; i < 4; i++)
        if (!isfinite(t->p[i]) || !isfinite(opt->m[i]) || !isfinite(opt->v[i])) t->saved_nonfinite = 1;
    t->saves++, t->last_step = opt->t;
    return 0;
}

static void test_divergence(void)
{
    // A rate of 1e37 takes p to ~1e37 in one step; the next squared gradient
    // overflows float in Adam's second moment.
    for (int every = 1; every <= 2; every++) {
        toy t = {.p = {1, -2, 3, -4}};
        train_model tm = {t.p, t.g, 4, toy_objective, &t, toy_save, &t};
        train_opts o;
        train_opts_default(&o);
        o.nsamples = 1, o.steps = 10, o.ckpt_every = every, o.out = "toy.model";
        adam opt;
        eddy_err e;
        CHECK(train_adam(&opt, 4, 1e37, 0, 1, &e) == 0, "adam: %s", e.msg);
        int rc = train_run(&tm, &opt, &o, NULL, &e);
        CHECK(rc != 0, "every %d: a diverging run must fail", every);
        CHECK(!t.saved_nonfinite, "every %d: a state that is not finite was saved", every);
        CHECK(rc != 0 && strstr(e.msg, "step 2: training diverged"), "every %d: message '%s'",
              every, e.msg);
        if (every == 1)
            CHECK(t.saves == 1 && t.last_step == 1 && strstr(e.msg, "keeps the checkpoint of step 1"),
                  "every 1: the checkpoint of step 1 is the last good one (saves %ld, last %ld: '%s')",
                  t.saves, t.last_step, e.msg);
        else
            CHECK(t.saves == 0 && strstr(e.msg, "wrote no checkpoint"), "every 2: %ld saves, '%s'",
                  t.saves, e.msg);
        adam_free(&opt);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_log_resume(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_train_log.%d", (int)getpid());
    static const char *const cases[][2] = {
        // what the killed run left, what the run resumed at step 2 keeps
        {"step\tepoch\tlr\tloss\tseconds\n1\t0\t1\t5\t0.1\n2\t0\t1\t4\t0.2\n3\t0\t1\t3\t0.3\n4\t0\t1\t2",
         "step\tepoch\tlr\tloss\tseconds\n1\t0\t1\t5\t0.1\n2\t0\t1\t4\t0.2\n"},
        {"step\tepoch\tlr\tloss\tseconds\n1\t0\t1\t5\t0.1\n2\t0\t1\t4",      // torn at step 2
         "step\tepoch\tlr\tloss\tseconds\n1\t0\t1\t5\t0.1\n"},
        {"step\tepoch\tlr\tlo", "step\tepoch\tlr\tloss\tseconds\n"},          // torn header
        {"", "step\tepoch\tlr\tloss\tseconds\n"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        FILE *f = fopen(path, "w");
        fputs(cases[c][0], f);
        fclose(f);
        eddy_err e;
        f = train_log_open(path, 2, &e);
        CHECK(f != NULL, "case %zu: %s", c, e.msg);
        if (!f) continue;
        fputs("X\n", f);
        fclose(f);
        char want[256];
        snprintf(want, sizeof want, "%sX\n", cases[c][1]);
        const char *got = slurp(path);
        CHECK(got && !strcmp(got, want), "case %zu: the resumed log is\n%s\nwant\n%s", c, got, want);
    }
    unlink(path);
    eddy_err e;
    FILE *f = train_log_open(path, 5, &e);   // resumed with a log that was never started
    CHECK(f != NULL, "missing log: %s", e.msg);
    if (f) fclose(f);
    const char *got = slurp(path);
    CHECK(got && !strcmp(got, "step\tepoch\tlr\tloss\tseconds\n"), "missing log: '%s'", got);
    unlink(path);
}

int main(void)
{
    RUN(test_divergence);
    RUN(test_log_resume);
    RUN(test_share);
    RUN(test_closure_objective);
    RUN(test_pdd_objectives);
    RUN(test_pdd_unet_objectives);
    return check_done();
}
