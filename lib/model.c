#include "model.h"

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
