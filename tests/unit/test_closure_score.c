// The training-time pieces of the closure score model added beyond the
// reference: the focused noise-level draw against the closed form of its
// mixture law, and the input scale c_in against its definition.
#include <math.h>

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

int main(void)
{
    RUN(test_draw_t);
    RUN(test_c_in);
    return check_done();
}
