#include "pdd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rg.h"
#include "rng.h"

// Purposes of the random streams (the fourth key word).
enum { PURPOSE_SIM = 100, PURPOSE_PRED = 1, PURPOSE_CORR = 2, PURPOSE_PRIOR = 7 };

long pdd_geom_points(const pdd_geom *g)
{
    return g->dims == 2 ? (long)g->n[0] * g->n[1] : (long)g->n[0];
}

int pdd_geom_check(const pdd_geom *g, eddy_err *e)
{
    if (g->dims != 1 && g->dims != 2) return eddy_fail(e, "dims must be 1 or 2, not %d", g->dims);
    for (int d = 0; d < g->dims; d++)
        if (g->n[d] < 2 || g->n[d] > (1 << 16))
            return eddy_fail(e, "grid size %d out of range", g->n[d]);
    if (g->C < 1 || g->C > 64) return eddy_fail(e, "channel count %d out of range", g->C);
    if (g->W < 1 || g->W > 64) return eddy_fail(e, "window %d out of range", g->W);
    if (g->T < 2) return eddy_fail(e, "a path needs at least 2 frames, not %d", g->T);
    if (!(g->L > 0) || !isfinite(g->L)) return eddy_fail(e, "domain length %g is not positive", g->L);
    return 0;
}

pdd_process pdd_process_rg(double alpha, double beta)
{
    pdd_process p = {PDD_PROC_RG, alpha, beta, 0, 0, 1e-3};
    return p;
}

pdd_process pdd_process_vp(double gamma)
{
    pdd_process p = {PDD_PROC_VP, 0, sqrt(2 * gamma), gamma, 0, 1e-3};
    return p;
}

// β²(1 - e^{-2ax})/(2a), written with expm1 so small a·x keeps its digits.
static double var_of(double beta, double a, double x)
{
    if (a * x < 1e-300) return beta * beta * x;
    return -beta * beta * expm1(-2 * a * x) / (2 * a);
}

rg_params pdd_rg_params(const pdd_process *p, double lam, double floor)
{
    return (rg_params){p->alpha, p->beta, lam, floor};
}

double pdd_proc_c(const pdd_process *p, double k2, double lam)
{
    if (p->kind == PDD_PROC_VP) return exp(-p->gamma * lam);
    rg_params rp = pdd_rg_params(p, lam, 0);
    return rg_C(&rp, k2);
}

double pdd_proc_sigma(const pdd_process *p, double k2, double lam)
{
    if (p->kind == PDD_PROC_VP) return var_of(p->beta, p->gamma, lam);
    rg_params rp = pdd_rg_params(p, lam, 0);
    return rg_Sigma(&rp, k2);
}

int pdd_rg_grid(const pdd_geom *g, const pdd_process *p, rg_grid *rgg)
{
    rgg->ndim = g->dims;
    rgg->n[0] = g->n[0];
    rgg->n[1] = g->dims == 2 ? g->n[1] : 0;
    rgg->L[0] = rgg->L[1] = g->L;
    rgg->lap = p->fd_laplacian ? RG_LAP_FD : RG_LAP_SPECTRAL;
    return 0;
}

double pdd_point_var(const rg_op *op, const pdd_process *p, double lam)
{
    if (lam < p->dlam) lam = p->dlam;
    if (p->kind == PDD_PROC_VP) return pdd_proc_sigma(p, 0, lam);
    rg_params rp = pdd_rg_params(p, lam, 0);
    return rg_trace_per_point(op, &rp);
}

// ---------------------------------------------------------------- windows

// The window of frame n of one path (T, C, S) into dst (C*W, S).
static void window_at(const pdd_geom *g, const double *path, int n, double *dst)
{
    long S = pdd_geom_points(g);
    for (int c = 0; c < g->C; c++)
        for (int w = 0; w < g->W; w++) {
            int t = n - (g->W - 1) + w;
            double *d = dst + ((long)c * g->W + w) * S;
            if (t < 0) memset(d, 0, S * sizeof *d);
            else memcpy(d, path + ((long)t * g->C + c) * S, S * sizeof *d);
        }
}

void pdd_windows(const pdd_geom *g, int B, int nw, const double *u, double *win)
{
    long S = pdd_geom_points(g), cw = (long)g->C * g->W * S;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int n = 0; n < nw; n++)
            window_at(g, u + (long)b * g->T * g->C * S, n, win + ((long)b * nw + n) * cw);
}

void pdd_windows_adjoint(const pdd_geom *g, int B, int nw, const double *gwin, double *gu)
{
    long S = pdd_geom_points(g);
    int T = g->T, C = g->C, W = g->W;
    // Parallel over (path, channel) so that no two threads add into one frame.
    #pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int n = 0; n < nw; n++)
                for (int w = 0; w < W; w++) {
                    int t = n - (W - 1) + w;
                    if (t < 0) continue;
                    const double *src = gwin + (((long)b * nw + n) * C * W + (long)c * W + w) * S;
                    double *dst = gu + (((long)b * T + t) * C + c) * S;
                    for (long x = 0; x < S; x++) dst[x] += src[x];
                }
}

// ---------------------------------------------------------------- loss

double pdd_window_loss(long nw, long frame, const double *target, const double *f,
                       const double *v, double count, double *gf)
{
    double total = 0;
    for (long j = 0; j < nw; j++) {
        const double *t = target + j * frame, *fj = f + j * frame;
        double *gj = gf ? gf + j * frame : NULL, acc = 0;
        for (long i = 0; i < frame; i++) {
            double r = t[i] - fj[i];
            acc += r * r;
            if (gj) gj[i] = v ? -r / (v[j] * count) : -2 * r / count;
        }
        total += v ? acc / (2 * v[j]) : acc;
    }
    return total / count;
}

// ---------------------------------------------------------------- path score

int pdd_path_score(const pdd_geom *g, const pdd_predictor *pr, int B, const double *u,
                   double lam, double v, double *s, double *logp, eddy_err *e)
{
    if (!(v > 0)) return eddy_fail(e, "path score: increment variance %g is not positive", v);
    return pdd_path_score_w(g, pr, B, u, lam, v, NULL, NULL, s, logp, e);
}

int pdd_path_score_w(const pdd_geom *g, const pdd_predictor *pr, int B, const double *u,
                     double lam, double v, const rg_op *op, const double *w, double *s,
                     double *logp, eddy_err *e)
{
    if (!w && !(v > 0)) return eddy_fail(e, "path score: increment variance %g is not positive", v);
    long S = pdd_geom_points(g), frame = (long)g->C * S, cw = frame * g->W;
    int T = g->T, nw = T - 1;
    long nb = (long)B * nw, chunk = pr->max_batch > 0 ? pr->max_batch : nb;
    if (chunk > nb) chunk = nb;
    double *win = malloc(nb * cw * sizeof *win);
    double *f = malloc(chunk * frame * sizeof *f), *r = malloc(chunk * frame * sizeof *r);
    double *acc = calloc(B, sizeof *acc);
    if (!win || !f || !r || !acc) {
        free(win); free(f); free(r); free(acc);
        return eddy_fail(e, "path score: out of memory");
    }
    pdd_windows(g, B, nw, u, win);
    memset(s, 0, (size_t)B * T * frame * sizeof *s);
    // Window j = b*nw + n with residual r_j = Δu - f_j: f_j becomes Wr_j =
    // ∂ln p/∂f_j (W = 1/v, or the spectral multiplier w); the increment gives
    // -Wr to u_{n+1} and +Wr to u_n; the predictor's input gradient carries
    // Wr back through every frame that window_n holds.
    for (long j0 = 0; j0 < nb; j0 += chunk) {
        int m = (int)(nb - j0 < chunk ? nb - j0 : chunk);
        if (pr->forward(pr->ctx, m, win + j0 * cw, lam, f, e)) goto fail;
        for (int q = 0; q < m; q++) {
            long j = j0 + q;
            int b = (int)(j / nw), n = (int)(j % nw);
            const double *u0 = u + ((long)b * T + n) * frame, *u1 = u0 + frame;
            double *fn = f + (long)q * frame, *rq = r + (long)q * frame;
            for (long i = 0; i < frame; i++) rq[i] = u1[i] - u0[i] - fn[i];
        }
        memcpy(f, r, (size_t)m * frame * sizeof *f);
        if (w) {
            if (rg_multiply(op, w, f, (size_t)m * g->C, e)) goto fail;
        } else {
            for (long i = 0; i < (long)m * frame; i++) f[i] /= v;
        }
        for (int q = 0; q < m; q++) {
            long j = j0 + q;
            int b = (int)(j / nw), n = (int)(j % nw);
            const double *fn = f + (long)q * frame, *rq = r + (long)q * frame;
            double *s0 = s + ((long)b * T + n) * frame, *s1 = s0 + frame;
            double a = 0;
            for (long i = 0; i < frame; i++) {
                a += rq[i] * fn[i];
                s1[i] -= fn[i];
                s0[i] += fn[i];
            }
            acc[b] += a;
        }
        if (pr->input_grad(pr->ctx, m, f, win + j0 * cw, e)) goto fail;
    }
    pdd_windows_adjoint(g, B, nw, win, s);
    if (logp)
        for (int b = 0; b < B; b++) logp[b] = -acc[b] / 2;
    free(win); free(f); free(r); free(acc);
    return 0;
fail:
    free(win); free(f); free(r); free(acc);
    return eddy_wrap(e, "path score at lambda %g", lam);
}

// ---------------------------------------------------------------- simulation

int pdd_simulate(const pdd_geom *g, const pdd_predictor *pr, int B, double *u, int n0,
                 double lam, double v, const rg_op *op, const double *sd, uint64_t seed,
                 uint64_t sample0, eddy_err *e)
{
    return pdd_simulate_at(g, pr, B, u, n0, lam, v, op, sd, seed, sample0, 0, e);
}

int pdd_simulate_at(const pdd_geom *g, const pdd_predictor *pr, int B, double *u, int n0,
                    double lam, double v, const rg_op *op, const double *sd, uint64_t seed,
                    uint64_t sample0, long frame0, eddy_err *e)
{
    if (sd && !op) return eddy_fail(e, "simulate: coloured noise needs the grid's operator");
    if (n0 < 1 || n0 > g->T) return eddy_fail(e, "simulate: %d given frames for a path of %d", n0, g->T);
    if (!(v >= 0)) return eddy_fail(e, "simulate: noise variance %g is negative", v);
    long S = pdd_geom_points(g), frame = (long)g->C * S;
    int T = g->T, W = g->W;
    double *win = malloc((size_t)B * W * frame * sizeof *win);
    double *f = malloc((size_t)B * frame * sizeof *f);
    if (!win || !f) {
        free(win); free(f);
        return eddy_fail(e, "simulate: out of memory");
    }
    int rc = 0;
    for (int n = n0 - 1; n < T - 1 && !rc; n++) {
        for (int b = 0; b < B; b++)
            window_at(g, u + (long)b * T * frame, n, win + (long)b * W * frame);
        int chunk = pr->max_batch > 0 && pr->max_batch < B ? pr->max_batch : B;
        for (int b0 = 0; b0 < B && !rc; b0 += chunk) {
            int m = B - b0 < chunk ? B - b0 : chunk;
            if (pr->forward(pr->ctx, m, win + (long)b0 * W * frame, lam, f + (long)b0 * frame, e))
                rc = eddy_wrap(e, "simulate: frame %ld", frame0 + n + 1);
        }
        if (rc) break;
        for (int b = 0; b < B; b++) {
            const double *un = u + ((long)b * T + n) * frame;
            double *up = u + ((long)b * T + n + 1) * frame;
            const double *fb = f + (long)b * frame;
            for (long i = 0; i < frame; i++) up[i] = un[i] + fb[i];
            if (sd || v > 0) {
                eddy_rng r;
                rng_init(&r, seed, sample0 + b, (uint64_t)(frame0 + n + 1), PURPOSE_SIM);
                rng_normal_fill(&r, f + (long)b * frame, frame);
                double a = sd ? 1 : sqrt(v);
                if (sd && rg_multiply(op, sd, f + (long)b * frame, (size_t)g->C, e)) {
                    rc = eddy_wrap(e, "simulate: frame %ld", frame0 + n + 1);
                    break;
                }
                for (long i = 0; i < frame; i++) up[i] += a * f[(long)b * frame + i];
            }
            for (long i = 0; i < frame; i++)
                if (!isfinite(up[i])) {
                    rc = eddy_fail(e, "simulate: path %d diverged at frame %ld", b, frame0 + n + 1);
                    break;
                }
        }
    }
    free(win); free(f);
    return rc;
}

// ---------------------------------------------------------------- grids

int pdd_grid_uniform(double lmax, double lmin, int nsteps, double *lams, eddy_err *e)
{
    if (nsteps < 1) return eddy_fail(e, "lambda grid needs at least one step, not %d", nsteps);
    if (!(lmax > lmin) || !(lmin >= 0)) return eddy_fail(e, "lambda grid: need lmax %g > lmin %g >= 0", lmax, lmin);
    for (int i = 0; i <= nsteps; i++) lams[i] = lmax + (lmin - lmax) * i / nsteps;
    lams[nsteps] = lmin;
    return 0;
}

int pdd_grid_rho(double lmax, double lfloor, double lmin, int nsteps, double rho,
                 double *lams, eddy_err *e)
{
    if (nsteps < 2) return eddy_fail(e, "rho lambda grid needs at least 2 steps, not %d", nsteps);
    if (!(lmax > lfloor) || !(lfloor > lmin) || !(lmin >= 0) || !(rho > 0))
        return eddy_fail(e, "rho lambda grid: need lmax %g > lfloor %g > lmin %g >= 0, rho > 0",
                         lmax, lfloor, lmin);
    double a = pow(lmax, 1 / rho), b = pow(lfloor, 1 / rho);
    for (int i = 0; i < nsteps; i++) lams[i] = pow(a + (double)i / (nsteps - 1) * (b - a), rho);
    lams[0] = lmax;
    lams[nsteps - 1] = lfloor;
    lams[nsteps] = lmin;
    return 0;
}

// ---------------------------------------------------------------- sampler

struct pdd_sampler {
    pdd_geom g;
    pdd_process p;
    int Bmax;
    long S, M, frame, nf;          // nf = fields per path (T*C)
    rg_op *op;                     // RG: symbols and FFTs; NULL for VP
    const double *k2;              // (M) from op
    double *s, *z, *tmp;           // (Bmax, T, C, S)
    double *mul, *mul2;            // (C, M) spectral multipliers
    double *spec;                  // (C, M) data variance per mode, or NULL
};

pdd_sampler *pdd_sampler_new(const pdd_geom *g, const pdd_process *p, int Bmax, eddy_err *e)
{
    if (pdd_geom_check(g, e)) return NULL;
    if (Bmax < 1) { eddy_fail(e, "sampler: batch %d", Bmax); return NULL; }
    if (p->kind == PDD_PROC_RG && !(p->alpha > 0 && p->beta > 0)) {
        eddy_fail(e, "sampler: RG process needs alpha > 0 and beta > 0 (got %g, %g)", p->alpha, p->beta);
        return NULL;
    }
    if (p->kind == PDD_PROC_VP && !(p->gamma > 0)) {
        eddy_fail(e, "sampler: VP process needs gamma > 0 (got %g)", p->gamma);
        return NULL;
    }
    pdd_sampler *s = calloc(1, sizeof *s);
    if (!s) { eddy_fail(e, "sampler: out of memory"); return NULL; }
    s->g = *g;
    s->p = *p;
    s->Bmax = Bmax;
    s->S = pdd_geom_points(g);
    s->frame = (long)g->C * s->S;
    s->nf = (long)g->T * g->C;
    rg_grid rgg;
    pdd_rg_grid(g, p, &rgg);
    if (!(s->op = rg_op_new(&rgg, e))) {
        pdd_sampler_free(s);
        return NULL;
    }
    s->M = (long)rg_nmodes(s->op);
    s->k2 = rg_ksq(s->op);
    size_t n = (size_t)Bmax * g->T * s->frame;
    s->s = malloc(n * sizeof *s->s);
    s->z = malloc(n * sizeof *s->z);
    s->tmp = malloc(n * sizeof *s->tmp);
    s->mul = malloc((size_t)g->C * s->M * sizeof *s->mul);
    s->mul2 = malloc((size_t)g->C * s->M * sizeof *s->mul2);
    if (!s->s || !s->z || !s->tmp || !s->mul || !s->mul2) {
        pdd_sampler_free(s);
        eddy_fail(e, "sampler: out of memory");
        return NULL;
    }
    return s;
}

void pdd_sampler_free(pdd_sampler *s)
{
    if (!s) return;
    rg_op_free(s->op);
    free(s->s); free(s->z); free(s->tmp);
    free(s->mul); free(s->mul2); free(s->spec);
    free(s);
}

const rg_op *pdd_sampler_rg(const pdd_sampler *s) { return s->op; }

int pdd_sampler_set_spectrum(pdd_sampler *s, const double *P, eddy_err *e)
{
    size_t n = (size_t)s->g.C * s->M;
    for (size_t i = 0; i < n; i++)
        if (!(P[i] >= 0) || !isfinite(P[i]))
            return eddy_fail(e, "sampler: data spectrum entry %zu is %g", i, P[i]);
    if (!s->spec && !(s->spec = malloc(n * sizeof *s->spec)))
        return eddy_fail(e, "sampler: out of memory");
    memcpy(s->spec, P, n * sizeof *P);
    return 0;
}

pdd_pc_opts pdd_pc_defaults(void)
{
    pdd_pc_opts o = {PDD_STEP_ETD, 0.7, 3, 1, 1, 0, 0, 0.01, 3.0, 100.0, 0, 0, NULL, NULL};
    return o;
}

// Removes each field's spatial mean: the projection off the frozen k = 0
// mode of the RG process.  x (nfields, S).
static void project_mean(double *x, long nfields, long S)
{
    for (long f = 0; f < nfields; f++) {
        double m = 0;
        for (long i = 0; i < S; i++) m += x[f * S + i];
        m /= S;
        for (long i = 0; i < S; i++) x[f * S + i] -= m;
    }
}

// z (T*C*S) white noise of path b at (step, purpose), projected off k = 0
// for the RG process.
static void path_noise(const pdd_sampler *s, const pdd_pc_opts *o, int b, int step, int purpose, double *z)
{
    eddy_rng r;
    rng_init(&r, o->seed, o->sample0 + b, (uint64_t)step, (uint64_t)purpose);
    rng_normal_fill(&r, z, s->nf * s->S);
    if (s->p.kind == PDD_PROC_RG) project_mean(z, s->nf, s->S);
}

// Multiplies the fields of npaths paths x (npaths, T, C, S) by the spectral
// multiplier of their channel, mul (C, M); cstride 0 shares one row.
static int colour(pdd_sampler *s, const double *mul, long cstride, int npaths, double *x, eddy_err *e)
{
    if (cstride == 0 || s->g.C == 1) return rg_multiply(s->op, mul, x, (size_t)npaths * s->nf, e);
    for (long f = 0; f < npaths * s->nf; f++)
        if (rg_multiply(s->op, mul + (f % s->g.C) * cstride, x + f * s->S, 1, e)) return -1;
    return 0;
}

int pdd_prior_sample(pdd_sampler *s, int B, double lam, uint64_t seed, uint64_t sample0,
                     double *u, eddy_err *e)
{
    if (B > s->Bmax) return eddy_fail(e, "prior: batch %d > %d", B, s->Bmax);
    if (!(lam > 0)) return eddy_fail(e, "prior: lambda %g must be positive", lam);
    long n = s->nf * s->S;
    for (int b = 0; b < B; b++) {
        eddy_rng r;
        rng_init(&r, seed, sample0 + b, 0, PURPOSE_PRIOR);
        rng_normal_fill(&r, u + (long)b * n, n);
    }
    if (s->p.kind == PDD_PROC_VP) {
        double sd = sqrt(pdd_proc_sigma(&s->p, 0, lam));
        for (long i = 0; i < (long)B * n; i++) u[i] *= sd;
        return 0;
    }
    for (long m = 0; m < s->M; m++) s->mul[m] = sqrt(pdd_proc_sigma(&s->p, s->k2[m], lam));
    return colour(s, s->mul, 0, B, u, e);
}

static double phi1(double x) { return fabs(x) < 1e-8 ? 1 + x / 2 : expm1(x) / x; }

// Frame 0 ← 2 u_1 - u_2 for every path (Yasuda & Bischoff B.6): r_λ is not modelled.
static void extrapolate0(const pdd_sampler *s, int B, double *u)
{
    if (s->g.T < 3) return;
    long n = s->nf * s->S, fr = s->frame;
    for (int b = 0; b < B; b++) {
        double *ub = u + (long)b * n;
        for (long i = 0; i < fr; i++) ub[i] = 2 * ub[fr + i] - ub[2 * fr + i];
    }
}

// clamped (B), when not NULL, keeps the largest fraction of each path's
// values that one call clamped.
static void tidy(const pdd_sampler *s, const pdd_pc_opts *o, int B, double *u, double *clamped)
{
    long n = s->nf * s->S, fr = s->frame;
    if (o->extrapolate) extrapolate0(s, B, u);
    if (o->remove_mean) {
        int T = s->g.T, C = s->g.C;
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) {
                double m = 0;
                for (int t = 0; t < T; t++)
                    for (long i = 0; i < s->S; i++) m += u[b * n + t * fr + c * s->S + i];
                m /= (double)T * s->S;
                for (int t = 0; t < T; t++)
                    for (long i = 0; i < s->S; i++) u[b * n + t * fr + c * s->S + i] -= m;
            }
    }
    if (o->clamp > 0)
        for (int b = 0; b < B; b++) {
            long hit = 0;
            for (long i = b * n; i < (b + 1) * n; i++)
                if (fabs(u[i]) > o->clamp) u[i] = copysign(o->clamp, u[i]), hit++;
            if (clamped && (double)hit / n > clamped[b]) clamped[b] = (double)hit / n;
        }
}

// The coefficients of one predictor step of a mode of rate a from lam to
// lam - dl: u ← cu·u + cs·s, then noise of standard deviation sdn.
//
// ETD (Eq. 66): cu = e^{aΔ}, cs = φ(aΔ)β²Δ, white noise β√Δ.
// EXACT (ours): the Gaussian posterior of u_{λ'} given u_λ and Tweedie's
// denoised estimate, mean e^{aΔ}u + (Σ_Δ/C_Δ)s, rewritten as
// C_Δ(Σ_{λ'}/Σ_λ)u + (Σ_Δ/C_Δ)(s + u/Σ_λ) so that the noise part of the
// score cancels analytically; where aΔ > guard the remainder, which a
// float32 score cannot give to e^{-aΔ} precision, is dropped (the mode is
// noise there).  Noise variance V'Σ_Δ/V with the data spectrum P
// (V = C²P + Σ), else Σ_{λ'}Σ_Δ/Σ_λ.
static void step_coef(const pdd_sampler *s, const pdd_pc_opts *o, double a, double P, int haveP,
                      double lam, double dl, double *cu, double *cs, double *sdn)
{
    double beta = s->p.beta, lp = lam - dl;
    if (o->step == PDD_STEP_ETD) {
        *cu = exp(a * dl), *cs = phi1(a * dl) * beta * beta * dl, *sdn = beta * sqrt(dl);
        return;
    }
    double sl = var_of(beta, a, lam), slp = var_of(beta, a, lp), sd = var_of(beta, a, dl);
    double cd = exp(-a * dl), keep = a * dl <= o->guard ? sd / cd : 0;
    *cu = cd * slp / sl + keep / sl, *cs = keep;
    if (haveP) {
        double cp = exp(-a * lp), cl = exp(-a * lam);
        *sdn = sqrt((cp * cp * P + slp) * sd / (cl * cl * P + sl));
    } else {
        *sdn = sqrt(slp * sd / sl);
    }
}

// One predictor step of B paths u, given their score sc (both (B, T, C, S)).
static int predictor(pdd_sampler *s, const pdd_pc_opts *o, double lam, double dl, int B,
                     double *u, double *sc, int step, int noise, eddy_err *e)
{
    long n = s->nf * s->S, tot = (long)B * n;
    if (s->p.kind == PDD_PROC_VP) {
        // Every mode has the rate γ: the step is pointwise.
        double cu, cs, sdn;
        step_coef(s, o, s->p.gamma, 0, 0, lam, dl, &cu, &cs, &sdn);
        for (long i = 0; i < tot; i++) u[i] = cu * u[i] + cs * sc[i];
        if (!noise) return 0;
        for (int b = 0; b < B; b++) {
            path_noise(s, o, b, step, PURPOSE_PRED, s->z);
            for (long i = 0; i < n; i++) u[b * n + i] += sdn * s->z[i];
        }
        return 0;
    }
    int C = s->g.C, haveP = s->spec != NULL;
    for (int c = 0; c < C; c++)
        for (long m = 0; m < s->M; m++) {
            long i = (long)c * s->M + m;
            double cu, cs, sdn;
            if (s->k2[m] == 0) {
                cu = 1, cs = 0, sdn = 0;      // the frozen mean mode
            } else {
                double P = haveP ? s->spec[i] : 0;
                step_coef(s, o, s->p.alpha * s->k2[m], P, haveP, lam, dl, &cu, &cs, &sdn);
            }
            s->mul[i] = cu;
            s->mul2[i] = cs;
            s->tmp[i] = sdn;       // staged: tmp is free until the noise below
        }
    if (colour(s, s->mul, 0, B, u, e) || colour(s, s->mul2, 0, B, sc, e)) return -1;
    for (long i = 0; i < tot; i++) u[i] += sc[i];
    if (!noise) return 0;
    if (o->step == PDD_STEP_ETD) {
        double sdn = s->p.beta * sqrt(dl);
        for (int b = 0; b < B; b++) {
            path_noise(s, o, b, step, PURPOSE_PRED, s->z);
            for (long i = 0; i < n; i++) u[b * n + i] += sdn * s->z[i];
        }
        return 0;
    }
    memcpy(s->mul, s->tmp, (size_t)C * s->M * sizeof *s->mul);
    for (int b = 0; b < B; b++) path_noise(s, o, b, step, PURPOSE_PRED, s->tmp + b * n);
    if (colour(s, s->mul, haveP ? s->M : 0, B, s->tmp, e)) return -1;
    for (long i = 0; i < tot; i++) u[i] += s->tmp[i];
    return 0;
}

// rms (B) of each path of x (B, T, C, S); NaN when any value is not finite.
static void path_rms(const pdd_sampler *s, int B, const double *x, double *rms)
{
    long n = s->nf * s->S;
    for (int b = 0; b < B; b++) {
        double a = 0;
        for (long k = 0; k < n; k++) a += x[b * n + k] * x[b * n + k];
        rms[b] = isfinite(a) ? sqrt(a / n) : NAN;
    }
}

int pdd_reverse(pdd_sampler *s, const pdd_pc_opts *o, const double *lams, int nlam,
                pdd_score_fn score, void *ctx, int B, double *u, long *nfe, eddy_err *e)
{
    if (B > s->Bmax) return eddy_fail(e, "reverse: batch %d > %d", B, s->Bmax);
    if (nlam < 2) return eddy_fail(e, "reverse: the lambda grid needs at least 2 values");
    for (int i = 0; i + 1 < nlam; i++)
        if (!(lams[i] > lams[i + 1]) || !(lams[i + 1] >= 0))
            return eddy_fail(e, "reverse: lambda grid must decrease to >= 0 (at %d: %g, %g)",
                             i, lams[i], lams[i + 1]);
    if (!(o->kappa >= 0) || o->ncorr < 0) return eddy_fail(e, "reverse: kappa %g, corrector steps %d", o->kappa, o->ncorr);
    long n = s->nf * s->S;
    int rg = s->p.kind == PDD_PROC_RG;
    double *rms = malloc(3 * (size_t)B * sizeof *rms);   // path rms, score rms, clamped
    if (!rms) return eddy_fail(e, "reverse: out of memory");
    int rc = -1;
    for (int i = 0; i + 1 < nlam; i++) {
        double lam = lams[i], dl = lams[i] - lams[i + 1];
        if (score(ctx, B, u, lam, s->s, e)) { eddy_wrap(e, "reverse step %d", i); goto out; }
        path_rms(s, B, s->s, rms + B);
        if (nfe) (*nfe)++;
        int noise = o->final_noise || i + 2 < nlam;
        if (predictor(s, o, lam, dl, B, u, s->s, i, noise, e)) { eddy_wrap(e, "reverse step %d", i); goto out; }
        for (int b = 0; b < B; b++) rms[2 * B + b] = 0;
        tidy(s, o, B, u, rms + 2 * B);
        // Langevin at the new level (Song et al. 2021, Alg. 4), χ per path.
        for (int j = 0; j < o->ncorr && o->kappa > 0; j++) {
            if (score(ctx, B, u, lams[i + 1], s->s, e)) { eddy_wrap(e, "corrector %d.%d", i, j); goto out; }
            if (nfe) (*nfe)++;
            for (int b = 0; b < B; b++) {
                double *sb = s->s + b * n, *ub = u + b * n, *z = s->z;
                if (rg) project_mean(sb, s->nf, s->S);
                path_noise(s, o, b, i, PURPOSE_CORR + 1 + j, z);
                double zz = 0, ss = 0;
                for (long k = 0; k < n; k++) zz += z[k] * z[k], ss += sb[k] * sb[k];
                if (!(ss > 0)) continue;
                double chi = 2 * o->kappa * o->kappa * zz / ss, sq = sqrt(2 * chi);
                for (long k = 0; k < n; k++) ub[k] += chi * sb[k] + sq * z[k];
            }
            tidy(s, o, B, u, rms + 2 * B);
        }
        path_rms(s, B, u, rms);
        for (int b = 0; b < B; b++)
            if (!isfinite(rms[b]) || !isfinite(rms[B + b]) || (o->blowup > 0 && rms[b] > o->blowup)) {
                eddy_fail(e, "reverse: sample %llu diverged at lambda %g (step %d of %d: rms %g, "
                          "score rms %g, limit %g)", (unsigned long long)(o->sample0 + b),
                          lams[i + 1], i + 1, nlam - 1, rms[b], rms[B + b], o->blowup);
                goto out;
            }
        for (int b = 0; b < B; b++)
            if (o->clamp > 0 && rms[2 * B + b] > o->max_clamped) {
                eddy_fail(e, "reverse: sample %llu diverged at lambda %g (step %d of %d: %.3g%% of "
                          "its values beyond the clamp +-%g, limit %.3g%%)",
                          (unsigned long long)(o->sample0 + b), lams[i + 1], i + 1, nlam - 1,
                          100 * rms[2 * B + b], o->clamp, 100 * o->max_clamped);
                goto out;
            }
        if (o->monitor && o->monitor(o->monitor_ctx, i, lams[i + 1], B, rms, rms + B, rms + 2 * B)) {
            eddy_fail(e, "reverse: stopped by the monitor at step %d", i);
            goto out;
        }
    }
    rc = 0;
out:
    free(rms);
    return rc;
}
