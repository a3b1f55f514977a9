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

// ---------------------------------------------------------------- long rollouts

// The first of frames [t0, t1) of one path (frames of `frame` values) that
// is non-finite, has an rms above limit, or a value beyond 1e30; -1 if none.
static long first_diverged(const double *path, long frame, long t0, long t1, double limit)
{
    for (long t = t0; t < t1; t++) {
        const double *x = path + t * frame;
        double a = 0;
        int big = 0;
        for (long i = 0; i < frame; i++) {
            a += x[i] * x[i];
            big |= !(fabs(x[i]) <= 1e30);
        }
        if (big || !(sqrt(a / (double)frame) <= limit)) return t;
    }
    return -1;
}

typedef struct {
    pdd_net *n;
    const pdd_sample_opts *o;
    pdd_pc_opts pc;
    const double *lams, *sd;
    int nl;
    double v;
} rollout_ctx;

// Frames n0..g->T-1 of the B paths ub (B, g->T, C, S) whose frame 0 is the
// paths' frame frame0; path b is sample sample0 + b.
static int rollout_piece(rollout_ctx *rc, const pdd_geom *g, int B, double *ub, int n0,
                         long frame0, uint64_t sample0, long *nfe, eddy_err *e)
{
    pdd_net *n = rc->n;
    if (n->obj == PDD_OBJ_DDPM_COND) {
        pdd_pc_opts pc = rc->pc;
        pc.sample0 = sample0;
        return pdd_net_ddpm_simulate_at(n, g, &pc, rc->lams, rc->nl, B, ub, n0, frame0, nfe, e);
    }
    pdd_predictor pr = pdd_net_predictor(n);
    int r = pdd_simulate_at(g, &pr, B, ub, n0, rc->o->lam, rc->v, n->op, rc->v > 0 ? rc->sd : NULL,
                            rc->pc.seed, sample0, frame0, e);
    if (!r && nfe) *nfe += g->T - n0;
    return r;
}

int pdd_sample_rollout(pdd_net *n, const pdd_sample_opts *o, const pdd_geom *g, long P,
                       const double *u, long frames, long keep_from, int seg_len,
                       pdd_emit_fn emit, void *emit_ctx, long *diverged, long *nfe,
                       void (*progress)(void *ctx, long done), void *progress_ctx,
                       eddy_err *e)
{
    if (o->mode != PDD_MODE_SIMULATE) return eddy_fail(e, "a long rollout is a simulation");
    if (o->given < 1 || o->given > g->T)
        return eddy_fail(e, "simulate: %d given frames of paths of %d", o->given, g->T);
    if (frames <= o->given)
        return eddy_fail(e, "simulate: --frames %ld leaves nothing after the %d given", frames, o->given);
    if (keep_from < 0 || keep_from >= frames)
        return eddy_fail(e, "simulate: --keep-from %ld is outside [0, %ld)", keep_from, frames);
    if (seg_len < 1 || (frames - keep_from) % seg_len)
        return eddy_fail(e, "simulate: %ld kept frames are not a whole number of segments of %d",
                         frames - keep_from, seg_len);
    int ddpm_cond = n->obj == PDD_OBJ_DDPM_COND, W = g->W, given = o->given;
    long S = pdd_geom_points(g), frame = (long)g->C * S, kept = frames - keep_from;
    long in_path = (long)g->T * frame;
    // The buffer: the given frames (or the window carried over) and g->T more.
    int Tb = (W > given ? W : given) + g->T;
    rollout_ctx rc = {n, o, o->pc, NULL, NULL, 0, 0};
    double *lams = NULL, *sd = NULL, *buf = NULL, *keep = NULL;
    int rcode = -1;
    if (ddpm_cond && pdd_sample_lambdas(n, o, o->lmax, &lams, &rc.nl, e)) goto out;
    if (!ddpm_cond && o->coloured && n->proc.kind == PDD_PROC_RG && !(sd = rollout_sd(n, o->lam, e)))
        goto out;
    rc.lams = lams, rc.sd = sd;
    rc.v = !ddpm_cond && o->noise ? pdd_point_var(n->op, &n->proc, o->lam) : 0;
    double limit = o->pc.blowup > 0 ? o->pc.blowup : INFINITY;
    buf = malloc((size_t)o->batch * Tb * frame * sizeof *buf);
    keep = malloc((size_t)o->batch * kept * frame * sizeof *keep);
    if (!buf || !keep) {
        eddy_fail(e, "simulate: out of memory for a batch of %d rollouts", o->batch);
        goto out;
    }
    for (long p = 0; p < P; p++) diverged[p] = -1;
    rg_params rp = pdd_rg_params(&n->proc, o->lam, 0);
    for (long b0 = 0; b0 < P; b0 += o->batch) {
        int B = (int)(P - b0 < o->batch ? P - b0 : o->batch);
        long *dv = diverged + b0, nfe_b = 0;
        // The given frames, C_λ u as pdd_sample_run makes them.
        int stride = Tb;
        memset(buf, 0, (size_t)B * Tb * frame * sizeof *buf);
        for (int b = 0; b < B; b++)
            memcpy(buf + (long)b * Tb * frame, u + (b0 + b) * in_path, (size_t)given * frame * sizeof *buf);
        if (!ddpm_cond && o->lam > 0 && rg_apply(n->op, &rp, buf, (size_t)B * Tb, g->C, NULL, e)) goto out;
        long frame0 = 0;
        int filled = given;
        // Frames of the buffer already in keep: the given ones first.
        int stashed = 0;
        for (;;) {
            // Keep what is kept of frames [stashed, filled) of the buffer.
            for (int b = 0; b < B; b++)
                for (int t = stashed; t < filled; t++)
                    if (dv[b] < 0 && frame0 + t >= keep_from)
                        memcpy(keep + ((long)b * kept + frame0 + t - keep_from) * frame,
                               buf + ((long)b * stride + t) * frame, frame * sizeof *buf);
            if (frame0 + filled >= frames) break;
            if (filled == stride) {
                // Carry the last W frames to the front.
                for (int b = 0; b < B; b++)
                    memmove(buf + (long)b * stride * frame, buf + ((long)b * stride + stride - W) * frame,
                            (size_t)W * frame * sizeof *buf);
                frame0 += stride - W;
                filled = stashed = W;
            }
            // The last piece may be shorter: repack to its length (paths
            // move towards the front, in order).
            int Tcur = frames - frame0 < stride ? (int)(frames - frame0) : stride;
            if (Tcur != stride) {
                for (int b = 1; b < B; b++)
                    memmove(buf + (long)b * Tcur * frame, buf + (long)b * stride * frame,
                            (size_t)Tcur * frame * sizeof *buf);
                stride = Tcur;
            }
            pdd_geom gb = *g;
            gb.T = stride;
            if (rollout_piece(&rc, &gb, B, buf, filled, frame0, (uint64_t)(o->first + b0), &nfe_b, e)) {
                // One path's failure must not stop the others: each path
                // alone (its noise is keyed by its sample, so it continues
                // the same rollout).
                for (int b = 0; b < B; b++) {
                    if (dv[b] >= 0) continue;
                    eddy_err e1;
                    if (rollout_piece(&rc, &gb, 1, buf + (long)b * stride * frame, filled, frame0,
                                      (uint64_t)(o->first + b0 + b), NULL, &e1))
                        dv[b] = frame0 + filled;
                }
            }
            for (int b = 0; b < B; b++) {
                double *pb = buf + (long)b * stride * frame;
                long t = dv[b] < 0 ? first_diverged(pb, frame, filled, stride, limit) : -1;
                if (t >= 0) dv[b] = frame0 + t;
                // A diverged path goes on as zeros: finite, and ignored.
                if (dv[b] >= 0) memset(pb, 0, (size_t)stride * frame * sizeof *pb);
            }
            stashed = filled;
            filled = stride;
        }
        if (b0 == 0 && nfe) *nfe = nfe_b;
        for (int b = 0; b < B; b++) {
            if (dv[b] >= 0) continue;
            for (long k = 0; k < kept / seg_len; k++)
                if (emit(emit_ctx, b0 + b, (int)k, keep_from + k * seg_len, seg_len,
                         keep + ((long)b * kept + k * seg_len) * frame, e))
                    goto out;
        }
        if (progress) progress(progress_ctx, b0 + B);
    }
    rcode = 0;
out:
    free(lams);
    free(sd);
    free(buf);
    free(keep);
    return rcode;
}
