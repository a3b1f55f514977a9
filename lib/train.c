#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "rng.h"

void train_opts_default(train_opts *o)
{
    *o = (train_opts){.batch = 1, .ckpt_every = 1000, .seed = 42, .nranks = 1};
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

FILE *train_log_open(const char *path, long step, eddy_err *e)
{
    // Resumed runs append: the checkpoint was written at a step the log had
    // been flushed to.  (A log that ran on past its last checkpoint is the
    // place to be cut back to `step` lines.)
    FILE *f = fopen(path, step > 0 ? "a" : "w");
    if (!f) {
        eddy_fail(e, "%s: cannot open the log", path);
        return NULL;
    }
    if (step == 0) fprintf(f, "step\tepoch\tlr\tloss\tseconds\n");
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

static int save(const train_model *m, const adam *opt, const train_opts *o, FILE *log, eddy_err *e)
{
    if (o->rank != 0) return 0;
    if (log) fflush(log);
    if (o->check && o->check(o->check_ctx, m->params, m->nparams, opt, e))
        return eddy_wrap(e, "%s: not saved at step %ld", o->out, opt->t);
    if (m->save(m->save_ctx, o->out, opt, e)) return eddy_wrap(e, "%s", o->out);
    return 0;
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
    int rc = 0;
    for (long s = opt->t; s < o->steps && !rc; s++) {
        long epoch = s / per_epoch, k = s % per_epoch;
        if (epoch != cur_epoch) train_epoch_order(perm, o->nsamples, o->seed, epoch), cur_epoch = epoch;
        b.idx = perm + k * o->batch, b.step = s;
        double lr = adam_lr(opt), loss = 0;
        memset(m->grads, 0, m->nparams * sizeof *m->grads);
        if (m->objective(m->objective_ctx, &b, &loss, e) ||
            (o->allreduce && o->allreduce(o->allreduce_ctx, m->grads, m->nparams, &loss, e))) {
            rc = eddy_wrap(e, "step %ld", s + 1);
            break;
        }
        if (!isfinite(loss)) {
            rc = eddy_fail(e, "step %ld: loss is not finite (%g)", s + 1, loss);
            break;
        }
        if (o->clip > 0) clip_norm(m->grads, m->nparams, o->clip);
        adam_step(opt, m->params, m->grads);
        ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
        if (log) fprintf(log, "%ld\t%ld\t%.6g\t%.6g\t%.3f\n", s + 1, epoch, lr, loss, progress_now() - t0);
        if (o->report) o->report(o->report_ctx, s + 1, ema);
        if ((s + 1) % o->ckpt_every == 0 || s + 1 == o->steps) rc = save(m, opt, o, log, e);
    }
    if (!rc && opt->t == start) rc = save(m, opt, o, log, e);   // nothing left to train
    if (log && fclose(log) && !rc) rc = eddy_fail(e, "%s: write error", o->log_path);
    free(perm);
    if (loss_ema) *loss_ema = ema;
    return rc;
}
