#include "vesde.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Purposes of the random streams (the low bits of the rng's third key).
enum { KEY_INIT = 0, KEY_STEP = 1, KEY_BITS = 2 };

double vesde_g(double sigma0, double t) { return pow(sigma0, t); }

double vesde_std(double sigma0, double t)
{
    // expm1 keeps the small-t values accurate: σ_t ≈ √t as t → 0.
    return sqrt(expm1(2.0 * t * log(sigma0)) / (2.0 * log(sigma0)));
}

double vesde_time_of_std(double sigma0, double s)
{
    double l = log(sigma0);
    return log1p(2.0 * l * s * s) / (2.0 * l);
}

double vesde_draw_t(eddy_rng *r, double t_min, double t_max)
{
    return t_min + (t_max - t_min) * rng_uniform(r);
}

void vesde_perturb(eddy_rng *r, double sigma, const float *x0, float *z, float *xt, size_t n)
{
    rng_normal_fill_f(r, z, n);
    for (size_t i = 0; i < n; i++) xt[i] = (float)(x0[i] + sigma * z[i]);
}

double vesde_dsm_loss(double sigma, const float *s, const float *z, size_t n, double scale,
                      float *ds)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double r = sigma * s[i] + z[i];
        sum += r * r;
        if (ds) ds[i] += (float)(2.0 * scale * sigma * r);
    }
    return scale * sum;
}

int vesde_schedule_fill(vesde_schedule kind, double T, double t_min, double rho, int nsteps,
                        double *ts, eddy_err *e)
{
    if (nsteps < 1) return eddy_fail(e, "schedule needs at least 1 step, got %d", nsteps);
    if (!(T > 0) || !isfinite(T)) return eddy_fail(e, "schedule end time T must be > 0, got %g", T);
    if (kind == VESDE_SCHED_UNIFORM) {
        for (int i = 0; i <= nsteps; i++) ts[i] = T * (1.0 - (double)i / nsteps);
        ts[nsteps] = 0;
        return 0;
    }
    if (!(t_min > 0) || !(t_min < T))
        return eddy_fail(e, "karras schedule needs 0 < t_min < T, got t_min %g, T %g", t_min, T);
    if (!(rho > 0)) return eddy_fail(e, "karras schedule needs rho > 0, got %g", rho);
    // N − 1 intervals between T and t_min, then the final step to 0; a
    // single step goes straight from T to 0.
    double a = pow(T, 1.0 / rho), b = pow(t_min, 1.0 / rho);
    ts[0] = T;
    for (int i = 1; i < nsteps; i++) {
        double f = nsteps > 1 ? (double)i / (nsteps - 1) : 1.0;
        ts[i] = pow(a + f * (b - a), rho);
    }
    ts[nsteps] = 0;
    return 0;
}

int vesde_schedule_parse(const char *name, vesde_schedule *kind)
{
    if (!strcmp(name, "karras")) *kind = VESDE_SCHED_KARRAS;
    else if (!strcmp(name, "uniform")) *kind = VESDE_SCHED_UNIFORM;
    else return -1;
    return 0;
}

const char *vesde_schedule_name(vesde_schedule kind)
{
    return kind == VESDE_SCHED_KARRAS ? "karras" : "uniform";
}

int vesde_sampler_parse(const char *name, vesde_sampler *kind)
{
    if (!strcmp(name, "em")) *kind = VESDE_EM;
    else if (!strcmp(name, "heun")) *kind = VESDE_HEUN;
    else return -1;
    return 0;
}

const char *vesde_sampler_name(vesde_sampler kind) { return kind == VESDE_EM ? "em" : "heun"; }

long vesde_nfe(vesde_sampler kind, int nsteps)
{
    return kind == VESDE_EM ? nsteps : 2L * nsteps - 1;
}

static void draw_noise(const vesde_sample_opts *o, const uint64_t *cond, const uint64_t *sample,
                       int b, uint64_t key, float *z, size_t D)
{
    eddy_rng r;
    rng_init(&r, o->seed, cond[b], sample[b], key);
    rng_normal_fill_f(&r, z, D);
}

static int check_schedule(const vesde_sample_opts *o, eddy_err *e)
{
    if (o->nsteps < 1 || !o->ts) return eddy_fail(e, "sampler needs a schedule of >= 1 step");
    for (int i = 0; i < o->nsteps; i++)
        if (!(o->ts[i] > o->ts[i + 1]))
            return eddy_fail(e, "schedule is not decreasing at step %d (%g, %g)", i, o->ts[i],
                             o->ts[i + 1]);
    if (o->ts[o->nsteps] != 0) return eddy_fail(e, "schedule must end at t = 0");
    if (!(o->sigma0 > 1)) return eddy_fail(e, "sigma0 must be > 1, got %g", o->sigma0);
    return 0;
}

static int sample_em(const vesde_sample_opts *o, vesde_score_fn score, void *ctx, int B, size_t D,
                     const uint64_t *cond, const uint64_t *sample, float *x, float *s, eddy_err *e)
{
    size_t n = (size_t)B * D;
    for (int i = 0; i < o->nsteps; i++) {
        double t = o->ts[i], dt = t - o->ts[i + 1], g = vesde_g(o->sigma0, t);
        if (score(ctx, x, B, t, s, e)) return eddy_wrap(e, "score at step %d (t = %g)", i, t);
        double drift = g * g * dt;
        for (size_t j = 0; j < n; j++) x[j] += (float)(drift * s[j]);
        if (i == o->nsteps - 1) break;    // the last step returns the mean
        double amp = g * sqrt(dt);
        #pragma omp parallel for schedule(static)
        for (int b = 0; b < B; b++) {
            float *z = s + (size_t)b * D;   // s is spent: reuse it for the noise
            draw_noise(o, cond, sample, b, ((uint64_t)(i + 1) << KEY_BITS) | KEY_STEP, z, D);
            float *xb = x + (size_t)b * D;
            for (size_t j = 0; j < D; j++) xb[j] += (float)(amp * z[j]);
        }
    }
    return 0;
}

static int sample_heun(const vesde_sample_opts *o, vesde_score_fn score, void *ctx, int B,
                       size_t D, float *x, float *s, eddy_err *e)
{
    size_t n = (size_t)B * D;
    float *d = malloc(n * sizeof *d), *xp = malloc(n * sizeof *xp);
    if (!d || !xp) {
        free(d), free(xp);
        return eddy_fail(e, "out of memory (%zu floats)", 2 * n);
    }
    int rc = 0;
    for (int i = 0; i < o->nsteps && !rc; i++) {
        double t = o->ts[i], tn = o->ts[i + 1];
        double sg = vesde_std(o->sigma0, t), sn = vesde_std(o->sigma0, tn), h = sn - sg;
        if (score(ctx, x, B, t, s, e)) {
            rc = eddy_wrap(e, "score at step %d (t = %g)", i, t);
            break;
        }
        for (size_t j = 0; j < n; j++) {
            d[j] = (float)(-sg * s[j]);
            xp[j] = (float)(x[j] + h * d[j]);
        }
        if (tn == 0) {      // the score is singular at σ = 0: Euler lands there
            memcpy(x, xp, n * sizeof *x);
            break;
        }
        if (score(ctx, xp, B, tn, s, e)) {
            rc = eddy_wrap(e, "score at step %d (t = %g)", i, tn);
            break;
        }
        for (size_t j = 0; j < n; j++) x[j] = (float)(x[j] + 0.5 * h * (d[j] - sn * s[j]));
    }
    free(d);
    free(xp);
    return rc;
}

int vesde_sample(const vesde_sample_opts *o, vesde_score_fn score, void *ctx, int B, size_t D,
                 const uint64_t *cond, const uint64_t *sample, float *x, eddy_err *e)
{
    if (check_schedule(o, e)) return -1;
    if (B < 1 || D < 1) return eddy_fail(e, "sampler: empty batch (B %d, D %zu)", B, D);
    size_t n = (size_t)B * D;
    float *s = malloc(n * sizeof *s);
    if (!s) return eddy_fail(e, "out of memory (%zu floats)", n);
    double sT = vesde_std(o->sigma0, o->ts[0]);
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *xb = x + (size_t)b * D;
        draw_noise(o, cond, sample, b, KEY_INIT, xb, D);
        for (size_t j = 0; j < D; j++) xb[j] = (float)(sT * xb[j]);
    }
    int rc = o->kind == VESDE_EM ? sample_em(o, score, ctx, B, D, cond, sample, x, s, e)
                                 : sample_heun(o, score, ctx, B, D, x, s, e);
    free(s);
    return rc;
}

void vesde_schedule_defaults(vesde_schedule kind, double *T, int *nsteps)
{
    if (*T == 0) *T = kind == VESDE_SCHED_KARRAS ? 0.1 : 1.0;
    if (*nsteps == 0) *nsteps = kind == VESDE_SCHED_KARRAS ? 10 : 1000;
}
