// The training-time pieces of the closure score model added beyond the
// reference: the focused noise-level draw against the closed form of its
// mixture law, and the input scale c_in against its definition.
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "check.h"
#include "closure_score.h"
#include "vesde.h"

static void test_draw_t(void)
{
    // A mixture of U(a, f) with weight p and U(a, b) with 1 − p: mean
    // p (a + f)/2 + (1 − p)(a + b)/2, P(t <= f) = p + (1 − p)(f − a)/(b − a).
    cs_train_opts o = {.sigma0 = 26, .t_min = 2e-5, .t_max = 1, .t_focus = 0.1, .focus_frac = 0.7};
    const double a = o.t_min, b = o.t_max, f = o.t_focus, p = o.focus_frac;
    const int n = 200000;
    double sum = 0, below = 0, lo = 1e9, hi = -1;
    for (int i = 0; i < n; i++) {
        eddy_rng r;
        rng_init(&r, 42, (uint64_t)i, 0, 7);
        double t = cs_draw_t(&o, &r);
        sum += t, below += t <= f;
        lo = fmin(lo, t), hi = fmax(hi, t);
    }
    double mean = p * (a + f) / 2 + (1 - p) * (a + b) / 2;
    double pb = p + (1 - p) * (f - a) / (b - a);
    // second moment of the mixture, for the standard error of the mean
    double m2 = p * (f * f + f * a + a * a) / 3 + (1 - p) * (b * b + b * a + a * a) / 3;
    double se = sqrt((m2 - mean * mean) / n);
    CHECK_CLOSE(sum / n, mean, 5 * se, "focused mean");
    CHECK_CLOSE(below / n, pb, 5 * sqrt(pb * (1 - pb) / n), "P(t <= t_focus)");
    CHECK(lo >= a && hi < b, "range [%g, %g]", lo, hi);
    // Focus off: plain U(t_min, t_max), and the same stream as vesde_draw_t.
    o.t_focus = 0;
    for (int i = 0; i < 100; i++) {
        eddy_rng r1, r2;
        rng_init(&r1, 1, (uint64_t)i, 0, 0), rng_init(&r2, 1, (uint64_t)i, 0, 0);
        double t1 = cs_draw_t(&o, &r1), t2 = vesde_draw_t(&r2, a, b);
        CHECK(t1 == t2, "focus off must be the reference draw: %g vs %g", t1, t2);
    }
}

static void test_c_in(void)
{
    CHECK(cs_c_in(0, 0.3) == 1, "no preconditioning: c_in = 1");
    CHECK_REL(cs_c_in(0.4, 0.3), 2.0, 1e-15, "1/sqrt(0.09 + 0.16)");
    CHECK_REL(cs_c_in(0.1, 10), 1 / sqrt(100.01), 1e-15, "large sigma");
}

// A preconditioned score fed two grids in turn with the same batch size (a
// stream of 16² and 32² condition records, as closure-cond writes without
// --grid): the scratch of the scaled input must grow with B·H·W, not with B
// alone.  Before the fix the 32² call wrote 4× past the 16² buffer (caught
// by the ASan build of this test).
static void test_score_two_grids(void)
{
    cs_arch a;
    cs_arch_default(&a);
    a.with_obs = 0, a.width = 4, a.layers = 1, a.modes = 4, a.emb_size = 8, a.emb_hidden = 8;
    a.nfuse = 1, a.fuse[0] = 4;
    fno_config cfg;
    eddy_err e;
    fno m;
    CHECK(cs_config(&a, &cfg, &e) == 0 && fno_create(&m, &cfg, 3, &e) == 0, "model: %s", e.msg);
    const int B = 2, nmax = 32 * 32 * B;
    float *x = calloc(nmax, sizeof *x), *V = calloc(nmax, sizeof *V), *out = calloc(nmax, sizeof *out);
    cs_ctx c = {.m = &m, .sigma0 = 26, .sigma_data = 0.5, .V = V};
    const int grids[] = {16, 32, 16};
    for (int k = 0; k < 3; k++) {
        int n = grids[k];
        c.H = c.W = n;
        for (int i = 0; i < B * n * n; i++) x[i] = (float)sin(0.1 * i);
        CHECK(cs_score(&c, x, B, 0.05, out, &e) == 0, "score at %d²: %s", n, e.msg);
        int finite = 1;
        for (int i = 0; i < B * n * n; i++) finite &= isfinite(out[i]) != 0;
        CHECK(finite, "finite score at %d²", n);
    }
    cs_ctx_free(&c);
    free(x), free(V), free(out);
    fno_free(&m);
}

// A model trained on strided fields applied to Fourier-truncated ones is
// flagged; the same method, a solver-grid field ("none") or a missing
// attribute is not.
static void test_resample_mismatch(void)
{
    tsr_record h, r;
    tsr_record_init(&h), tsr_record_init(&r);
    eddy_err e;
    CHECK(cs_resample_mismatch(&h, &r, &e) == 0, "no attributes: no mismatch");
    tsr_attr_set(&h, "resample", "stride");
    CHECK(cs_resample_mismatch(&h, &r, &e) == 0, "record without the attribute");
    tsr_attr_set(&r, "resample", "stride");
    CHECK(cs_resample_mismatch(&h, &r, &e) == 0, "stride and stride");
    tsr_attr_set(&r, "resample", "none");
    CHECK(cs_resample_mismatch(&h, &r, &e) == 0, "a solver-grid record");
    tsr_attr_set(&r, "resample", "fourier");
    CHECK(cs_resample_mismatch(&h, &r, &e) == 1, "stride model, fourier data");
    CHECK(strstr(e.msg, "stride") && strstr(e.msg, "fourier"), "message names both: %s", e.msg);
    tsr_record_free(&h), tsr_record_free(&r);
}

int main(void)
{
    RUN(test_resample_mismatch);
    RUN(test_score_two_grids);
    RUN(test_draw_t);
    RUN(test_c_in);
    return check_done();
}
