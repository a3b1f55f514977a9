// The U-Net's parameters as tensor records (lib/unet.h): a header record
// "unet" with the architecture, then one f4 record per tensor, as
// lib/checkpoint.c does for the FNO.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unet.h"

#define UNET_VERSION 1

int unet_is_header(const tsr_record *r) { return r && !strcmp(r->name, "unet"); }

static int header(tsr_record *r, const unet *m, const tsr_record *extra, eddy_err *e)
{
    const unet_config *c = &m->cfg;
    uint64_t one = 1;
    if (extra) tsr_attrs_copy(r, extra);
    if (tsr_record_alloc(r, "unet", TSR_I4, 1, &one, e)) return -1;
    ((int32_t *)r->data)[0] = UNET_VERSION;
    char ch[256] = "";
    size_t len = 0;
    for (int i = 0; i < c->levels; i++)
        len += (size_t)snprintf(ch + len, sizeof ch - len, i ? ",%d" : "%d", c->ch[i]);
    int bad = 0;
    bad |= tsr_attr_setf(r, "unet.version", "%d", UNET_VERSION);
    bad |= tsr_attr_setf(r, "unet.dims", "%d", c->dims);
    bad |= tsr_attr_setf(r, "unet.in", "%d", c->in);
    bad |= tsr_attr_setf(r, "unet.out", "%d", c->out);
    bad |= tsr_attr_setf(r, "unet.base", "%d", c->base);
    bad |= tsr_attr_set(r, "unet.channels", ch);
    bad |= tsr_attr_setf(r, "unet.nres", "%d", c->nres);
    bad |= tsr_attr_setf(r, "unet.groups", "%d", c->groups);
    bad |= tsr_attr_setf(r, "unet.heads", "%d", c->heads);
    bad |= tsr_attr_setf(r, "unet.emb_size", "%d", c->emb_size);
    bad |= tsr_attr_set_double(r, "unet.emb_period", c->emb_period);
    bad |= tsr_attr_setf(r, "unet.emb_hidden", "%d", c->emb_hidden);
    bad |= tsr_attr_setf(r, "unet.nparams", "%zu", m->nparams);
    bad |= tsr_attr_set(r, "unet.layout", "B,H,W,C");
    if (bad) return eddy_fail(e, "unet: out of memory for attributes");
    return 0;
}

int unet_write(tsr_writer *w, const unet *m, const tsr_record *extra, eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    int rc = header(&r, m, extra, e);
    if (!rc) rc = tsr_write(w, &r, e);
    tsr_record_free(&r);
    for (int i = 0; !rc && i < m->ntensors; i++) {
        const unet_tensor *t = &m->tensors[i];
        uint64_t sh[TSR_MAX_RANK];
        for (int k = 0; k < t->rank; k++) sh[k] = (uint64_t)t->shape[k];
        tsr_record_init(&r);
        rc = tsr_record_alloc(&r, t->name, TSR_F4, t->rank, sh, e);
        if (!rc) {
            memcpy(r.data, t->data, t->count * sizeof(float));
            rc = tsr_write(w, &r, e);
        }
        tsr_record_free(&r);
    }
    return rc ? -1 : 0;
}

static int get_int(const tsr_record *r, const char *key, int *out, eddy_err *e)
{
    long v;
    int rc = tsr_attr_long(r, key, &v, e);
    if (rc < 0) return -1;
    if (rc == 1) return eddy_fail(e, "unet: attribute %s missing", key);
    if (v < -(1L << 30) || v > (1L << 30)) return eddy_fail(e, "unet: attribute %s out of range", key);
    *out = (int)v;
    return 0;
}

int unet_from_header(const tsr_record *h, unet *m, eddy_err *e)
{
    memset(m, 0, sizeof *m);
    if (!unet_is_header(h))
        return eddy_fail(e, "unet: record '%s' is not a U-Net header (a model of another architecture?)",
                         h->name);
    unet_config c;
    memset(&c, 0, sizeof c);
    int ver = 0;
    if (get_int(h, "unet.version", &ver, e)) return -1;
    if (ver != UNET_VERSION)
        return eddy_fail(e, "unet: format version %d, this build reads %d", ver, UNET_VERSION);
    if (get_int(h, "unet.dims", &c.dims, e) || get_int(h, "unet.in", &c.in, e) ||
        get_int(h, "unet.out", &c.out, e) || get_int(h, "unet.base", &c.base, e) ||
        get_int(h, "unet.nres", &c.nres, e) || get_int(h, "unet.groups", &c.groups, e) ||
        get_int(h, "unet.heads", &c.heads, e) || get_int(h, "unet.emb_size", &c.emb_size, e) ||
        get_int(h, "unet.emb_hidden", &c.emb_hidden, e))
        return -1;
    int rc = tsr_attr_double(h, "unet.emb_period", &c.emb_period, e);
    if (rc) return rc < 0 ? -1 : eddy_fail(e, "unet: attribute unet.emb_period missing");
    const char *s = tsr_attr_get(h, "unet.channels");
    if (!s) return eddy_fail(e, "unet: attribute unet.channels missing");
    while (*s) {
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < 1 || x > 1 << 20 || c.levels >= UNET_MAX_LEVELS)
            return eddy_fail(e, "unet: attribute unet.channels: bad list '%s'",
                             tsr_attr_get(h, "unet.channels"));
        c.ch[c.levels++] = (int)x;
        s = end;
        if (*s == ',') s++;
    }
    return unet_create(m, &c, 0, e);
}

int unet_read_tensor(unet *m, const tsr_record *r, eddy_err *e)
{
    unet_tensor *t = unet_find(m, r->name);
    if (!t) return eddy_fail(e, "unet: unexpected record '%s'", r->name);
    int ok = r->dtype == TSR_F4 && r->rank == t->rank;
    for (int i = 0; ok && i < r->rank; i++) ok = r->shape[i] == (uint64_t)t->shape[i];
    if (!ok) return eddy_fail(e, "unet: record '%s' has the wrong shape or dtype for this architecture", r->name);
    memcpy(t->data, r->data, t->count * sizeof(float));
    return 0;
}

int unet_read(tsr_reader *rd, unet *m, tsr_record *extra, eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    unsigned char *seen = NULL;
    memset(m, 0, sizeof *m);
    int rc = tsr_read(rd, &r, e);
    if (rc <= 0) {
        if (rc == 0) eddy_fail(e, "unet: empty stream");
        goto fail;
    }
    if (unet_from_header(&r, m, e)) goto fail;
    if (extra) {
        tsr_record_free(extra);
        if (tsr_record_clone(extra, &r, e)) goto fail;
    }
    seen = calloc((size_t)m->ntensors, 1);
    if (!seen) { eddy_fail(e, "unet: out of memory"); goto fail; }
    while ((rc = tsr_read(rd, &r, e)) == 1) {
        if (unet_read_tensor(m, &r, e)) goto fail;
        seen[unet_find(m, r.name) - m->tensors] = 1;
    }
    if (rc < 0) goto fail;
    for (int i = 0; i < m->ntensors; i++)
        if (!seen[i]) { eddy_fail(e, "unet: tensor '%s' missing", m->tensors[i].name); goto fail; }
    free(seen);
    tsr_record_free(&r);
    return 0;
fail:
    free(seen);
    tsr_record_free(&r);
    unet_free(m);
    return -1;
}

int unet_save(const char *path, const unet *m, const tsr_record *extra, eddy_err *e)
{
    tsr_writer *w = tsr_writer_open_path(path, NULL, e);
    if (!w) return -1;
    if (unet_write(w, m, extra, e)) {
        tsr_writer_abort(w);
        return eddy_wrap(e, "%s", path);
    }
    if (tsr_writer_finish(w, e)) return eddy_wrap(e, "%s", path);
    return 0;
}

int unet_load(const char *path, unet *m, tsr_record *extra, eddy_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return eddy_fail(e, "%s: %s", path, strerror(errno));
    tsr_reader *r = tsr_reader_open(f, path, e);
    int rc = r ? unet_read(r, m, extra, e) : -1;
    if (r) tsr_reader_close(r);
    fclose(f);
    if (rc) eddy_wrap(e, "%s", path);
    return rc;
}
