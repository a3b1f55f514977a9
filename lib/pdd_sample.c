#include "pdd_sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int pdd_sample_configure(const pdd_net *n, pdd_sample_opts *o, eddy_err *e)
{
    if (o->lam > n->lam_max)
        return eddy_fail(e, "--lambda %g is outside the trained range [0, %g]", o->lam, n->lam_max);
    if (isnan(o->lmax)) o->lmax = n->lam_max;
    if (!(o->lmax > 0) || o->lmax > n->lam_max)
        return eddy_fail(e, "--lambda-max %g is outside (0, %g]", o->lmax, n->lam_max);
    if (isnan(o->pc.kappa)) o->pc.kappa = n->g.dims == 1 ? 0.7 : 0.3;
    else if (!(o->pc.kappa > 0 && isfinite(o->pc.kappa))) return eddy_fail(e, "--kappa must be > 0");
    int ddpm_cond = n->obj == PDD_OBJ_DDPM_COND;
    if (ddpm_cond && o->mode != PDD_MODE_SIMULATE) return eddy_fail(e, "a ddpm-cond model only simulates");
    if (n->obj == PDD_OBJ_DDPM_GEN && o->mode != PDD_MODE_GENERATE)
        return eddy_fail(e, "a ddpm-gen model only generates");
    if (ddpm_cond && o->lam != 0) return eddy_fail(e, "the DDPM baseline simulates at lambda = 0 only");
    if (o->mode == PDD_MODE_SR && !(o->lam > 0))
        return eddy_fail(e, "super-resolve needs the input's --lambda > 0");
    if (o->step < 0) o->pc.step = o->rho_schedule ? PDD_STEP_EXACT : PDD_STEP_ETD;
    else o->pc.step = (pdd_step_kind)o->step;
    return 0;
}

int pdd_sample_lambdas(const pdd_net *n, const pdd_sample_opts *o, double top, double **lams,
                       int *nl, eddy_err *e)
{
    int nsteps = o->nsteps;
    if (nsteps <= 0) nsteps = o->rho_schedule ? 40 : (int)lround(top / 1e-3);
    if (nsteps < 2) nsteps = 2;
    if (!(*lams = malloc((size_t)(nsteps + 1) * sizeof **lams))) return eddy_fail(e, "out of memory");
    // Like the reference code, stop at lambda = dlambda (its index 1): the
    // last steps to 0 are the stiffest (weights 1/Sigma ~ 1/(beta^2 lambda))
    // and change nothing the metrics can see.
    double lend = fmin(n->proc.dlam, top / 4);
    int rc = o->rho_schedule ? pdd_grid_rho(top, 2 * lend, lend, nsteps, o->rho, *lams, e)
                             : pdd_grid_uniform(top, lend, nsteps, *lams, e);
    *nl = nsteps + 1;
    return rc;
}

int pdd_frames_check(const pdd_geom *g, int B, const double *u, int t0, double limit, double lam,
                     uint64_t sample0, eddy_err *e)
{
    long frame = (long)g->C * pdd_geom_points(g), npath = (long)g->T * frame;
    for (int b = 0; b < B; b++)
        for (int t = t0; t < g->T; t++) {
            const double *x = u + (long)b * npath + (long)t * frame;
            double a = 0;
            for (long i = 0; i < frame; i++) a += x[i] * x[i];
            if (!(sqrt(a / (double)frame) <= limit))
                return eddy_fail(e, "simulate: sample %llu diverged at frame %d (lambda %g: "
                                 "rms %g > --blowup %g)", (unsigned long long)(sample0 + b), t, lam,
                                 sqrt(a / (double)frame), limit);
        }
    return 0;
}

// A noisy rollout draws its increments from the path density the score
// uses: coloured, sqrt(Sigma_lambda(k)) per mode (the frozen mean gets none).
static double *rollout_sd(const pdd_net *n, double lam, eddy_err *e)
{
    size_t M = rg_nmodes(n->op);
    const double *k2 = rg_ksq(n->op);
    double lf = lam > n->proc.dlam ? lam : n->proc.dlam;
    double *sd = malloc(M * sizeof *sd);
    if (!sd) {
        eddy_fail(e, "out of memory");
        return NULL;
    }
    for (size_t m = 0; m < M; m++) sd[m] = k2[m] > 0 ? sqrt(pdd_proc_sigma(&n->proc, k2[m], lf)) : 0;
    return sd;
}

int pdd_sample_run(pdd_net *n, const pdd_sample_opts *o, const pdd_geom *g, long P, double *u,
                   long *nfe, void (*progress)(void *ctx, long done), void *progress_ctx,
                   eddy_err *e)
{
    int ddpm_cond = n->obj == PDD_OBJ_DDPM_COND, sim = o->mode == PDD_MODE_SIMULATE;
    long npath = (long)g->T * g->C * pdd_geom_points(g);
    double lstart = o->mode == PDD_MODE_GENERATE ? o->lmax : o->lam, *lams = NULL, *sim_sd = NULL;
    int nl = 0, rc = -1;
    pdd_sampler *smp = NULL;
    pdd_pc_opts pc = o->pc;
    if ((!sim || ddpm_cond) && pdd_sample_lambdas(n, o, ddpm_cond ? o->lmax : lstart, &lams, &nl, e))
        goto out;
    if (!sim && !(smp = pdd_sampler_new(g, &n->proc, o->batch, e))) goto out;
    if (sim && !ddpm_cond && o->lam > 0) {
        // The reference frames: C_λ u (no noise), as the paper's evaluation.
        rg_params rp = pdd_rg_params(&n->proc, o->lam, 0);
        if (rg_apply(n->op, &rp, u, (size_t)P * g->T, g->C, NULL, e)) goto out;
    }
    pdd_score_ctx sc = {n, *g, o->coloured, o->gauss_below};
    if (sim && o->coloured && n->proc.kind == PDD_PROC_RG && !(sim_sd = rollout_sd(n, o->lam, e)))
        goto out;
    if (smp && n->spec && n->proc.kind == PDD_PROC_RG && pdd_sampler_set_spectrum(smp, n->spec, e))
        goto out;
    for (long b0 = 0; b0 < P; b0 += o->batch) {
        int B = (int)(P - b0 < o->batch ? P - b0 : o->batch);
        double *ub = u + b0 * npath;
        uint64_t s0 = (uint64_t)(o->first + b0);   // the whole run's index of path b0
        pc.sample0 = s0;
        int r = 0;
        long nfe_b = 0;
        if (sim && ddpm_cond) {
            r = pdd_net_ddpm_simulate(n, g, &pc, lams, nl, B, ub, o->given, &nfe_b, e);
        } else if (sim) {
            pdd_predictor pr = pdd_net_predictor(n);
            double v = o->noise ? pdd_point_var(n->op, &n->proc, o->lam) : 0;
            r = pdd_simulate(g, &pr, B, ub, o->given, o->lam, v, n->op, v > 0 ? sim_sd : NULL,
                             pc.seed, s0, e);
            nfe_b = g->T - o->given;
            // An exploding rollout is an error, as in the reverse sampler.
            if (!r && pc.blowup > 0)
                r = pdd_frames_check(g, B, ub, o->given, pc.blowup, o->lam, s0, e);
        } else {
            if (o->mode == PDD_MODE_GENERATE) r = pdd_prior_sample(smp, B, lstart, pc.seed, s0, ub, e);
            if (!r) r = pdd_reverse(smp, &pc, lams, nl, pdd_net_score, &sc, B, ub, &nfe_b, e);
        }
        if (r) {
            eddy_wrap(e, "paths %ld..%ld", o->first + b0, o->first + b0 + B - 1);
            goto out;
        }
        if (b0 == 0) *nfe = nfe_b;
        if (progress) progress(progress_ctx, b0 + B);
    }
    rc = 0;
out:
    pdd_sampler_free(smp);
    free(lams);
    free(sim_sd);
    return rc;
}
