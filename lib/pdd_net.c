#include "pdd_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "fft.h"
#include "layout.h"
#include "rng.h"
#include "model.h"
#include "scratch.h"
#include "train.h"

enum { PURPOSE_LAMBDA = 0x1a, PURPOSE_EPS = 0x2b };

void pdd_arch_default(pdd_arch *a)
{
    a->width = 64;
    a->layers = 8;
    a->modes = 56;
    a->emb_size = 32;
    a->emb_hidden = 128;
    a->act = FNO_SILU;
}

void pdd_arch_fno_d5(pdd_arch *a, int dims)
{
    pdd_arch_default(a);
    a->layers = dims == 1 ? 8 : 6;
    a->modes = dims == 1 ? 56 : 16;
}

int pdd_arch_unet_config(const pdd_arch *a, const pdd_geom *g, int in, int out, unet_config *c,
                         eddy_err *e)
{
    if (unet_config_preset(c, g->dims == 1 ? UNET_PRESET_L96 : UNET_PRESET_KF, e)) return -1;
    c->in = in, c->out = out;
    if (a->unet_base > 0) c->base = a->unet_base;
    if (a->unet_levels > 0) {
        if (a->unet_levels > UNET_MAX_LEVELS)
            return eddy_fail(e, "unet: at most %d halvings, not %d", UNET_MAX_LEVELS, a->unet_levels);
        c->levels = a->unet_levels;
        for (int i = 0; i < c->levels; i++) c->ch[i] = a->unet_ch[i];
    }
    if (a->unet_nres > 0) c->nres = a->unet_nres;
    if (a->unet_groups > 0) c->groups = a->unet_groups;
    if (a->unet_heads > 0) c->heads = a->unet_heads;
    if (a->unet_emb_size > 0) c->emb_size = a->unet_emb_size;
    if (a->unet_emb_hidden > 0) c->emb_hidden = a->unet_emb_hidden;
    return unet_config_check(c, e);
}

void pdd_arch_fit(pdd_arch *a, const pdd_geom *g)
{
    if (a->modes <= 0) a->modes = g->dims == 1 ? 56 : 16;
    int nmax = g->dims == 1 ? g->n[0] / 2 + 1 : g->n[0] / 2;
    if (g->dims == 2 && g->n[1] / 2 + 1 < nmax) nmax = g->n[1] / 2 + 1;
    if (a->modes > nmax) a->modes = nmax;
}

const char *pdd_objective_name(pdd_objective o)
{
    return o == PDD_OBJ_PDD ? "pdd" : o == PDD_OBJ_DDPM_GEN ? "ddpm-gen" : "ddpm-cond";
}

static int in_channels(const pdd_net *n)
{
    return n->g.C * n->g.W + (n->obj == PDD_OBJ_DDPM_COND ? n->g.C : 0);
}

static int grid_hw(const pdd_geom *g, int *H, int *W)
{
    *H = g->dims == 2 ? g->n[0] : 1;
    *W = g->dims == 2 ? g->n[1] : g->n[0];
    return 0;
}

static int make_op(pdd_net *n, eddy_err *e)
{
    rg_grid rgg;
    pdd_rg_grid(&n->g, &n->proc, &rgg);
    n->op = rg_op_new(&rgg, e);
    return n->op ? 0 : -1;
}

int pdd_net_create(pdd_net *n, pdd_objective obj, const pdd_geom *g, const pdd_process *p,
                   const pdd_arch *a, uint64_t seed, eddy_err *e)
{
    memset(n, 0, sizeof *n);
    if (pdd_geom_check(g, e)) return -1;
    if (g->C > PDD_MAXC) return eddy_fail(e, "at most %d channels, not %d", PDD_MAXC, g->C);
    n->obj = obj;
    n->g = *g;
    n->proc = *p;
    n->lam_max = 1;
    n->dt = 1;
    n->max_batch = 256;
    for (int c = 0; c < PDD_MAXC; c++) n->mean[c] = 0, n->std[c] = 1, n->rstd[c] = 1;
    int H, W;
    grid_hw(g, &H, &W);
    if (a->kind == PDD_ARCH_UNET) {
        unet_config uc;
        n->arch = PDD_ARCH_UNET;
        if (pdd_arch_unet_config(a, g, in_channels(n), g->C, &uc, e) || unet_grid_ok(&uc, H, W, e))
            return eddy_wrap(e, "model");
        if (unet_create(&n->u, &uc, seed, e)) return -1;
        if (obj == PDD_OBJ_PDD && make_op(n, e)) {
            unet_free(&n->u);
            return -1;
        }
        return 0;
    }
    fno_config cfg;
    fno_config_default(&cfg);
    cfg.dims = g->dims;
    cfg.length[0] = cfg.length[1] = g->L;
    cfg.act = a->act;
    cfg.nbranch = 1;
    fno_branch_cfg *b = &cfg.branch[0];
    memset(b, 0, sizeof *b);
    b->in = in_channels(n);
    b->width = a->width;
    b->layers = a->layers;
    b->modes[0] = a->modes;
    b->modes[1] = a->modes;
    b->nlift = 0;
    b->nproj = 1;
    b->proj[0] = 2 * a->width;
    b->out = g->C;
    b->grid = 1;
    b->cond = FNO_COND_FILM;
    cfg.emb = FNO_EMB_SINUSOIDAL;
    cfg.emb_size = a->emb_size;
    cfg.emb_scale = 1000;
    cfg.emb_hidden = a->emb_hidden;
    cfg.emb_act = FNO_GELU;
    if (fno_config_check(&cfg, e) || fno_grid_ok(&cfg, H, W, e)) return eddy_wrap(e, "model");
    if (fno_create(&n->m, &cfg, seed, e)) return -1;
    if (obj == PDD_OBJ_PDD && make_op(n, e)) {
        fno_free(&n->m);
        return -1;
    }
    return 0;
}

void pdd_net_free(pdd_net *n)
{
    if (n->arch == PDD_ARCH_UNET) unet_free(&n->u);
    else fno_free(&n->m);
    rg_op_free(n->op);
    free(n->fin); free(n->fout); free(n->fdin); free(n->fdout); free(n->fcond);
    free(n->dwin); free(n->dtmp); free(n->spec);
    memset(n, 0, sizeof *n);
}

// ---------------------------------------------------------------- header

static void set_list(tsr_record *h, const char *key, const double *v, int C)
{
    char buf[512];
    int k = 0;
    for (int c = 0; c < C && k < (int)sizeof buf - 32; c++)
        k += snprintf(buf + k, sizeof buf - k, c ? ",%.17g" : "%.17g", v[c]);
    tsr_attr_set(h, key, buf);
}

static int get_list(const tsr_record *h, const char *key, double *v, int C, eddy_err *e)
{
    const char *s = tsr_attr_get(h, key);
    if (!s) return eddy_fail(e, "model header lacks %s", key);
    for (int c = 0; c < C; c++) {
        char *end;
        v[c] = strtod(s, &end);
        if (end == s || !isfinite(v[c])) return eddy_fail(e, "model header %s: bad list '%s'", key, tsr_attr_get(h, key));
        s = *end == ',' ? end + 1 : end;
    }
    return 0;
}

int pdd_net_to_header(const pdd_net *n, tsr_record *h, eddy_err *e)
{
    tsr_attr_set(h, "kind", PDD_KIND);
    if (n->arch == PDD_ARCH_UNET) tsr_attr_set(h, "pdd.arch", "unet");
    tsr_attr_set(h, "pdd.objective", pdd_objective_name(n->obj));
    tsr_attr_setf(h, "pdd.dims", "%d", n->g.dims);
    if (n->g.dims == 2) tsr_attr_setf(h, "pdd.grid", "%dx%d", n->g.n[0], n->g.n[1]);
    else tsr_attr_setf(h, "pdd.grid", "%d", n->g.n[0]);
    tsr_attr_setf(h, "pdd.channels", "%d", n->g.C);
    tsr_attr_setf(h, "pdd.frames", "%d", n->g.T);
    tsr_attr_setf(h, "pdd.window", "%d", n->g.W);
    tsr_attr_set_double(h, "pdd.L", n->g.L);
    tsr_attr_set(h, "pdd.process", n->proc.kind == PDD_PROC_RG ? "rg" : "vp");
    tsr_attr_set_double(h, "pdd.alpha", n->proc.alpha);
    tsr_attr_set_double(h, "pdd.beta", n->proc.beta);
    tsr_attr_set_double(h, "pdd.gamma", n->proc.gamma);
    tsr_attr_setf(h, "pdd.fd_laplacian", "%d", n->proc.fd_laplacian);
    tsr_attr_set_double(h, "pdd.dlam", n->proc.dlam);
    tsr_attr_set_double(h, "pdd.lambda_max", n->lam_max);
    tsr_attr_set_double(h, "pdd.dt", n->dt);
    set_list(h, "pdd.mean", n->mean, n->g.C);
    set_list(h, "pdd.std", n->std, n->g.C);
    set_list(h, "pdd.rstd", n->rstd, n->g.C);
    if (n->spec && n->op) {
        size_t M = rg_nmodes(n->op), len = (size_t)n->g.C * M * 24 + 1, k = 0;
        char *buf = malloc(len);
        if (!buf) return eddy_fail(e, "out of memory");
        for (size_t i = 0; i < (size_t)n->g.C * M; i++)
            k += (size_t)snprintf(buf + k, len - k, i ? ",%.9g" : "%.9g", n->spec[i]);
        tsr_attr_set(h, "pdd.spectrum", buf);
        free(buf);
    }
    return 0;
}

int pdd_net_header_make(tsr_record *hdr, const pdd_net *n, const tsr_record *meta, long seed,
                        long paths, eddy_err *e)
{
    tsr_record_init(hdr);
    tsr_attrs_copy(hdr, meta);
    tsr_attr_del(hdr, "history");
    tsr_attr_del(hdr, "dims");
    if (pdd_net_to_header(n, hdr, e)) return -1;
    tsr_attr_setf(hdr, "pdd.seed", "%ld", seed);
    tsr_attr_setf(hdr, "pdd.train_paths", "%ld", paths);
    return 0;
}

static int attr_num(const tsr_record *h, const char *k, double *v, eddy_err *e)
{
    int rc = tsr_attr_double(h, k, v, e);
    if (rc == 1) return eddy_fail(e, "model header lacks %s", k);
    return rc;
}

int pdd_net_from_header(pdd_net *n, const tsr_record *h, eddy_err *e)
{
    const char *kind = tsr_attr_get(h, "kind");
    if (!kind || strcmp(kind, PDD_KIND))
        return eddy_fail(e, "not a pd-train model (kind '%s', expected '%s')", kind ? kind : "none", PDD_KIND);
    const char *arch = tsr_attr_get(h, "pdd.arch");
    if (arch && strcmp(arch, "fno") && strcmp(arch, "unet"))
        return eddy_fail(e, "unknown network pdd.arch '%s'", arch);
    pdd_arch_kind ak = arch && !strcmp(arch, "unet") ? PDD_ARCH_UNET : PDD_ARCH_FNO;
    if (ak != n->arch)
        return eddy_fail(e, "model header says pdd.arch %s, the records hold a%s", arch ? arch : "fno",
                         n->arch == PDD_ARCH_UNET ? " U-Net" : "n FNO");
    const char *obj = tsr_attr_get(h, "pdd.objective");
    if (!obj) return eddy_fail(e, "model header lacks pdd.objective");
    if (!strcmp(obj, "pdd")) n->obj = PDD_OBJ_PDD;
    else if (!strcmp(obj, "ddpm-gen")) n->obj = PDD_OBJ_DDPM_GEN;
    else if (!strcmp(obj, "ddpm-cond")) n->obj = PDD_OBJ_DDPM_COND;
    else return eddy_fail(e, "unknown objective '%s'", obj);
    double d, C, T, W, fd;
    if (attr_num(h, "pdd.dims", &d, e) || attr_num(h, "pdd.channels", &C, e) ||
        attr_num(h, "pdd.frames", &T, e) || attr_num(h, "pdd.window", &W, e) ||
        attr_num(h, "pdd.L", &n->g.L, e) || attr_num(h, "pdd.alpha", &n->proc.alpha, e) ||
        attr_num(h, "pdd.beta", &n->proc.beta, e) || attr_num(h, "pdd.gamma", &n->proc.gamma, e) ||
        attr_num(h, "pdd.fd_laplacian", &fd, e) || attr_num(h, "pdd.dlam", &n->proc.dlam, e) ||
        attr_num(h, "pdd.lambda_max", &n->lam_max, e) || attr_num(h, "pdd.dt", &n->dt, e))
        return -1;
    n->g.dims = (int)d, n->g.C = (int)C, n->g.T = (int)T, n->g.W = (int)W;
    n->proc.fd_laplacian = (int)fd;
    const char *proc = tsr_attr_get(h, "pdd.process"), *grid = tsr_attr_get(h, "pdd.grid");
    n->proc.kind = proc && !strcmp(proc, "vp") ? PDD_PROC_VP : PDD_PROC_RG;
    if (!grid) return eddy_fail(e, "model header lacks pdd.grid");
    if (n->g.dims == 2 ? sscanf(grid, "%dx%d", &n->g.n[0], &n->g.n[1]) != 2
                       : sscanf(grid, "%d", &n->g.n[0]) != 1)
        return eddy_fail(e, "model header: bad pdd.grid '%s'", grid);
    if (n->g.C > PDD_MAXC || pdd_geom_check(&n->g, e)) return eddy_wrap(e, "model header");
    if (get_list(h, "pdd.mean", n->mean, n->g.C, e) || get_list(h, "pdd.std", n->std, n->g.C, e) ||
        get_list(h, "pdd.rstd", n->rstd, n->g.C, e))
        return -1;
    int nin = n->arch == PDD_ARCH_UNET ? n->u.cfg.in : n->m.cfg.branch[0].in;
    int nout = n->arch == PDD_ARCH_UNET ? n->u.cfg.out : fno_out_channels(&n->m.cfg);
    if (nin != in_channels(n) || nout != n->g.C)
        return eddy_fail(e, "model header and network disagree on channels");
    if (n->arch == PDD_ARCH_UNET) {
        int H, W;
        grid_hw(&n->g, &H, &W);
        if (unet_grid_ok(&n->u.cfg, H, W, e)) return eddy_wrap(e, "model header");
    }
    n->max_batch = 256;
    if (n->obj == PDD_OBJ_PDD && make_op(n, e)) return -1;
    const char *sp = tsr_attr_get(h, "pdd.spectrum");
    if (sp && n->op) {
        size_t M = rg_nmodes(n->op), cnt = (size_t)n->g.C * M;
        if (!(n->spec = malloc(cnt * sizeof *n->spec))) return eddy_fail(e, "out of memory");
        for (size_t i = 0; i < cnt; i++) {
            char *end;
            n->spec[i] = strtod(sp, &end);
            if (end == sp || !(n->spec[i] >= 0)) return eddy_fail(e, "model header pdd.spectrum: bad entry %zu", i);
            sp = *end == ',' ? end + 1 : end;
        }
        if (*sp) return eddy_fail(e, "model header pdd.spectrum: more than %zu entries", cnt);
    }
    return 0;
}

// ---------------------------------------------------------------- data

void pdd_net_fit_standardisation(pdd_net *n, const double *u, long P)
{
    int C = n->g.C, T = n->g.T;
    long S = pdd_geom_points(&n->g);
    for (int c = 0; c < C; c++) {
        double s1 = 0, s2 = 0, r1 = 0, r2 = 0, cnt = 0, rc = 0;
        for (long p = 0; p < P; p++)
            for (int t = 0; t < T; t++) {
                const double *x = u + ((p * T + t) * C + c) * S;
                for (long i = 0; i < S; i++) s1 += x[i], s2 += x[i] * x[i];
                cnt += S;
                if (t + 1 < T) {
                    const double *y = x + (long)C * S;
                    for (long i = 0; i < S; i++) {
                        double d = y[i] - x[i];
                        r1 += d, r2 += d * d;
                    }
                    rc += S;
                }
            }
        double m = s1 / cnt, var = s2 / cnt - m * m;
        n->mean[c] = m;
        n->std[c] = var > 0 ? sqrt(var) : 1;
        double rm = r1 / rc, rv = r2 / rc - rm * rm;
        n->rstd[c] = rv > 0 ? sqrt(rv) / n->std[c] : 1;
    }
}

int pdd_net_fit_spectrum(pdd_net *n, const double *u, long P, eddy_err *e)
{
    if (!n->op) return eddy_fail(e, "spectrum: the model has no RG operator");
    int C = n->g.C;
    long S = pdd_geom_points(&n->g), nf = P * n->g.T;
    size_t M = rg_nmodes(n->op);
    free(n->spec);
    n->spec = calloc((size_t)C * M, sizeof *n->spec);
    double *in = fftw_malloc(S * sizeof *in);
    fftw_complex *out = fftw_malloc(M * sizeof *out);
    if (!n->spec || !in || !out) {
        fftw_free(in); fftw_free(out);
        return eddy_fail(e, "spectrum: out of memory");
    }
    // The half-spectrum layout of lib/rg (FFTW's r2c): N/2+1 or Ny·(Nx/2+1).
    fft_plan_lock();
    fftw_plan pl = n->g.dims == 1 ? fftw_plan_dft_r2c_1d(n->g.n[0], in, out, fft_flags())
                                  : fftw_plan_dft_r2c_2d(n->g.n[0], n->g.n[1], in, out, fft_flags());
    fft_plan_unlock();
    for (long f = 0; f < nf; f++)
        for (int c = 0; c < C; c++) {
            memcpy(in, u + (f * C + c) * S, S * sizeof *in);
            fftw_execute(pl);
            for (size_t m = 0; m < M; m++)
                n->spec[c * M + m] += (out[m][0] * out[m][0] + out[m][1] * out[m][1]) / S;
        }
    for (size_t i = 0; i < (size_t)C * M; i++) n->spec[i] /= (double)nf;
    fft_plan_lock();
    fftw_destroy_plan(pl);
    fft_plan_unlock();
    fftw_free(in); fftw_free(out);
    return 0;
}

// Applies the per-channel map x -> (x - mean)/std, or its inverse, to every
// frame of u (nframes, C, S).
static void channel_map(const pdd_net *n, double *u, long nframes, int inverse)
{
    long S = pdd_geom_points(&n->g);
    for (long f = 0; f < nframes; f++)
        for (int c = 0; c < n->g.C; c++) {
            double *x = u + (f * n->g.C + c) * S;
            for (long i = 0; i < S; i++)
                x[i] = inverse ? x[i] * n->std[c] + n->mean[c] : (x[i] - n->mean[c]) / n->std[c];
        }
}

void pdd_net_standardise(const pdd_net *n, double *u, long nframes) { channel_map(n, u, nframes, 0); }

void pdd_net_unstandardise(const pdd_net *n, double *u, long nframes) { channel_map(n, u, nframes, 1); }

// ---------------------------------------------------------------- load, save

int pdd_net_load(const char *path, pdd_net *n, tsr_record *hdr, adam *opt, eddy_err *e)
{
    memset(n, 0, sizeof *n);
    // The network is the checkpoint's first record (formats/checkpoint.md);
    // pdd_net_from_header checks that pdd.arch agrees.
    char net[64];
    if (model_network(path, net, sizeof net, e)) return -1;
    if (!strcmp(net, "unet")) {
        n->arch = PDD_ARCH_UNET;
        if (model_load_unet(path, PDD_KIND, "pd-train model", &n->u, opt, hdr, e)) return -1;
    } else if (model_load(path, PDD_KIND, "pd-train model", &n->m, opt, hdr, e)) {
        return -1;
    }
    if (pdd_net_from_header(n, hdr, e)) {
        eddy_wrap(e, "%s", path);
        if (opt) adam_free(opt);
        pdd_net_free(n);
        tsr_record_free(hdr);
        return -1;
    }
    return 0;
}

int pdd_net_save(void *ctx, const char *path, const adam *opt, eddy_err *e)
{
    const pdd_net_ref *r = ctx;
    switch (r->n->arch) {
    case PDD_ARCH_FNO: {
        model_ref mr = {&r->n->m, r->hdr};
        return model_save(&mr, path, opt, e);
    }
    case PDD_ARCH_UNET: {
        model_unet_ref mr = {&r->n->u, r->hdr};
        return model_save_unet(&mr, path, opt, e);
    }
    }
    return eddy_fail(e, "%s: unknown network architecture %d", path, (int)r->n->arch);
}

train_model pdd_net_train_model(pdd_net *n, pdd_train_ctx *ob, pdd_net_ref *ref)
{
    // The parameter buffer of the network; the objective runs it through
    // the forward/backward of its architecture.
    if (n->arch == PDD_ARCH_UNET)
        return (train_model){n->u.params, n->u.grads, n->u.nparams, pdd_objective_grad, ob,
                             pdd_net_save, ref};
    return (train_model){n->m.params, n->m.grads, n->m.nparams, pdd_objective_grad, ob,
                         pdd_net_save, ref};
}

// ---------------------------------------------------------------- network calls

static int ensure(pdd_net *n, long nb, eddy_err *e)
{
    size_t S = (size_t)pdd_geom_points(&n->g), ci = (size_t)in_channels(n), co = (size_t)n->g.C;
    float **buf[] = {&n->fin, &n->fdin, &n->fout, &n->fdout, &n->fcond};
    size_t need[] = {nb * S * ci, nb * S * ci, nb * S * co, nb * S * co, (size_t)nb};
    for (int k = 0; k < 5; k++)
        if (scratch_grow(buf[k], &n->cap[k], need[k], sizeof(float)))
            return eddy_fail(e, "out of memory for a batch of %ld windows", nb);
    return 0;
}

// (nb, Ch, S) double ↔ (nb, S, Ch) float, the channels-last layout of both networks.
static void to_fno(const double *x, float *y, long nb, int ch, long S)
{
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < nb; b++)
        for (int c = 0; c < ch; c++)
            for (long i = 0; i < S; i++) y[(b * S + i) * ch + c] = (float)x[(b * ch + c) * S + i];
}

static void from_fno(const float *y, double *x, long nb, int ch, long S)
{
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < nb; b++)
        for (int c = 0; c < ch; c++)
            for (long i = 0; i < S; i++) x[(b * ch + c) * S + i] = y[(b * S + i) * ch + c];
}

// The network's forward on nb inputs already in n->fin, conditions in
// n->fcond, into n->fout.
static int run_forward(pdd_net *n, int nb, eddy_err *e)
{
    int H, W;
    grid_hw(&n->g, &H, &W);
    if (n->arch == PDD_ARCH_UNET) return unet_forward(&n->u, nb, H, W, n->fin, n->fcond, n->fout, e);
    const float *in[1] = {n->fin};
    return fno_forward(&n->m, in, n->fcond, nb, H, W, n->fout, e);
}

// Backward through the last run_forward from n->fdout: the parameter
// gradient added to the network's buffer, or the input gradient into n->fdin.
static int run_backward(pdd_net *n, int input, eddy_err *e)
{
    if (n->arch == PDD_ARCH_UNET)
        return unet_backward(&n->u, n->fdout, input ? n->fdin : NULL,
                             input ? UNET_GRAD_INPUT : UNET_GRAD_PARAMS, e);
    float *din[1] = {n->fdin};
    return fno_backward(&n->m, n->fdout, input ? din : NULL, input ? FNO_GRAD_INPUT : FNO_GRAD_PARAMS, e);
}

static int pred_forward(void *ctx, int nb, const double *win, double lam, double *out, eddy_err *e)
{
    pdd_net *n = ctx;
    long S = pdd_geom_points(&n->g);
    if (ensure(n, nb, e)) return -1;
    to_fno(win, n->fin, nb, in_channels(n), S);
    for (int i = 0; i < nb; i++) n->fcond[i] = (float)(1000 * lam);
    if (run_forward(n, nb, e)) return -1;
    from_fno(n->fout, out, nb, n->g.C, S);
    return 0;
}

static int pred_input_grad(void *ctx, int nb, const double *gout, double *gwin, eddy_err *e)
{
    pdd_net *n = ctx;
    long S = pdd_geom_points(&n->g);
    to_fno(gout, n->fdout, nb, n->g.C, S);
    if (run_backward(n, 1, e)) return -1;
    from_fno(n->fdin, gwin, nb, in_channels(n), S);
    return 0;
}

pdd_predictor pdd_net_predictor(pdd_net *n)
{
    pdd_predictor p = {n, pred_forward, pred_input_grad, n->max_batch};
    return p;
}

static double vp_sigma(const pdd_net *n, double lam)
{
    if (lam < n->proc.dlam) lam = n->proc.dlam;
    return sqrt(-expm1(-2 * n->proc.gamma * lam));
}

int pdd_net_score(void *ctx, int B, const double *u, double lam, double *s, eddy_err *e)
{
    pdd_score_ctx *sc = ctx;
    pdd_net *n = sc->n;
    if (n->obj == PDD_OBJ_PDD) {
        pdd_predictor pr = pdd_net_predictor(n);
        double v = pdd_point_var(n->op, &n->proc, lam);
        size_t M = rg_nmodes(n->op);
        const double *k2 = rg_ksq(n->op);
        double lf = lam > n->proc.dlam ? lam : n->proc.dlam;
        int rc;
        if (sc->coloured) {
            // W = 1/Σ_λ(k) (λ floored like v); the frozen mean mode keeps 1/v.
            double *w = malloc(M * sizeof *w);
            if (!w) return eddy_fail(e, "out of memory");
            for (size_t m = 0; m < M; m++) w[m] = k2[m] > 0 ? 1 / pdd_proc_sigma(&n->proc, k2[m], lf) : 1 / v;
            rc = pdd_path_score_w(&sc->g, &pr, B, u, lam, v, n->op, w, s, NULL, e);
            free(w);
        } else {
            rc = pdd_path_score(&sc->g, &pr, B, u, lam, v, s, NULL, e);
        }
        if (rc || !(sc->gauss_below > 0) || !n->spec) return rc;
        // Where the signal is buried, the law of a frame is the noise's: the
        // score there is -u/(C²P + Σ), independent of the dynamics the path
        // score sees — which leaves slowly varying patterns unconstrained.
        int C = sc->g.C, T = sc->g.T;
        long S = pdd_geom_points(&sc->g);
        double *keep = malloc(2 * (size_t)C * M * sizeof *keep), *g = keep + (size_t)C * M;
        double *tmp = malloc(S * sizeof *tmp);
        if (!keep || !tmp) { free(keep); free(tmp); return eddy_fail(e, "out of memory"); }
        for (int c = 0; c < C; c++)
            for (size_t m = 0; m < M; m++) {
                double cl = pdd_proc_c(&n->proc, k2[m], lam), sg = pdd_proc_sigma(&n->proc, k2[m], lf);
                double sig = cl * cl * n->spec[c * M + m];
                int gauss = k2[m] > 0 && sig < sc->gauss_below * sg;
                keep[c * M + m] = gauss ? 0 : 1;
                g[c * M + m] = gauss ? -1 / (sig + sg) : 0;
            }
        for (long f = 0; f < (long)B * T * C && !rc; f++) {
            int c = (int)(f % C);
            memcpy(tmp, u + f * S, S * sizeof *tmp);
            if (rg_multiply(n->op, keep + c * M, s + f * S, 1, e) ||
                rg_multiply(n->op, g + c * M, tmp, 1, e)) rc = -1;
            for (long i = 0; i < S && !rc; i++) s[f * S + i] += tmp[i];
        }
        free(keep); free(tmp);
        return rc;
    }
    if (n->obj != PDD_OBJ_DDPM_GEN) return eddy_fail(e, "a ddpm-cond model has no path score");
    // ε̂ of every frame from its window of noisy frames: s = -ε̂/σ_λ.
    long S = pdd_geom_points(&sc->g), frame = (long)sc->g.C * S, cw = frame * sc->g.W;
    long nw = (long)B * sc->g.T, chunk = n->max_batch;
    double *win = malloc(nw * cw * sizeof *win);
    if (!win) return eddy_fail(e, "out of memory");
    pdd_windows(&sc->g, B, sc->g.T, u, win);
    double inv = -1 / vp_sigma(n, lam);
    for (long j0 = 0; j0 < nw; j0 += chunk) {
        int m = (int)(nw - j0 < chunk ? nw - j0 : chunk);
        if (pred_forward(n, m, win + j0 * cw, lam, s + j0 * frame, e)) {
            free(win);
            return -1;
        }
    }
    for (long i = 0; i < nw * frame; i++) s[i] *= inv;
    free(win);
    return 0;
}

// ---------------------------------------------------------------- training

int pdd_objective_grad(void *ctx, const train_batch *tb, double *loss, eddy_err *e)
{
    pdd_train_ctx *ob = ctx;
    pdd_net *n = ob->n;
    const pdd_geom *g = &n->g;
    int B = tb->nb, b0 = tb->b0;
    uint64_t seed = tb->seed;
    long step = tb->step;
    int T = g->T, C = g->C, W = g->W, ci = in_channels(n);
    long S = pdd_geom_points(g), frame = (long)C * S, cw = frame * W;
    long npath = (long)T * frame;
    // Windows per path: frames 0..T-2 (their increments) or every frame (ddpm-gen).
    int nwp = n->obj == PDD_OBJ_DDPM_GEN ? T : T - 1;
    long nw = (long)B * nwp;
    double *u = malloc((size_t)B * npath * sizeof *u);
    double *eps = malloc((size_t)B * npath * sizeof *eps);
    double *win = malloc((size_t)nw * cw * sizeof *win);
    double *lam = malloc((size_t)nw * sizeof *lam), *v = malloc((size_t)nw * sizeof *v);
    double *target = malloc((size_t)nw * frame * sizeof *target);
    int rc = -1;
    if (!u || !eps || !win || !lam || !v || !target) {
        eddy_fail(e, "out of memory for a batch of %d paths", B);
        goto out;
    }
    for (int b = 0; b < B; b++)
        memcpy(u + b * npath, ob->u + tb->idx[b0 + b] * npath, npath * sizeof *u);
    // λ per path (pdd, ddpm-gen) or per window (ddpm-cond), uniform on (0, λmax);
    // keyed by the path's (window's) position in the whole batch.
    long jw0 = (long)b0 * nwp;
    for (long j = 0; j < nw; j++) {
        int per_window = n->obj == PDD_OBJ_DDPM_COND;
        eddy_rng r;
        rng_init(&r, seed, (uint64_t)step, (uint64_t)(per_window ? jw0 + j : b0 + j / nwp), PURPOSE_LAMBDA);
        lam[j] = rng_uniform(&r) * n->lam_max;
    }
    if (n->obj == PDD_OBJ_PDD) {
        for (int b = 0; b < B; b++) {
            double lb = lam[(long)b * nwp];
            rg_params rp = pdd_rg_params(&n->proc, lb, n->proc.dlam);
            rg_noise key = {seed, (uint64_t)step, (uint64_t)(b0 + b) * T, RG_PURPOSE};
            if (rg_apply(n->op, &rp, u + b * npath, T, C, &key, e)) goto out;
            for (int k = 0; k < nwp; k++) v[(long)b * nwp + k] = pdd_point_var(n->op, &n->proc, lb);
        }
        pdd_windows(g, B, nwp, u, win);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < nwp; k++) {
                const double *x = u + b * npath + (long)k * frame;
                double *t = target + ((long)b * nwp + k) * frame;
                for (long i = 0; i < frame; i++) t[i] = x[frame + i] - x[i];
            }
    } else if (n->obj == PDD_OBJ_DDPM_GEN) {
        for (int b = 0; b < B; b++) {
            eddy_rng r;
            rng_init(&r, seed, (uint64_t)step, (uint64_t)(b0 + b), PURPOSE_EPS);
            rng_normal_fill(&r, eps + b * npath, npath);
            double lb = lam[(long)b * nwp], c = exp(-n->proc.gamma * lb), sg = vp_sigma(n, lb);
            for (long i = 0; i < npath; i++) u[b * npath + i] = c * u[b * npath + i] + sg * eps[b * npath + i];
        }
        pdd_windows(g, B, nwp, u, win);
        memcpy(target, eps, (size_t)nw * frame * sizeof *target);
    } else {
        // Clean windows, and the noisy standardised residual as C more channels.
        double *cwin = malloc((size_t)nw * cw * sizeof *cwin);
        if (!cwin) { eddy_fail(e, "out of memory"); goto out; }
        pdd_windows(g, B, nwp, u, cwin);
        free(win);
        win = malloc((size_t)nw * (cw + frame) * sizeof *win);
        if (!win) { free(cwin); eddy_fail(e, "out of memory"); goto out; }
        for (long j = 0; j < nw; j++) {
            int b = (int)(j / nwp), k = (int)(j % nwp);
            const double *x = u + b * npath + (long)k * frame;
            double *w = win + j * (cw + frame), *t = target + j * frame;
            memcpy(w, cwin + j * cw, cw * sizeof *w);
            eddy_rng r;
            rng_init(&r, seed, (uint64_t)step, (uint64_t)(jw0 + j), PURPOSE_EPS);
            double c = exp(-n->proc.gamma * lam[j]), sg = vp_sigma(n, lam[j]);
            for (int ch = 0; ch < C; ch++)
                for (long i = 0; i < S; i++) {
                    long q = (long)ch * S + i;
                    double res = (x[frame + q] - x[q]) / n->rstd[ch], z = rng_normal(&r);
                    t[q] = z;
                    w[cw + q] = c * res + sg * z;
                }
        }
        free(cwin);
        cw += frame;
    }
    // Normalised by the whole batch: the shares of several processes sum to it.
    double count = (double)tb->B * nwp * frame, total = 0;
    long chunk = n->max_batch;
    double *f = malloc((size_t)(chunk < nw ? chunk : nw) * frame * sizeof *f);
    double *gf = malloc((size_t)(chunk < nw ? chunk : nw) * frame * sizeof *gf);
    if (!f || !gf || ensure(n, chunk < nw ? chunk : nw, e)) {
        if (!f || !gf) eddy_fail(e, "out of memory");
        free(f), free(gf);
        goto out;
    }
    for (long j0 = 0; j0 < nw; j0 += chunk) {
        int m = (int)(nw - j0 < chunk ? nw - j0 : chunk);
        to_fno(win + j0 * cw, n->fin, m, ci, S);
        for (int q = 0; q < m; q++) n->fcond[q] = (float)(1000 * lam[j0 + q]);
        if (run_forward(n, m, e)) break;
        from_fno(n->fout, f, m, C, S);
        total += pdd_window_loss(m, frame, target + j0 * frame, f,
                                 n->obj == PDD_OBJ_PDD ? v + j0 : NULL, count, gf);
        to_fno(gf, n->fdout, m, C, S);
        if (run_backward(n, 0, e)) break;
        if (j0 + m == nw) rc = 0;
    }
    free(f), free(gf);
    if (rc) goto out;
    *loss = total;
    if (!isfinite(*loss)) {
        rc = eddy_fail(e, "loss is not finite (%g)", *loss);
        goto out;
    }
out:
    free(u); free(eps); free(win); free(lam); free(v); free(target);
    return rc;
}

// ---------------------------------------------------------------- DDPM simulation

typedef struct {
    pdd_net *n;
    const double *cwin;         // (B, C*W, S) clean windows of the current step
    double *buf;                // (B, C*W + C, S)
} cond_ctx;

// The score of the residuals x, held as frame 0 of 2-frame sampler paths
// (B, 2, C, S); frame 1 is scratch, given the score -x of unit-variance
// white data (stationary under the VP process) so that it stays bounded
// and never trips the sampler's divergence checks.
static int cond_score(void *ctx, int B, const double *x, double lam, double *s, eddy_err *e)
{
    cond_ctx *cc = ctx;
    pdd_net *n = cc->n;
    long S = pdd_geom_points(&n->g), frame = (long)n->g.C * S, cw = frame * n->g.W;
    for (int b = 0; b < B; b++) {
        memcpy(cc->buf + b * (cw + frame), cc->cwin + b * cw, cw * sizeof(double));
        memcpy(cc->buf + b * (cw + frame) + cw, x + 2 * b * frame, frame * sizeof(double));
    }
    double *eh = cc->buf + (long)B * (cw + frame);      // (B, C, S) ε̂
    for (int b0 = 0; b0 < B; b0 += n->max_batch) {
        int m = B - b0 < n->max_batch ? B - b0 : n->max_batch;
        if (pred_forward(n, m, cc->buf + (long)b0 * (cw + frame), lam, eh + (long)b0 * frame, e))
            return -1;
    }
    double inv = -1 / vp_sigma(n, lam);
    for (int b = 0; b < B; b++)
        for (long i = 0; i < frame; i++) {
            s[2 * b * frame + i] = inv * eh[b * frame + i];
            s[(2 * b + 1) * frame + i] = -x[(2 * b + 1) * frame + i];
        }
    return 0;
}

int pdd_net_ddpm_simulate(pdd_net *n, const pdd_geom *g, const pdd_pc_opts *o,
                          const double *lams, int nlam, int B, double *u, int n0, long *nfe,
                          eddy_err *e)
{
    return pdd_net_ddpm_simulate_at(n, g, o, lams, nlam, B, u, n0, 0, nfe, e);
}

int pdd_net_ddpm_simulate_at(pdd_net *n, const pdd_geom *g, const pdd_pc_opts *o,
                             const double *lams, int nlam, int B, double *u, int n0, long frame0,
                             long *nfe, eddy_err *e)
{
    if (n->obj != PDD_OBJ_DDPM_COND) return eddy_fail(e, "not a ddpm-cond model");
    if (n0 < 1 || n0 > g->T) return eddy_fail(e, "simulate: %d given frames for a path of %d", n0, g->T);
    long S = pdd_geom_points(g), frame = (long)g->C * S, cw = frame * g->W;
    int T = g->T;
    pdd_geom g2 = *g;
    g2.T = 2;      // pdd_geom_check wants 2 frames; the sampler only needs 1
    pdd_sampler *smp = pdd_sampler_new(&g2, &n->proc, B, e);
    double *x = malloc((size_t)B * 2 * frame * sizeof *x);
    double *cwin = malloc((size_t)B * cw * sizeof *cwin);
    cond_ctx cc = {n, cwin, malloc((size_t)B * (cw + 2 * frame) * sizeof(double))};
    int rc = -1;
    if (!smp || !x || !cwin || !cc.buf) {
        if (smp) eddy_fail(e, "out of memory");
        goto out;
    }
    pdd_pc_opts oo = *o;
    oo.extrapolate = 0;
    for (int t = n0 - 1; t < T - 1; t++) {
        // The clean window of frame t of each path.
        for (int b = 0; b < B; b++) {
            double *tmp = malloc((size_t)(t + 1) * cw * sizeof *tmp);
            if (!tmp) { eddy_fail(e, "out of memory"); goto out; }
            pdd_windows(g, 1, t + 1, u + (long)b * T * frame, tmp);
            memcpy(cwin + (long)b * cw, tmp + (long)t * cw, cw * sizeof *tmp);
            free(tmp);
        }
        // One noise stream per (path, time step): the seed carries the step.
        oo.seed = o->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(frame0 + t + 1);
        if (pdd_prior_sample(smp, B, lams[0], oo.seed, oo.sample0, x, e)) goto out;
        if (pdd_reverse(smp, &oo, lams, nlam, cond_score, &cc, B, x, nfe, e)) {
            eddy_wrap(e, "simulating frame %ld", frame0 + t + 1);
            goto out;
        }
        for (int b = 0; b < B; b++) {
            const double *un = u + ((long)b * T + t) * frame;
            double *up = u + ((long)b * T + t + 1) * frame;
            const double *xb = x + (long)b * 2 * frame;
            for (int c = 0; c < g->C; c++)
                for (long i = 0; i < S; i++) up[c * S + i] = un[c * S + i] + n->rstd[c] * xb[c * S + i];
        }
    }
    rc = 0;
out:
    pdd_sampler_free(smp);
    free(x); free(cwin); free(cc.buf);
    return rc;
}

// ---------------------------------------------------------------- paths

int pdd_paths_read(pdd_paths *d, tsr_reader *r, const char *label, eddy_err *e)
{
    tsr_record rec;
    tsr_record_init(&rec);
    int rc, got;
    while ((got = tsr_read(r, &rec, e)) == 1) {
        layout l;
        long idx = tsr_reader_index(r) - 1;
        if (!tsr_dtype_is_float(rec.dtype) || rec.dtype == TSR_C8 || rec.dtype == TSR_C16) continue;
        if (layout_of(&rec, NULL, &l, e)) { rc = eddy_wrap(e, "%s: record %ld", label, idx); goto out; }
        if (l.t_axis < 0) continue;
        if (field_check(&rec, e)) { rc = eddy_wrap(e, "%s: record %ld", label, idx); goto out; }
        int dims = l.nspace, ny = dims == 2 ? l.ny : l.nx, nx = dims == 2 ? l.nx : 0;
        if (d->P == 0) {
            d->T = (int)l.T, d->C = (int)l.C, d->dims = dims, d->n[0] = ny, d->n[1] = nx;
            d->L = l.L;
            // The time between frames: `interval` (the generators' name; their
            // dt is the solver step), else dt.
            d->dt = 1;
            if (tsr_attr_double(&rec, "interval", &d->dt, NULL) != 0) tsr_attr_double(&rec, "dt", &d->dt, NULL);
            tsr_record_free(&d->meta);
            tsr_attrs_copy(&d->meta, &rec);
        } else if ((int)l.T != d->T || (int)l.C != d->C || dims != d->dims || ny != d->n[0] ||
                   nx != d->n[1]) {
            rc = eddy_fail(e, "%s record %ld '%s' has %zu frames, %zu channels on a %dx%d grid; "
                           "%s has %d, %d on %dx%d", label, idx, rec.name, l.T, l.C, ny,
                           dims == 2 ? nx : 1, d->first.where, d->T, d->C, d->n[0],
                           d->dims == 2 ? d->n[1] : 1);
            goto out;
        }
        static const char *const keys[] = {"field", "term", "units", "channels", "L", "interval", "dt", NULL};
        if (train_first_keep(&d->first, &rec, label, idx, e) ||
            train_same_kind(&d->first, &rec, label, idx, keys, e)) { rc = -1; goto out; }
        long S = (long)l.D, per = (long)d->T * d->C * S;
        double *nu = realloc(d->u, (size_t)(d->P + (long)l.npaths) * per * sizeof *nu);
        double *tmp = malloc((size_t)d->T * S * sizeof *tmp);
        if (!nu || !tmp) { free(tmp); if (nu) d->u = nu; rc = eddy_fail(e, "%s: out of memory", label); goto out; }
        d->u = nu;
        for (size_t p = 0; p < l.npaths; p++)
            for (int c = 0; c < d->C; c++) {
                layout_gather(&l, &rec, p, (size_t)c, tmp);
                for (int t = 0; t < d->T; t++)
                    memcpy(d->u + (d->P + (long)p) * per + ((long)t * d->C + c) * S, tmp + (long)t * S,
                           S * sizeof *tmp);
            }
        free(tmp);
        d->P += (long)l.npaths;
    }
    rc = got < 0 ? eddy_wrap(e, "%s", label) : 0;
out:
    tsr_record_free(&rec);
    return rc;
}

void pdd_paths_free(pdd_paths *d)
{
    free(d->u);
    tsr_record_free(&d->meta);
    train_first_free(&d->first);
    memset(d, 0, sizeof *d);
}

pdd_geom pdd_paths_geom(const pdd_paths *d, int W)
{
    pdd_geom g = {.T = d->T, .C = d->C, .dims = d->dims, .n = {d->n[0], d->n[1]}, .L = d->L, .W = W};
    return g;
}

int pdd_net_check_paths(const pdd_net *n, const pdd_paths *d, eddy_err *e)
{
    if (d->dims != n->g.dims)
        return eddy_fail(e, "the paths are %d-D, the model is %d-D (a model of the other system?)", d->dims, n->g.dims);
    if (d->C != n->g.C)
        return eddy_fail(e, "the paths have %d channels, the model %d", d->C, n->g.C);
    if (d->n[0] != n->g.n[0] || (d->dims == 2 && d->n[1] != n->g.n[1]))
        return eddy_fail(e, "the paths are on a %dx%d grid, the model on %dx%d", d->n[0],
                         d->dims == 2 ? d->n[1] : 1, n->g.n[0], n->g.dims == 2 ? n->g.n[1] : 1);
    if (fabs(d->L - n->g.L) > 1e-9 * n->g.L)
        return eddy_fail(e, "the paths' domain length %g differs from the model's %g", d->L, n->g.L);
    return 0;
}
