#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_VERSION 1

static const char *act_name(int a) { return a == FNO_SILU ? "silu" : "gelu"; }
static const char *emb_name(int a)
{
    return a == FNO_EMB_GAUSSIAN ? "gaussian" : a == FNO_EMB_SINUSOIDAL ? "sinusoidal" : "none";
}
static const char *cond_name(int a) { return a == FNO_COND_FILM ? "film" : a == FNO_COND_BIAS ? "bias" : "none"; }

static int set_list(tsr_record *r, const char *key, const int *v, int n)
{
    char s[256] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof s - 16; i++)
        len += (size_t)snprintf(s + len, sizeof s - len, i ? ",%d" : "%d", v[i]);
    return tsr_attr_set(r, key, s);
}

int ckpt_adam_attrs(tsr_record *r, const adam *opt)
{
    const adam_cfg *a = &opt->cfg;
    int ok = 0;
    ok |= tsr_attr_setf(r, "adam.t", "%ld", opt->t);
    ok |= tsr_attr_set_double(r, "adam.lr", a->lr);
    ok |= tsr_attr_set_double(r, "adam.beta1", a->beta1);
    ok |= tsr_attr_set_double(r, "adam.beta2", a->beta2);
    ok |= tsr_attr_set_double(r, "adam.eps", a->eps);
    ok |= tsr_attr_set_double(r, "adam.weight_decay", a->weight_decay);
    ok |= tsr_attr_setf(r, "adam.decoupled", "%d", a->decoupled);
    ok |= tsr_attr_setf(r, "adam.decay_every", "%ld", a->decay_every);
    ok |= tsr_attr_set_double(r, "adam.decay_gamma", a->decay_gamma);
    return ok;
}

static int header_record(tsr_record *r, const fno *m, const adam *opt, const tsr_record *extra,
                         eddy_err *e)
{
    const fno_config *c = &m->cfg;
    uint64_t one = 1;
    if (extra) tsr_attrs_copy(r, extra);
    if (tsr_record_alloc(r, "fno", TSR_I4, 1, &one, e)) return -1;
    ((int32_t *)r->data)[0] = CKPT_VERSION;
    int ok = 0;
    ok |= tsr_attr_setf(r, "fno.version", "%d", CKPT_VERSION);
    ok |= tsr_attr_setf(r, "fno.dims", "%d", c->dims);
    ok |= tsr_attr_setf(r, "fno.length", "%.17g,%.17g", c->length[0], c->length[1]);
    ok |= tsr_attr_set(r, "fno.act", act_name(c->act));
    ok |= tsr_attr_setf(r, "fno.nbranch", "%d", c->nbranch);
    ok |= tsr_attr_setf(r, "fno.nparams", "%zu", m->nparams);
    ok |= tsr_attr_set(r, "fno.layout", "B,H,W,C");
    for (int k = 0; k < c->nbranch; k++) {
        const fno_branch_cfg *b = &c->branch[k];
        char key[64];
#define BK(name) (snprintf(key, sizeof key, "fno.b%d." name, k), key)
        ok |= tsr_attr_setf(r, BK("in"), "%d", b->in);
        ok |= tsr_attr_setf(r, BK("width"), "%d", b->width);
        ok |= tsr_attr_setf(r, BK("layers"), "%d", b->layers);
        ok |= set_list(r, BK("modes"), b->modes, c->dims);
        ok |= set_list(r, BK("lift"), b->lift, b->nlift);
        ok |= set_list(r, BK("proj"), b->proj, b->nproj);
        ok |= tsr_attr_setf(r, BK("out"), "%d", b->out);
        ok |= tsr_attr_setf(r, BK("grid"), "%d", b->grid);
        ok |= tsr_attr_set(r, BK("cond"), cond_name(b->cond));
#undef BK
    }
    if (c->nbranch > 1) {
        ok |= set_list(r, "fno.fuse", c->fuse, c->nfuse);
        ok |= tsr_attr_setf(r, "fno.out", "%d", c->out);
    }
    ok |= tsr_attr_set(r, "fno.emb", emb_name(c->emb));
    if (c->emb != FNO_EMB_NONE) {
        ok |= tsr_attr_setf(r, "fno.emb_size", "%d", c->emb_size);
        ok |= tsr_attr_set_double(r, "fno.emb_scale", c->emb_scale);
        ok |= tsr_attr_setf(r, "fno.emb_hidden", "%d", c->emb_hidden);
        ok |= tsr_attr_set(r, "fno.emb_act", act_name(c->emb_act));
    }
    if (opt) ok |= ckpt_adam_attrs(r, opt);
    if (ok) return eddy_fail(e, "checkpoint: out of memory for attributes");
    return 0;
}

static int write_floats(tsr_writer *w, const char *name, tsr_dtype dt, int rank, const int *shape,
                        const float *data, size_t count, eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    uint64_t sh[TSR_MAX_RANK];
    for (int i = 0; i < rank; i++) sh[i] = (uint64_t)shape[i];
    int rc = tsr_record_alloc(&r, name, dt, rank, sh, e);
    if (!rc) {
        memcpy(r.data, data, count * sizeof(float));
        rc = tsr_write(w, &r, e);
    }
    tsr_record_free(&r);
    return rc;
}

int ckpt_write(tsr_writer *w, const fno *m, const adam *opt, const tsr_record *extra, eddy_err *e)
{
    tsr_record h;
    tsr_record_init(&h);
    int rc = header_record(&h, m, opt, extra, e);
    if (!rc) rc = tsr_write(w, &h, e);
    tsr_record_free(&h);
    if (rc) return -1;
    for (int i = 0; i < m->ntensors; i++) {
        const fno_tensor *t = &m->tensors[i];
        if (write_floats(w, t->name, t->is_complex ? TSR_C8 : TSR_F4, t->rank, t->shape, t->data,
                         t->count, e))
            return -1;
    }
    return opt ? ckpt_adam_write(w, opt, m->nparams, e) : 0;
}

int ckpt_adam_write(tsr_writer *w, const adam *opt, size_t nparams, eddy_err *e)
{
    int n[1] = {(int)nparams};
    if (opt->n != nparams) return eddy_fail(e, "checkpoint: optimizer size %zu ≠ %zu parameters", opt->n, nparams);
    if (write_floats(w, "adam.m", TSR_F4, 1, n, opt->m, opt->n, e) ||
        write_floats(w, "adam.v", TSR_F4, 1, n, opt->v, opt->n, e))
        return -1;
    return 0;
}

int ckpt_save(const char *path, const fno *m, const adam *opt, const tsr_record *extra, eddy_err *e)
{
    tsr_writer *w = tsr_writer_open_path(path, NULL, e);
    if (!w) return -1;
    if (ckpt_write(w, m, opt, extra, e)) {
        tsr_writer_abort(w);
        return eddy_wrap(e, "%s", path);
    }
    if (tsr_writer_finish(w, e)) return eddy_wrap(e, "%s", path);
    return 0;
}

// ---------------------------------------------------------------- reading

static int get_int(const tsr_record *r, const char *key, int *out, int need, eddy_err *e)
{
    long v;
    int rc = tsr_attr_long(r, key, &v, e);
    if (rc < 0) return -1;
    if (rc == 1) {
        if (need) return eddy_fail(e, "checkpoint: attribute %s missing", key);
        return 0;
    }
    *out = (int)v;
    return 0;
}

static int get_list(const tsr_record *r, const char *key, int *v, int *n, int max, eddy_err *e)
{
    const char *s = tsr_attr_get(r, key);
    *n = 0;
    if (!s) return eddy_fail(e, "checkpoint: attribute %s missing", key);
    while (*s) {
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < 0 || x > 1 << 24 || *n >= max)
            return eddy_fail(e, "checkpoint: attribute %s: bad list '%s'", key, tsr_attr_get(r, key));
        v[(*n)++] = (int)x;
        s = end;
        if (*s == ',') s++;
    }
    return 0;
}

static int get_name(const tsr_record *r, const char *key, const char *const *names, int n,
                    int *out, eddy_err *e)
{
    const char *s = tsr_attr_get(r, key);
    if (!s) return eddy_fail(e, "checkpoint: attribute %s missing", key);
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return eddy_fail(e, "checkpoint: attribute %s: unknown value '%s'", key, s);
}

static int parse_config(const tsr_record *r, fno_config *c, eddy_err *e)
{
    static const char *acts[] = {"gelu", "silu"}, *embs[] = {"none", "sinusoidal", "gaussian"},
                      *conds[] = {"none", "bias", "film"};
    memset(c, 0, sizeof *c);
    int ver = 0;
    if (get_int(r, "fno.version", &ver, 1, e)) return -1;
    if (ver != CKPT_VERSION)
        return eddy_fail(e, "checkpoint: format version %d, this build reads %d", ver, CKPT_VERSION);
    if (get_int(r, "fno.dims", &c->dims, 1, e) || get_name(r, "fno.act", acts, 2, &c->act, e) ||
        get_int(r, "fno.nbranch", &c->nbranch, 1, e))
        return -1;
    const char *L = tsr_attr_get(r, "fno.length");
    if (!L || sscanf(L, "%lf,%lf", &c->length[0], &c->length[1]) != 2)
        return eddy_fail(e, "checkpoint: attribute fno.length missing or bad");
    if (c->nbranch < 1 || c->nbranch > FNO_MAX_BRANCH)
        return eddy_fail(e, "checkpoint: %d branches", c->nbranch);
    for (int k = 0; k < c->nbranch; k++) {
        fno_branch_cfg *b = &c->branch[k];
        char key[64];
        int nm;
#define BK(name) (snprintf(key, sizeof key, "fno.b%d." name, k), key)
        if (get_int(r, BK("in"), &b->in, 1, e) || get_int(r, BK("width"), &b->width, 1, e) ||
            get_int(r, BK("layers"), &b->layers, 1, e) ||
            get_list(r, BK("modes"), b->modes, &nm, 2, e) ||
            get_list(r, BK("lift"), b->lift, &b->nlift, FNO_MAX_MLP, e) ||
            get_list(r, BK("proj"), b->proj, &b->nproj, FNO_MAX_MLP, e) ||
            get_int(r, BK("out"), &b->out, 1, e) || get_int(r, BK("grid"), &b->grid, 1, e) ||
            get_name(r, BK("cond"), conds, 3, &b->cond, e))
            return -1;
#undef BK
        if (nm != c->dims) return eddy_fail(e, "checkpoint: branch %d has %d mode counts", k, nm);
    }
    if (c->nbranch > 1 && (get_list(r, "fno.fuse", c->fuse, &c->nfuse, FNO_MAX_MLP, e) ||
                           get_int(r, "fno.out", &c->out, 1, e)))
        return -1;
    if (get_name(r, "fno.emb", embs, 3, &c->emb, e)) return -1;
    if (c->emb != FNO_EMB_NONE) {
        if (get_int(r, "fno.emb_size", &c->emb_size, 1, e) ||
            get_int(r, "fno.emb_hidden", &c->emb_hidden, 1, e) ||
            get_name(r, "fno.emb_act", acts, 2, &c->emb_act, e))
            return -1;
        int rc = tsr_attr_double(r, "fno.emb_scale", &c->emb_scale, e);
        if (rc) return rc < 0 ? -1 : eddy_fail(e, "checkpoint: attribute fno.emb_scale missing");
    }
    return fno_config_check(c, e);
}

int ckpt_adam_parse(const tsr_record *r, adam_cfg *a, long *t, int *has, eddy_err *e)
{
    *has = 0;
    if (!tsr_attr_get(r, "adam.t")) return 0;
    adam_cfg_default(a);
    struct { const char *k; double *v; } ds[] = {
        {"adam.lr", &a->lr}, {"adam.beta1", &a->beta1}, {"adam.beta2", &a->beta2},
        {"adam.eps", &a->eps}, {"adam.weight_decay", &a->weight_decay},
        {"adam.decay_gamma", &a->decay_gamma}};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) {
        int rc = tsr_attr_double(r, ds[i].k, ds[i].v, e);
        if (rc) return rc < 0 ? -1 : eddy_fail(e, "checkpoint: attribute %s missing", ds[i].k);
    }
    long dec = 0, de = 0;
    if (tsr_attr_long(r, "adam.t", t, e) || tsr_attr_long(r, "adam.decoupled", &dec, e) ||
        tsr_attr_long(r, "adam.decay_every", &de, e))
        return eddy_fail(e, "checkpoint: adam attributes incomplete");
    a->decoupled = (int)dec;
    a->decay_every = de;
    *has = 1;
    return 0;
}

int ckpt_read(tsr_reader *rd, fno *m, adam *opt, int *has_opt, tsr_record *extra, eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    fno_config cfg;
    adam_cfg acfg;
    long t = 0;
    int hasadam = 0, rc;
    unsigned char *seen = NULL;
    float *am = NULL, *av = NULL;
    memset(m, 0, sizeof *m);
    if (opt) memset(opt, 0, sizeof *opt);
    if (has_opt) *has_opt = 0;
    rc = tsr_read(rd, &r, e);
    if (rc <= 0) {
        if (rc == 0) eddy_fail(e, "checkpoint: empty stream");
        goto fail;
    }
    if (strcmp(r.name, "fno"))
        { eddy_fail(e, "checkpoint: first record is '%s', not 'fno' (not a model?)", r.name); goto fail; }
    if (parse_config(&r, &cfg, e) || ckpt_adam_parse(&r, &acfg, &t, &hasadam, e)) goto fail;
    if (fno_create(m, &cfg, 0, e)) goto fail;
    if (extra) {
        tsr_record_free(extra);
        if (tsr_record_clone(extra, &r, e)) goto fail;
    }
    seen = calloc(m->ntensors, 1);
    if (!seen) { eddy_fail(e, "checkpoint: out of memory"); goto fail; }
    while ((rc = tsr_read(rd, &r, e)) == 1) {
        if (!strcmp(r.name, "adam.m") || !strcmp(r.name, "adam.v")) {
            if (r.dtype != TSR_F4 || r.rank != 1 || r.shape[0] != m->nparams)
                { eddy_fail(e, "checkpoint: record %s has the wrong shape or dtype", r.name); goto fail; }
            float **dst = r.name[5] == 'm' ? &am : &av;
            free(*dst);
            *dst = malloc(m->nparams * sizeof(float) + 1);
            if (!*dst) { eddy_fail(e, "checkpoint: out of memory"); goto fail; }
            memcpy(*dst, r.data, m->nparams * sizeof(float));
            continue;
        }
        fno_tensor *tt = fno_find(m, r.name);
        if (!tt) { eddy_fail(e, "checkpoint: unexpected record '%s'", r.name); goto fail; }
        int ok = r.dtype == (tt->is_complex ? TSR_C8 : TSR_F4) && r.rank == tt->rank;
        for (int i = 0; ok && i < r.rank; i++) ok = r.shape[i] == (uint64_t)tt->shape[i];
        if (!ok) { eddy_fail(e, "checkpoint: record '%s' has the wrong shape or dtype for this architecture", r.name); goto fail; }
        memcpy(tt->data, r.data, tt->count * sizeof(float));
        seen[tt - m->tensors] = 1;
    }
    if (rc < 0) goto fail;
    for (int i = 0; i < m->ntensors; i++)
        if (!seen[i]) { eddy_fail(e, "checkpoint: tensor '%s' missing", m->tensors[i].name); goto fail; }
    if (opt && hasadam) {
        if (!am || !av) { eddy_fail(e, "checkpoint: adam state records missing"); goto fail; }
        if (adam_init(opt, &acfg, m->nparams, e)) goto fail;
        memcpy(opt->m, am, m->nparams * sizeof(float));
        memcpy(opt->v, av, m->nparams * sizeof(float));
        opt->t = t;
        if (has_opt) *has_opt = 1;
    }
    free(am); free(av); free(seen);
    tsr_record_free(&r);
    return 0;
fail:
    free(am); free(av); free(seen);
    tsr_record_free(&r);
    fno_free(m);
    if (opt) adam_free(opt);
    return -1;
}

int ckpt_load(const char *path, fno *m, adam *opt, int *has_opt, tsr_record *extra, eddy_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return eddy_fail(e, "%s: %s", path, strerror(errno));
    tsr_reader *r = tsr_reader_open(f, path, e);
    int rc = r ? ckpt_read(r, m, opt, has_opt, extra, e) : -1;
    if (r) tsr_reader_close(r);
    fclose(f);
    return rc;
}
