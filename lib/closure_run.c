#include "closure_run.h"

#include <math.h>
#include <stdlib.h>

#include "closure_coarse.h"
#include "metrics.h"

typedef struct {
    ns2d *ref, *clo, *noc;
    double *wr, *wc, *wn, *Ut, *ext;
    float *V, *Y, *Us, *uf, *obs;
} run_state;

static void state_free(run_state *s)
{
    ns2d_free(s->ref), ns2d_free(s->clo), ns2d_free(s->noc);
    free(s->wr), free(s->wc), free(s->wn), free(s->Ut), free(s->ext);
    free(s->V), free(s->Y), free(s->Us), free(s->uf), free(s->obs);
}

static int start(const cr_opts *o, run_state *s, eddy_err *e)
{
    const ns2d_params *p = &o->p;
    size_t nn = (size_t)p->n * p->n;
    if (!(s->ref = ns2d_create(p, e))) return eddy_wrap(e, "reference solver");
    if (o->w0) {
        ns2d_set_omega(s->ref, o->w0);
    } else {
        if (ns2d_init_grf(s->ref, 2.5, 7, pow(7, 1.5), e)) return eddy_wrap(e, "initial state");
        if (ns2d_advance(s->ref, lround(o->spinup / p->dt), e)) return eddy_wrap(e, "spin-up");
        ns2d_set_time(s->ref, 0, 0);
    }
    s->wr = malloc(nn * sizeof *s->wr), s->wc = malloc(nn * sizeof *s->wc);
    s->wn = malloc(nn * sizeof *s->wn), s->Ut = malloc(nn * sizeof *s->Ut);
    s->ext = malloc(nn * sizeof *s->ext);
    s->V = malloc(nn * sizeof *s->V), s->Y = calloc(nn, sizeof *s->Y), s->Us = malloc(nn * sizeof *s->Us);
    s->uf = malloc(nn * sizeof *s->uf), s->obs = malloc((size_t)o->obs_n * o->obs_n * sizeof *s->obs);
    if (!s->wr || !s->wc || !s->wn || !s->Ut || !s->ext || !s->V || !s->Y || !s->Us || !s->uf || !s->obs)
        return eddy_fail(e, "out of memory");
    ns2d_get_omega(s->ref, s->wr);
    ns2d_params pc = *p;
    pc.beta = 0;     // the sampled term carries the noise
    s->clo = ns2d_create(&pc, e), s->noc = s->clo ? ns2d_create(&pc, e) : NULL;
    if (!s->clo || !s->noc) return eddy_wrap(e, "closure solver");
    ns2d_set_omega(s->clo, s->wr), ns2d_set_omega(s->noc, s->wr);
    int drop = !o->isG ? NS2D_DROP_ADV : o->cn_half ? NS2D_DROP_VISC_EXPLICIT : NS2D_DROP_VISC;
    ns2d_set_drop(s->clo, drop), ns2d_set_drop(s->noc, drop);
    return 0;
}

// A fresh sample of the term at step st, conditioned on the closure run's
// vorticity (and the observations of the true term, or for a coarse-base
// model the term that vorticity gives by itself), set as its external term.
static int resample(const cr_opts *o, const cs_info *ci, cs_ctx *ctx, run_state *s, long st,
                    double *term_err, eddy_err *e)
{
    int n = o->p.n;
    size_t nn = (size_t)n * n;
    ns2d_closure_terms(s->ref, o->isG ? s->Ut : NULL, o->isG ? NULL : s->Ut);
    ns2d_get_omega(s->clo, s->wc);
    for (size_t i = 0; i < nn; i++)
        s->V[i] = (float)(s->wc[i] * ci->v_scale), s->uf[i] = (float)(s->Ut[i] * ci->u_scale);
    if (ci->with_obs && o->y_coarse) {
        // The same Y closure-cond --y-coarse gave the training data, in net units.
        for (size_t i = 0; i < nn; i++) s->Us[i] = (float)s->wc[i];
        if (coarse_term(s->Us, 1, n, o->p.L, o->p.nu, o->isG ? COARSE_G : COARSE_H, s->Y, e))
            return eddy_wrap(e, "coarse term");
        for (size_t i = 0; i < nn; i++) s->Y[i] = (float)(s->Y[i] * ci->u_scale);
    } else if (ci->with_obs && (obs_sample(s->uf, n, o->obs_n, s->obs, e) ||
                                obs_fill(s->obs, o->obs_n, n, o->fill, o->box, s->Y, e))) {
        return eddy_wrap(e, "observations");
    }
    uint64_t cid = (uint64_t)st, sid = o->sample;
    if (vesde_sample(&o->so, cs_score, ctx, 1, nn, &cid, &sid, s->Us, e)) return eddy_wrap(e, "step %ld", st);
    for (size_t i = 0; i < nn; i++) {
        if (!isfinite(s->Us[i])) return eddy_fail(e, "step %ld: non-finite closure sample", st);
        s->ext[i] = (s->Us[i] + (ci->residual ? s->Y[i] : 0.0f)) / ci->u_scale;
    }
    *term_err = met_rel_l2(s->Ut, s->ext, nn);
    if (o->isG && o->cn_half)
        for (size_t i = 0; i < nn; i++) s->ext[i] *= 0.5;
    ns2d_set_external(s->clo, s->ext);
    return 0;
}

int closure_run(const cr_opts *o, fno *m, const cs_info *info,
                int (*report)(void *ctx, const cr_report *r, eddy_err *e), void *report_ctx,
                void (*progress)(void *ctx, long step), void *progress_ctx, eddy_err *e)
{
    int n = o->p.n;
    size_t nn = (size_t)n * n;
    run_state s = {0};
    cs_ctx ctx = {.m = m, .sigma0 = info->sigma0, .sigma_data = info->sigma_data, .H = n, .W = n};
    int rc = start(o, &s, e);
    ctx.V = s.V, ctx.Y = s.Y;
    double term_err = NAN;
    long dc = 0, dn = 0;   // the step each run blew up at (0: still running)
    eddy_err ec = {""}, en = {""};   // and why, in its solver's words
    for (long st = 0; st <= o->nsteps && !rc; st++) {
        if (st % o->report == 0 || st == o->nsteps) {
            ns2d_get_omega(s.ref, s.wr), ns2d_get_omega(s.clo, s.wc), ns2d_get_omega(s.noc, s.wn);
            cr_report r = {st, ns2d_time(s.ref), dc ? NAN : met_rel_l2(s.wr, s.wc, nn),
                           dn ? NAN : met_rel_l2(s.wr, s.wn, nn), term_err, dc, dn, ec.msg, en.msg,
                           s.wr, dc ? NULL : s.wc, dn ? NULL : s.wn};
            if ((rc = report(report_ctx, &r, e))) break;
        }
        if (st == o->nsteps) break;
        if (!dc && st % o->every == 0 && (rc = resample(o, info, &ctx, &s, st, &term_err, e))) break;
        if (ns2d_advance(s.ref, 1, e)) rc = eddy_wrap(e, "reference");
        if (!rc && !dc && ns2d_advance(s.clo, 1, &ec)) dc = st + 1, term_err = NAN;
        if (!rc && !dn && ns2d_advance(s.noc, 1, &en)) dn = st + 1;
        if (!rc && progress) progress(progress_ctx, st + 1);
    }
    cs_ctx_free(&ctx);
    state_free(&s);
    return rc;
}
