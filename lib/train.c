#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "rng.h"

void train_opts_default(train_opts *o)
{
    *o = (train_opts){.batch = 1, .ckpt_every = 1000, .seed = 42, .nranks = 1,
                      .check = train_check_finite};
}

train_opts train_opts_cli(long nsamples, int batch, long steps, long ckpt_every, double clip,
                          long seed, const char *out, const char *log_path)
{
    train_opts o;
    train_opts_default(&o);
    o.nsamples = nsamples, o.batch = batch, o.steps = steps, o.ckpt_every = ckpt_every;
    o.clip = clip, o.seed = (uint64_t)seed, o.out = out, o.log_path = log_path;
    return o;
}

int train_adam(adam *opt, size_t nparams, double lr, long decay_every, double gamma, eddy_err *e)
{
    adam_cfg ac;
    adam_cfg_default(&ac);
    ac.lr = lr, ac.decay_every = decay_every, ac.decay_gamma = gamma;
    return adam_init(opt, &ac, nparams, e);
}

void train_epoch_order(long *perm, long n, uint64_t seed, long epoch)
{
    eddy_rng r;
    rng_init(&r, seed, (uint64_t)epoch, 0, TRAIN_PURPOSE_ORDER);
    rng_permutation(&r, perm, n);
}

void train_share(int B, int rank, int nranks, int *b0, int *nb)
{
    if (nranks < 1) nranks = 1, rank = 0;
    int q = B / nranks, r = B % nranks;
    *b0 = rank * q + (rank < r ? rank : r);
    *nb = q + (rank < r);
}

// The byte length of the log's header and the rows of steps <= step: the
// prefix a run resumed at `step` keeps.  Rows are "step\t..." in increasing
// order; a last row without its newline (the process was killed while
// writing it) is torn and never kept.
static long log_keep(FILE *f, long step)
{
    long keep = 0, pos = 0, cap = 0, len = 0;
    int c, header = 1;
    char head[32];
    while ((c = getc(f)) != EOF) {
        pos++;
        if (len < (long)sizeof head - 1) head[len++] = (char)c;
        if (c != '\n') continue;
        head[len] = 0, len = 0;
        if (header) {
            header = 0, keep = pos;
            continue;
        }
        char *end;
        long s = strtol(head, &end, 10);
        if (end == head || *end != '\t' || s > step || s <= cap) break;
        cap = s, keep = pos;
    }
    return keep;
}

FILE *train_log_open(const char *path, long step, eddy_err *e)
{
    // A resumed run keeps the header and the rows up to its checkpoint's
    // step and appends from there: rows the killed run wrote past its last
    // checkpoint are written again by the resumed run, so the log holds each
    // step once (the seconds column restarts).
    FILE *f = NULL;
    if (step > 0 && (f = fopen(path, "r+"))) {
        long keep = log_keep(f, step);
        if (fseek(f, keep, SEEK_SET) || ftruncate(fileno(f), keep)) {
            fclose(f);
            eddy_fail(e, "%s: cannot cut the log back to step %ld", path, step);
            return NULL;
        }
        if (keep > 0) return f;
    } else if (!(f = fopen(path, "w"))) {
        eddy_fail(e, "%s: cannot open the log", path);
        return NULL;
    }
    fprintf(f, "step\tepoch\tlr\tloss\tseconds\n");
    return f;
}

int train_check_finite(void *ctx, const float *params, size_t n, const adam *opt, eddy_err *e)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(params[i])) return eddy_fail(e, "parameter %zu is not finite", i);
    if (opt && opt->m && opt->v)
        for (size_t i = 0; i < opt->n; i++)
            if (!isfinite(opt->m[i]) || !isfinite(opt->v[i]))
                return eddy_fail(e, "Adam moment %zu is not finite", i);
    return 0;
}

// Scales g so its norm (double accumulation) is at most max_norm.
static void clip_norm(float *g, size_t n, double max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    double norm = sqrt(s);
    if (norm > max_norm && norm > 0) {
        float f = (float)(max_norm / norm);
        for (size_t i = 0; i < n; i++) g[i] *= f;
    }
}

static int save(const train_model *m, const adam *opt, const train_opts *o, FILE *log, long *saved,
                eddy_err *e)
{
    if (o->rank != 0) return 0;
    if (log) fflush(log);
    if (o->check && o->check(o->check_ctx, m->params, m->nparams, opt, e))
        return eddy_wrap(e, "%s: not saved at step %ld", o->out, opt->t);
    if (m->save(m->save_ctx, o->out, opt, e)) return eddy_wrap(e, "%s", o->out);
    *saved = opt->t;
    return 0;
}

// The message of a run stopped at step `step` (e holds why; diverged: by a
// loss or a state that is not finite): which checkpoint is left on disk.
static int stopped(eddy_err *e, const train_opts *o, long step, int diverged, long saved)
{
    char why[sizeof e->msg + 32];
    snprintf(why, sizeof why, diverged ? "training diverged (%s)" : "%s", e->msg);
    if (saved >= 0)
        return eddy_fail(e, "step %ld: %s; %s keeps the checkpoint of step %ld", step, why, o->out, saved);
    return eddy_fail(e, "step %ld: %s; this run wrote no checkpoint", step, why);
}

int train_run(const train_model *m, adam *opt, const train_opts *o, double *loss_ema, eddy_err *e)
{
    if (o->batch < 1 || o->batch > o->nsamples || o->ckpt_every < 1)
        return eddy_fail(e, "training: batch %d of %ld samples, checkpoint every %ld",
                         o->batch, o->nsamples, o->ckpt_every);
    long per_epoch = o->nsamples / o->batch, start = opt->t, cur_epoch = -1;
    long *perm = malloc((size_t)o->nsamples * sizeof *perm);
    if (!perm) return eddy_fail(e, "out of memory");
    FILE *log = NULL;
    if (o->log_path && o->rank == 0 && !(log = train_log_open(o->log_path, opt->t, e))) {
        free(perm);
        return -1;
    }
    train_batch b = {.B = o->batch, .seed = o->seed};
    train_share(o->batch, o->rank, o->nranks, &b.b0, &b.nb);
    double t0 = progress_now(), ema = NAN;
    long saved = -1;   // the step of the last checkpoint this run wrote
    int rc = 0;
    for (long s = opt->t; s < o->steps && !rc; s++) {
        long epoch = s / per_epoch, k = s % per_epoch;
        if (epoch != cur_epoch) train_epoch_order(perm, o->nsamples, o->seed, epoch), cur_epoch = epoch;
        b.idx = perm + k * o->batch, b.step = s;
        double lr = adam_lr(opt), loss = 0;
        memset(m->grads, 0, m->nparams * sizeof *m->grads);
        if (m->objective(m->objective_ctx, &b, &loss, e) ||
            (o->allreduce && o->allreduce(o->allreduce_ctx, m->grads, m->nparams, &loss, e))) {
            rc = stopped(e, o, s + 1, 0, saved);
            break;
        }
        if (!isfinite(loss)) {
            eddy_fail(e, "the loss is %g", loss);
            rc = stopped(e, o, s + 1, 1, saved);
            break;
        }
        if (o->clip > 0) clip_norm(m->grads, m->nparams, o->clip);
        adam_step(opt, m->params, m->grads);
        // Every step, on every process (they hold the same state): a state
        // that is no longer finite stops the run before any save could
        // overwrite the last good checkpoint with it.
        if (o->check && o->check(o->check_ctx, m->params, m->nparams, opt, e)) {
            rc = stopped(e, o, s + 1, 1, saved);
            break;
        }
        ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
        if (log) fprintf(log, "%ld\t%ld\t%.6g\t%.6g\t%.3f\n", s + 1, epoch, lr, loss, progress_now() - t0);
        if (o->report) o->report(o->report_ctx, s + 1, ema);
        if ((s + 1) % o->ckpt_every == 0 || s + 1 == o->steps) rc = save(m, opt, o, log, &saved, e);
    }
    if (!rc && opt->t == start) rc = save(m, opt, o, log, &saved, e);   // nothing left to train
    if (log && fclose(log) && !rc) rc = eddy_fail(e, "%s: write error", o->log_path);
    free(perm);
    if (loss_ema) *loss_ema = ema;
    return rc;
}

int train_first_keep(train_first *f, const tsr_record *rec, const char *label, long idx, eddy_err *e)
{
    if (f->set) return 0;
    tsr_record_init(&f->rec);
    snprintf(f->rec.name, sizeof f->rec.name, "%s", rec->name);
    if (tsr_attrs_copy(&f->rec, rec)) return eddy_fail(e, "out of memory");
    snprintf(f->where, sizeof f->where, "%s record %ld '%s'", label, idx, rec->name);
    f->set = 1;
    return 0;
}

void train_first_free(train_first *f)
{
    if (f->set) tsr_record_free(&f->rec);
    f->set = 0;
}

// Two attribute values agree: equal text, or equal numbers.
static int same_value(const char *a, const char *b)
{
    if (!strcmp(a, b)) return 1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    return ea != a && !*ea && eb != b && !*eb && isfinite(x) && isfinite(y) &&
           fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
}

int train_same_kind(const train_first *f, const tsr_record *rec, const char *label, long idx,
                    const char *const *keys, eddy_err *e)
{
    if (!f->set) return 0;
    if (strcmp(rec->name, f->rec.name))
        return eddy_fail(e, "%s record %ld is named '%s', %s: mixed training data "
                         "(select one kind, e.g. tsr-cat --name)", label, idx, rec->name, f->where);
    for (const char *const *k = keys; *k; k++) {
        const char *a = tsr_attr_get(&f->rec, *k), *b = tsr_attr_get(rec, *k);
        if (!a && !b) continue;
        if (a && b && same_value(a, b)) continue;
        return eddy_fail(e, "%s record %ld '%s' has %s%s%s, %s has %s%s%s: mixed training data "
                         "(train one model per kind)", label, idx, rec->name, *k, b ? "=" : " unset",
                         b ? b : "", f->where, *k, a ? "=" : " unset", a ? a : "");
    }
    return 0;
}
