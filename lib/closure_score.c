#include "closure_score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "rng.h"
#include "scratch.h"
#include "vesde.h"

enum { KEY_TRAIN = 0x7e5de };     // purpose word of the training noise

void cs_arch_default(cs_arch *a)
{
    *a = (cs_arch){.with_obs = 1, .width = 20, .layers = 4, .modes = 8, .emb_size = 256,
                   .emb_scale = 30, .emb_hidden = 256, .nfuse = 4, .fuse = {40, 20, 20, 128},
                   .L = 2 * M_PI};
}

int cs_config(const cs_arch *a, fno_config *cfg, eddy_err *e)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dims = 2;
    cfg->length[0] = cfg->length[1] = a->L;
    cfg->act = FNO_GELU;
    cfg->nbranch = a->with_obs ? 3 : 2;
    for (int k = 0; k < cfg->nbranch; k++) {
        fno_branch_cfg *b = &cfg->branch[k];
        b->in = 1;
        b->width = a->width;
        b->layers = a->layers;
        b->modes[0] = b->modes[1] = a->modes;
        b->out = 0;        // no projection: the branch hands its width to the fusion
        b->grid = 1;
        b->cond = k == 0 ? FNO_COND_BIAS : FNO_COND_NONE;
    }
    if (a->nfuse > FNO_MAX_MLP) return eddy_fail(e, "too many fusion layers (%d)", a->nfuse);
    cfg->nfuse = a->nfuse;
    memcpy(cfg->fuse, a->fuse, sizeof cfg->fuse);
    cfg->out = 1;
    cfg->emb = FNO_EMB_GAUSSIAN;
    cfg->emb_size = a->emb_size;
    cfg->emb_scale = a->emb_scale;
    cfg->emb_hidden = a->emb_hidden;
    cfg->emb_act = FNO_SILU;
    return fno_config_check(cfg, e);
}

// ---- data

int cs_record_check(const tsr_record *rec, eddy_err *e)
{
    if (rec->dtype != TSR_F4)
        return eddy_fail(e, "record '%s': dtype %s, expected <f4", rec->name,
                         tsr_dtype_descr(rec->dtype));
    if (rec->rank != 4 || rec->shape[3] != 3)
        return eddy_fail(e, "record '%s': expected shape (T, H, W, 3) with channels U,V,Y "
                            "(closure-cond output), got rank %d", rec->name, rec->rank);
    const char *ch = tsr_attr_get(rec, "channels");
    if (ch && strcmp(ch, "U,V,Y"))
        return eddy_fail(e, "record '%s': channels '%s', expected U,V,Y", rec->name, ch);
    if (rec->shape[1] > 8192 || rec->shape[2] > 8192 || rec->shape[1] < 1 || rec->shape[2] < 1)
        return eddy_fail(e, "record '%s': grid %llu×%llu out of range", rec->name,
                         (unsigned long long)rec->shape[1], (unsigned long long)rec->shape[2]);
    const float *p = rec->data;
    uint64_t n = tsr_numel(rec);
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return eddy_fail(e, "record '%s': non-finite value in frame %llu, channel %c",
                             rec->name, (unsigned long long)(i / (n / rec->shape[0])),
                             "UVY"[i % 3]);
    return 0;
}

int cs_record_split(const tsr_record *rec, float *U, float *V, float *Y, eddy_err *e)
{
    if (cs_record_check(rec, e)) return -1;
    size_t n = (size_t)(tsr_numel(rec) / 3);
    const float *p = rec->data;
    for (size_t i = 0; i < n; i++) {
        if (U) U[i] = p[3 * i];
        if (V) V[i] = p[3 * i + 1];
        if (Y) Y[i] = p[3 * i + 2];
    }
    return 0;
}

int cs_record_make(tsr_record *o, const tsr_record *V, const tsr_record *U, const char *term,
                   const cs_obs *ob, const tsr_record *yc, eddy_err *e)
{
    int N = (int)V->shape[V->rank - 1], T = V->rank == 3 ? (int)V->shape[0] : 1;
    if (ob->obs_n > N) return eddy_fail(e, "--obs-n %d exceeds the %d² grid", ob->obs_n, N);
    size_t hw = (size_t)N * N;
    tsr_record_init(o);
    tsr_attrs_copy(o, V);
    uint64_t shp[4] = {(uint64_t)T, (uint64_t)N, (uint64_t)N, 3};
    if (tsr_record_alloc(o, "closure", TSR_F4, 4, shp, e)) return -1;
    float *obs = malloc((size_t)ob->obs_n * ob->obs_n * sizeof *obs), *Y = malloc(hw * sizeof *Y);
    int rc = -1;
    if (!obs || !Y) {
        eddy_fail(e, "out of memory");
        goto out;
    }
    const float *u = U->data, *v = V->data;
    float *d = o->data;
    for (int t = 0; t < T; t++) {
        const float *ut = u + t * hw, *vt = v + t * hw;
        for (size_t i = 0; i < hw; i++)
            if (!isfinite(ut[i]) || !isfinite(vt[i])) {
                eddy_fail(e, "non-finite value in frame %d", t);
                goto out;
            }
        if (yc)
            memcpy(Y, (const float *)yc->data + t * hw, hw * sizeof *Y);
        else if (obs_sample(ut, N, ob->obs_n, obs, e) || obs_fill(obs, ob->obs_n, N, ob->fill, ob->box, Y, e)) {
            eddy_wrap(e, "frame %d", t);
            goto out;
        }
        for (size_t i = 0; i < hw; i++) {
            float *px = d + (t * hw + i) * 3;
            px[0] = ut[i], px[1] = vt[i], px[2] = Y[i];
        }
    }
    // The record carries U's identity; V's attributes hold the run's physics.
    tsr_attr_del(o, "units");
    tsr_attr_set(o, "field", "closure");
    tsr_attr_set(o, "term", term);
    tsr_attr_set(o, "channels", "U,V,Y");
    tsr_attr_set(o, "dims", "t,y,x,c");
    tsr_attr_setf(o, "obs_n", "%d", yc ? 0 : ob->obs_n);
    tsr_attr_set(o, "obs_fill", yc ? "coarse" : obs_fill_name(ob->fill));
    if (ob->fill == OBS_FILL_BOX && !yc)
        tsr_attr_setf(o, "obs_box", "%d", ob->box > 0 ? ob->box : obs_box_width(ob->obs_n, N));
    tsr_attr_setf(o, "grid", "%d", N);
    rc = 0;
out:
    free(obs), free(Y);
    if (rc) tsr_record_free(o);
    return rc;
}

int cs_data_read(cs_data *d, tsr_reader *r, const char *label, eddy_err *e)
{
    tsr_record rec;
    tsr_record_init(&rec);
    int got;
    while ((got = tsr_read(r, &rec, e)) == 1) {
        if (strcmp(rec.name, "closure")) continue;
        long idx = tsr_reader_index(r) - 1;
        if (cs_record_check(&rec, e)) {
            tsr_record_free(&rec);
            return eddy_wrap(e, "%s: record %ld", label, idx);
        }
        int T = (int)rec.shape[0], H = (int)rec.shape[1], W = (int)rec.shape[2];
        static const char *const keys[] = {"term", "L", "grid", "channels", "obs_n", "obs_fill", NULL};
        if (d->n == 0 && !d->first.set) {
            d->H = H, d->W = W;
            tsr_record_free(&d->meta);
            tsr_attrs_copy(&d->meta, &rec);
        } else if (H != d->H || W != d->W) {
            eddy_fail(e, "%s record %ld has grid %d×%d, %s %d×%d: mixed training data", label,
                      idx, H, W, d->first.where, d->H, d->W);
            tsr_record_free(&rec);
            return -1;
        }
        if (train_first_keep(&d->first, &rec, label, idx, e) ||
            train_same_kind(&d->first, &rec, label, idx, keys, e)) {
            tsr_record_free(&rec);
            return -1;
        }
        size_t hw = (size_t)H * W, total = (size_t)(d->n + T) * hw;
        float *u = realloc(d->U, total * sizeof *u);
        if (u) d->U = u;
        float *v = realloc(d->V, total * sizeof *v);
        if (v) d->V = v;
        float *y = realloc(d->Y, total * sizeof *y);
        if (y) d->Y = y;
        if (!u || !v || !y) {
            tsr_record_free(&rec);
            return eddy_fail(e, "%s: out of memory at %zu frames", label, (size_t)d->n + T);
        }
        cs_record_split(&rec, d->U + d->n * hw, d->V + d->n * hw, d->Y + d->n * hw, e);
        d->n += T;
    }
    tsr_record_free(&rec);
    return got < 0 ? eddy_wrap(e, "%s", label) : 0;
}

void cs_data_free(cs_data *d)
{
    free(d->U), free(d->V), free(d->Y);
    tsr_record_free(&d->meta);
    train_first_free(&d->first);
    memset(d, 0, sizeof *d);
    tsr_record_init(&d->meta);
}

// ---- score

double cs_c_in(double sigma_data, double sigma)
{
    return sigma_data > 0 ? 1.0 / sqrt(sigma * sigma + sigma_data * sigma_data) : 1.0;
}

int cs_score(void *ctx, const float *x, int B, double t, float *out, eddy_err *e)
{
    cs_ctx *c = ctx;
    size_t n = (size_t)B * c->H * c->W;
    double sigma = vesde_std(c->sigma0, t);
    if (c->sigma_data > 0) {
        if (scratch_grow(&c->out, &c->cap, n, sizeof *c->out)) return eddy_fail(e, "out of memory");
        double ci = cs_c_in(c->sigma_data, sigma);
        for (size_t i = 0; i < n; i++) c->out[i] = (float)(x[i] * ci);
        x = c->out;
    }
    float *cond = malloc((size_t)B * sizeof *cond);
    if (!cond) return eddy_fail(e, "out of memory");
    for (int b = 0; b < B; b++) cond[b] = (float)t;
    const float *in[3] = {x, c->V, c->Y};
    int rc = fno_forward(c->m, in, cond, B, c->H, c->W, out, e);
    free(cond);
    if (rc) return -1;
    double inv = 1.0 / sigma;
    for (size_t i = 0; i < n; i++) out[i] = (float)(out[i] * inv);
    return 0;
}

void cs_ctx_free(cs_ctx *c)
{
    free(c->out);
    c->out = NULL;
}

// ---- training

double cs_draw_t(const cs_train_opts *o, eddy_rng *r)
{
    double t_hi = o->t_max;
    if (o->t_focus > 0 && rng_uniform(r) < o->focus_frac) t_hi = o->t_focus;
    return vesde_draw_t(r, o->t_min, t_hi);
}

int cs_objective_grad(void *ctx, const train_batch *tb, double *loss, eddy_err *e)
{
    cs_objective *ob = ctx;
    const cs_data *d = ob->d;
    const cs_train_opts *o = &ob->opts;
    cs_batch *bt = &ob->bt;
    int B = tb->nb;
    size_t hw = (size_t)d->H * d->W, n = (size_t)B * hw;
    float **buf[] = {&bt->xt, &bt->z, &bt->V, &bt->Y, &bt->out, &bt->dout, &bt->cond};
    size_t need[] = {n, n, n, n, n, n, (size_t)B};
    for (int k = 0; k < 7; k++)
        if (scratch_grow(buf[k], &bt->cap[k], need[k], sizeof(float)))
            return eddy_fail(e, "out of memory (batch %d at %d×%d)", B, d->H, d->W);
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        int pos = tb->b0 + b;           // position in the whole batch: keys the noise
        eddy_rng r;
        rng_init(&r, tb->seed, (uint64_t)tb->step, (uint64_t)pos, KEY_TRAIN);
        double t = cs_draw_t(o, &r), sigma = vesde_std(o->sigma0, t);
        bt->cond[b] = (float)t;
        size_t k = (size_t)tb->idx[pos] * hw;
        float *xt = bt->xt + b * hw;
        vesde_perturb(&r, sigma, d->U + k, bt->z + b * hw, xt, hw);
        if (o->sigma_data > 0) {
            double ci = cs_c_in(o->sigma_data, sigma);
            for (size_t i = 0; i < hw; i++) xt[i] = (float)(xt[i] * ci);
        }
        memcpy(bt->V + b * hw, d->V + k, hw * sizeof(float));
        memcpy(bt->Y + b * hw, d->Y + k, hw * sizeof(float));
    }
    const float *in[3] = {bt->xt, bt->V, bt->Y};
    if (fno_forward(ob->m, in, bt->cond, B, d->H, d->W, bt->out, e)) return -1;
    // The net's output is σ_t·s_θ, so the loss (σ_t s_θ + z)² is (out + z)².
    double scale = 1.0 / tb->B / (o->reduce_mean ? (double)hw : 1.0), sum = 0;
    memset(bt->dout, 0, n * sizeof(float));
    for (int b = 0; b < B; b++)
        sum += vesde_dsm_loss(1.0, bt->out + b * hw, bt->z + b * hw, hw, scale, bt->dout + b * hw);
    if (!isfinite(sum)) return eddy_fail(e, "loss is not finite (%g)", sum);
    if (fno_backward(ob->m, bt->dout, NULL, FNO_GRAD_PARAMS, e)) return -1;
    *loss = sum;
    return 0;
}

void cs_objective_free(cs_objective *ob)
{
    cs_batch *bt = &ob->bt;
    free(bt->xt), free(bt->z), free(bt->V), free(bt->Y), free(bt->out), free(bt->dout);
    free(bt->cond);
    memset(bt, 0, sizeof *bt);
}

int cs_header_check(const tsr_record *hdr, const fno *m, cs_info *info, eddy_err *e)
{
    const char *kind = tsr_attr_get(hdr, "kind");
    if (!kind || strcmp(kind, CS_KIND))
        return eddy_fail(e, "not a closure score model (kind '%s', expected '%s')",
                         kind ? kind : "(none)", CS_KIND);
    info->sigma0 = VESDE_SIGMA0, info->u_scale = info->v_scale = 1, info->sigma_data = 0;
    if (tsr_attr_double(hdr, "closure.sigma0", &info->sigma0, e) < 0 ||
        tsr_attr_double(hdr, "closure.sigma_data", &info->sigma_data, e) < 0 ||
        tsr_attr_double(hdr, "closure.u_scale", &info->u_scale, e) < 0 ||
        tsr_attr_double(hdr, "closure.v_scale", &info->v_scale, e) < 0)
        return -1;
    if (!(info->sigma0 > 1) || !(info->u_scale > 0) || !(info->v_scale > 0) ||
        !(info->sigma_data >= 0))
        return eddy_fail(e, "bad closure.sigma0 / u_scale / v_scale / sigma_data in the header");
    info->t_min = 2e-5, info->t_max = 2, info->t_focus = 0, info->focus_frac = 0.5;
    if (tsr_attr_double(hdr, "closure.t_min", &info->t_min, e) < 0 ||
        tsr_attr_double(hdr, "closure.t_max", &info->t_max, e) < 0 ||
        tsr_attr_double(hdr, "closure.t_focus", &info->t_focus, e) < 0 ||
        tsr_attr_double(hdr, "closure.focus_frac", &info->focus_frac, e) < 0)
        return -1;
    info->term = tsr_attr_get(hdr, "term"), info->obs_fill = tsr_attr_get(hdr, "obs_fill");
    info->obs_n = 5;
    if (tsr_attr_long(hdr, "obs_n", &info->obs_n, e) < 0) return -1;
    const char *red = tsr_attr_get(hdr, "closure.reduce");
    info->reduce_mean = red && !strcmp(red, "mean");
    const char *c = tsr_attr_get(hdr, "closure.cond");
    info->with_obs = c && !strcmp(c, "v+obs");
    const char *res = tsr_attr_get(hdr, "closure.residual");
    info->residual = res && !strcmp(res, "1");
    if (info->residual && !info->with_obs)
        return eddy_fail(e, "closure.residual needs a model conditioned on observations");
    int nb = info->with_obs ? 3 : 2;
    if (m->cfg.nbranch != nb || m->cfg.out != 1 || m->cfg.dims != 2)
        return eddy_fail(e, "model has %d branches, %d outputs, %d-D; a closure score model "
                            "conditioned on '%s' needs %d, 1, 2-D", m->cfg.nbranch, m->cfg.out,
                         m->cfg.dims, c ? c : "?", nb);
    for (int k = 0; k < nb; k++)
        if (m->cfg.branch[k].in != 1)
            return eddy_fail(e, "branch %d takes %d channels, expected 1", k, m->cfg.branch[k].in);
    return 0;
}

void cs_scale(float *x, size_t n, double s)
{
    if (s == 1) return;
    for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] * s);
}

int cs_header_make(tsr_record *hdr, const tsr_record *meta, cs_info *info, double L, int H,
                   int W, long seed, eddy_err *e)
{
    if (info->u_scale == 0) info->u_scale = pow(L, 4);
    if (info->v_scale == 0) info->v_scale = pow(L, 2);
    if (!(info->u_scale > 0) || !(info->v_scale > 0))
        return eddy_fail(e, "the unit scales must be > 0");
    tsr_attrs_copy(hdr, meta);
    tsr_attr_del(hdr, "history");
    tsr_attr_del(hdr, "channels");
    tsr_attr_del(hdr, "dims");
    tsr_attr_set(hdr, "kind", CS_KIND);
    tsr_attr_set_double(hdr, "closure.sigma0", info->sigma0);
    tsr_attr_set_double(hdr, "closure.u_scale", info->u_scale);
    tsr_attr_set_double(hdr, "closure.v_scale", info->v_scale);
    tsr_attr_set(hdr, "closure.cond", info->with_obs ? "v+obs" : "v");
    tsr_attr_set_double(hdr, "closure.t_min", info->t_min);
    tsr_attr_set_double(hdr, "closure.t_max", info->t_max);
    tsr_attr_set(hdr, "closure.reduce", info->reduce_mean ? "mean" : "sum");
    if (info->residual) tsr_attr_set(hdr, "closure.residual", "1");
    if (info->t_focus > 0) {
        tsr_attr_set_double(hdr, "closure.t_focus", info->t_focus);
        tsr_attr_set_double(hdr, "closure.focus_frac", info->focus_frac);
    }
    tsr_attr_setf(hdr, "closure.train_grid", "%dx%d", H, W);
    tsr_attr_setf(hdr, "closure.seed", "%ld", seed);
    return 0;
}

int cs_fit_sigma_data(cs_info *info, tsr_record *hdr, const float *U, size_t n, eddy_err *e)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)U[i] * U[i];
    info->sigma_data = sqrt(ss / (double)n);
    if (!(info->sigma_data > 0)) return eddy_fail(e, "--precond: the training term is identically 0");
    tsr_attr_set_double(hdr, "closure.sigma_data", info->sigma_data);
    return 0;
}

void cs_units_to_net(const cs_info *info, float *U, float *V, float *Y, size_t n)
{
    if (U) cs_scale(U, n, info->u_scale);
    if (Y) cs_scale(Y, n, info->u_scale);
    if (V) cs_scale(V, n, info->v_scale);
    if (U && Y && info->residual)
        for (size_t i = 0; i < n; i++) U[i] -= Y[i];
}

void cs_units_from_net(const cs_info *info, float *x, const float *Y, size_t n)
{
    if (info->residual && Y)
        for (size_t i = 0; i < n; i++) x[i] += Y[i];
    cs_scale(x, n, 1 / info->u_scale);
}

int cs_sample_frames(fno *m, const cs_info *info, const vesde_sample_opts *so, int H, int W,
                     int nt, const float *V, const float *Y, int K, int batch, long cbase,
                     float *dst, void (*progress)(void *ctx, int done), void *progress_ctx,
                     eddy_err *e)
{
    size_t hw = (size_t)H * W;
    float *bv = malloc((size_t)batch * hw * sizeof *bv), *by = malloc((size_t)batch * hw * sizeof *by);
    uint64_t *cid = malloc((size_t)batch * sizeof *cid), *sid = malloc((size_t)batch * sizeof *sid);
    cs_ctx ctx = {.m = m, .sigma0 = info->sigma0, .sigma_data = info->sigma_data, .H = H, .W = W,
                  .V = bv, .Y = by};
    int rc = -1;
    if (!bv || !by || !cid || !sid) {
        eddy_fail(e, "out of memory");
        goto out;
    }
    // Members are integrated together, frame by frame.
    long total = (long)nt * K;
    for (long j0 = 0; j0 < total; j0 += batch) {
        int B = (int)(total - j0 < batch ? total - j0 : batch);
        for (int b = 0; b < B; b++) {
            long j = j0 + b, fr = j / K;
            cid[b] = (uint64_t)(cbase + fr), sid[b] = (uint64_t)(j % K);
            memcpy(bv + b * hw, V + fr * hw, hw * sizeof *bv);
            memcpy(by + b * hw, Y + fr * hw, hw * sizeof *by);
        }
        float *x = dst + j0 * hw;
        if (vesde_sample(so, cs_score, &ctx, B, hw, cid, sid, x, e)) goto out;
        cs_units_from_net(info, x, by, (size_t)B * hw);
        for (size_t i = 0; i < (size_t)B * hw; i++)
            if (!isfinite(x[i])) {
                eddy_fail(e, "the sampler produced a non-finite value");
                goto out;
            }
        if (progress) progress(progress_ctx, B);
    }
    rc = 0;
out:
    cs_ctx_free(&ctx);
    free(bv), free(by), free(cid), free(sid);
    return rc;
}

cs_train_opts cs_train_opts_of(const cs_info *info)
{
    return (cs_train_opts){.sigma0 = info->sigma0, .t_min = info->t_min, .t_max = info->t_max,
                           .t_focus = info->t_focus, .focus_frac = info->focus_frac,
                           .sigma_data = info->sigma_data, .reduce_mean = info->reduce_mean};
}

int cs_model_load(const char *path, fno *m, tsr_record *hdr, cs_info *info, eddy_err *e)
{
    tsr_record_init(hdr);
    if (ckpt_load(path, m, NULL, NULL, hdr, e) || cs_header_check(hdr, m, info, e))
        return eddy_wrap(e, "%s", path);
    return 0;
}
