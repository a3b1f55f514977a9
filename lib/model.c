#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

int model_save(void *ctx, const char *path, const adam *opt, eddy_err *e)
{
    const model_ref *r = ctx;
    return ckpt_save(path, r->m, opt, r->hdr, e);
}

int model_load(const char *path, const char *kind, const char *what, fno *m, adam *opt,
               tsr_record *hdr, eddy_err *e)
{
    int has_opt = 0;
    tsr_record_init(hdr);
    if (ckpt_load(path, m, opt, opt ? &has_opt : NULL, hdr, e)) {
        // The reader names the file already when it could not open it.
        size_t k = strlen(path);
        if (strncmp(e->msg, path, k) || e->msg[k] != ':') eddy_wrap(e, "%s", path);
        return -1;
    }
    const char *k = tsr_attr_get(hdr, "kind");
    if (!k || strcmp(k, kind)) {
        eddy_fail(e, "%s: not a %s (kind '%s', expected '%s')", path, what, k ? k : "(none)", kind);
        goto fail;
    }
    if (opt && !has_opt) {
        eddy_fail(e, "%s: no optimizer state to resume from", path);
        goto fail;
    }
    return 0;
fail:
    if (has_opt) adam_free(opt);
    fno_free(m);
    tsr_record_free(hdr);
    return -1;
}

int model_network(const char *path, char *name, size_t len, eddy_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return eddy_fail(e, "%s: %s", path, strerror(errno));
    tsr_reader *r = tsr_reader_open(f, path, e);
    tsr_record rec;
    tsr_record_init(&rec);
    int rc = r ? tsr_read(r, &rec, e) : -1;
    if (rc == 0) eddy_fail(e, "%s: empty stream (not a model)", path);
    else if (rc == 1) snprintf(name, len, "%s", rec.name);
    tsr_record_free(&rec);
    if (r) tsr_reader_close(r);
    fclose(f);
    return rc == 1 ? 0 : -1;
}

int model_save_unet(void *ctx, const char *path, const adam *opt, eddy_err *e)
{
    const model_unet_ref *r = ctx;
    tsr_record extra;
    tsr_record_init(&extra);
    if ((r->hdr && tsr_attrs_copy(&extra, r->hdr)) || (opt && ckpt_adam_attrs(&extra, opt))) {
        tsr_record_free(&extra);
        return eddy_fail(e, "%s: out of memory for attributes", path);
    }
    tsr_writer *w = tsr_writer_open_path(path, NULL, e);
    if (!w) {
        tsr_record_free(&extra);
        return -1;
    }
    int rc = unet_write(w, r->m, &extra, e);
    if (!rc && opt) rc = ckpt_adam_write(w, opt, r->m->nparams, e);
    tsr_record_free(&extra);
    if (rc) {
        tsr_writer_abort(w);
        return eddy_wrap(e, "%s", path);
    }
    if (tsr_writer_finish(w, e)) return eddy_wrap(e, "%s", path);
    return 0;
}

// The records after a U-Net header: its tensors, and adam.m / adam.v.
static int read_unet_body(tsr_reader *rd, unet *m, float **am, float **av, eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    unsigned char *seen = calloc((size_t)m->ntensors, 1);
    int rc = seen ? 0 : eddy_fail(e, "out of memory");
    int got = 0;
    while (!rc && (got = tsr_read(rd, &r, e)) == 1) {
        if (!strcmp(r.name, "adam.m") || !strcmp(r.name, "adam.v")) {
            float **dst = r.name[5] == 'm' ? am : av;
            if (r.dtype != TSR_F4 || r.rank != 1 || r.shape[0] != m->nparams) {
                rc = eddy_fail(e, "record %s has the wrong shape or dtype", r.name);
                break;
            }
            free(*dst);
            if (!(*dst = malloc(m->nparams * sizeof(float) + 1))) { rc = eddy_fail(e, "out of memory"); break; }
            memcpy(*dst, r.data, m->nparams * sizeof(float));
            continue;
        }
        if (unet_read_tensor(m, &r, e)) { rc = -1; break; }
        seen[unet_find(m, r.name) - m->tensors] = 1;
    }
    if (!rc && got < 0) rc = -1;
    for (int i = 0; !rc && i < m->ntensors; i++)
        if (!seen[i]) rc = eddy_fail(e, "unet: tensor '%s' missing", m->tensors[i].name);
    free(seen);
    tsr_record_free(&r);
    return rc;
}

int model_load_unet(const char *path, const char *kind, const char *what, unet *m, adam *opt,
                    tsr_record *hdr, eddy_err *e)
{
    memset(m, 0, sizeof *m);
    if (opt) memset(opt, 0, sizeof *opt);
    tsr_record_init(hdr);
    FILE *f = fopen(path, "rb");
    if (!f) return eddy_fail(e, "%s: %s", path, strerror(errno));
    float *am = NULL, *av = NULL;
    int rc = -1, has = 0, made = 0;
    adam_cfg acfg;
    long t = 0;
    tsr_reader *rd = tsr_reader_open(f, path, e);
    if (!rd) goto out;
    int got = tsr_read(rd, hdr, e);
    if (got == 0) eddy_fail(e, "empty stream (not a model)");
    if (got != 1) goto out;
    const char *k = tsr_attr_get(hdr, "kind");
    if (!k || strcmp(k, kind)) {
        eddy_fail(e, "not a %s (kind '%s', expected '%s')", what, k ? k : "(none)", kind);
        goto out;
    }
    if (unet_from_header(hdr, m, e)) goto out;
    made = 1;
    if (ckpt_adam_parse(hdr, &acfg, &t, &has, e) || read_unet_body(rd, m, &am, &av, e)) goto out;
    if (opt) {
        if (!has) { eddy_fail(e, "no optimizer state to resume from"); goto out; }
        if (!am || !av) { eddy_fail(e, "adam state records missing"); goto out; }
        if (adam_init(opt, &acfg, m->nparams, e)) goto out;
        memcpy(opt->m, am, m->nparams * sizeof(float));
        memcpy(opt->v, av, m->nparams * sizeof(float));
        opt->t = t;
    }
    rc = 0;
out:
    if (rd) tsr_reader_close(rd);
    fclose(f);
    free(am), free(av);
    if (rc) {
        if (made) unet_free(m);
        tsr_record_free(hdr);
        // The reader names the file already when it could not read it.
        size_t k = strlen(path);
        if (strncmp(e->msg, path, k) || e->msg[k] != ':') eddy_wrap(e, "%s", path);
    }
    return rc;
}
