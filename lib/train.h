// The one training loop of every model (fno-train, pd-train): data order,
// batching, the learning-rate schedule (lib/adam.h), gradient clipping, the
// TSV loss log, checkpoints and resume.  What is trained and how its loss is
// computed is the caller's: an objective fills the loss and the gradient of
// one batch into the model's one contiguous gradient buffer, and nothing else
// (the objectives are lib/closure_score.h cs_objective_grad and lib/pdd_net.h
// pdd_objective_grad).
//
// Reproducibility contract: epoch e visits the samples in the permutation
// keyed (seed, e, 0, TRAIN_PURPOSE_ORDER); step s takes the batch items
// perm[(s mod per_epoch)·B ..][0..B) with per_epoch = n / B (the remainder of
// an epoch is skipped).  Every random draw of an objective is keyed by
// (seed, step, global batch position or window, purpose), never by a running
// stream, so a run resumed from the checkpoint of step s takes the same
// steps as one that never stopped, and a process that computes only the
// batch positions [b0, b0 + nb) draws what the whole batch would there.
//
// Seams for what comes next (kept as hooks, off by default):
//  - data parallelism: nranks processes each call the objective on their
//    share [b0, b0 + nb) of every batch (train_share); objectives normalise
//    by the WHOLE batch B, so the sum over processes of their losses and
//    gradients is the single-process loss and gradient.  The allreduce hook
//    sums the gradient buffer (nparams floats) and the loss in place across
//    processes before clipping; only rank 0 writes the log and checkpoints.
//
// Divergence: the check hook (train_check_finite by default) sees the
// parameters and the Adam state after every step and before every save; a
// refusal, like a loss that is not finite, stops the run with an error
// naming the step and the checkpoint left on disk, which is the last one
// that passed (a diverged state is never saved over it).
// Resume: train_log_open cuts the log back to the checkpoint's step, so a
// run killed and resumed logs each step exactly once.
#ifndef EDDY_TRAIN_H
#define EDDY_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "adam.h"
#include "err.h"
#include "tsr.h"

enum { TRAIN_PURPOSE_ORDER = 0x0de7 };   // purpose word of the data order

// One batch as an objective sees it.  idx[b] (b = 0..B-1) is the sample of
// batch position b; the call computes positions b0..b0+nb-1 only.
typedef struct {
    const long *idx;
    int B;                    // the whole batch
    int b0, nb;               // this call's share
    long step;                // optimizer steps taken before this one (keys the noise)
    uint64_t seed;
} train_batch;

// The loss of batch positions [b0, b0+nb) as a contribution to the mean over
// the whole batch, into *loss; its gradient ADDED to the model's gradient
// buffer (zeroed by the loop before the call).  No optimizer step.
typedef int (*train_objective_fn)(void *ctx, const train_batch *b, double *loss, eddy_err *e);

// What the loop trains: the contiguous parameter and gradient buffers (of
// nparams floats; lib/fno.h m->params / m->grads or any other network's),
// the objective, and how to write a checkpoint (the model interface's save,
// lib/model.h).
typedef struct {
    float *params, *grads;
    size_t nparams;
    train_objective_fn objective;
    void *objective_ctx;
    int (*save)(void *ctx, const char *path, const adam *opt, eddy_err *e);
    void *save_ctx;
} train_model;

typedef struct {
    long nsamples;            // samples (frames, paths) to draw batches from
    int batch;                // ≤ nsamples
    long steps;               // optimizer steps in total (resumed runs continue to it)
    long ckpt_every;          // checkpoint every N steps and at the end
    double clip;              // > 0: clip the gradient norm to this before the update
    uint64_t seed;
    const char *out;          // checkpoint path
    const char *log_path;     // TSV log "step epoch lr loss seconds", or NULL
    // data parallelism (see above); nranks = 0 or 1: one process
    int rank, nranks;
    int (*allreduce)(void *ctx, float *grads, size_t n, double *loss, eddy_err *e);
    void *allreduce_ctx;
    // after every step and before every save: non-zero stops the run (the
    // message says why); NULL: no check
    int (*check)(void *ctx, const float *params, size_t n, const adam *opt, eddy_err *e);
    void *check_ctx;
    // after every step: the step count and the running loss average
    void (*report)(void *ctx, long step, double loss_ema);
    void *report_ctx;
} train_opts;

// Defaults: batch 1, steps 0, checkpoint every 1000, no clipping, seed 42, one process,
// check train_check_finite.
void train_opts_default(train_opts *o);
// The settings every trainer's command line gives (the rest default).
train_opts train_opts_cli(long nsamples, int batch, long steps, long ckpt_every, double clip,
                          long seed, const char *out, const char *log_path);
// A fresh Adam for nparams parameters: rate lr, times gamma every decay_every steps (0: never).
int train_adam(adam *opt, size_t nparams, double lr, long decay_every, double gamma, eddy_err *e);

// The permutation of epoch `epoch` (perm of n indices).
void train_epoch_order(long *perm, long n, uint64_t seed, long epoch);

// Positions [*b0, *b0 + *nb) of a batch of B that rank of nranks computes
// (contiguous, sizes differing by at most one).
void train_share(int B, int rank, int nranks, int *b0, int *nb);

// Runs opt->t .. o->steps with the optimizer opt (fresh, or loaded with the
// checkpoint being resumed).  Saves every ckpt_every steps, at the last step,
// and once when no step is left.  *loss_ema (may be NULL) receives the
// running average of the loss (0.95 decay).  Messages name the step.
int train_run(const train_model *m, adam *opt, const train_opts *o, double *loss_ema, eddy_err *e);

// Opens the loss log for a run at step `step`: 0, a new log (header
// written); otherwise the existing log cut back to its header and the rows of
// steps <= step (a torn last row dropped), opened to append; a missing or
// empty log is started anew.
FILE *train_log_open(const char *path, long step, eddy_err *e);

// ---- one kind of training data
// A trainer reading records from several files learns one model of one kind
// of record: a closure stream (omega, G, H) or G and H closure data mixed
// would train a model that is none of them, under the first one's label.
// The first record read is kept (name and attributes, no payload) and every
// later one compared with it.
typedef struct {
    int set;
    char where[TSR_MAX_NAME + 160];   // "FILE record N 'NAME'"
    tsr_record rec;                   // name and attributes
} train_first;

// Keeps rec (record idx of the input label) as the first, when none is kept yet.
int train_first_keep(train_first *f, const tsr_record *rec, const char *label, long idx, eddy_err *e);
void train_first_free(train_first *f);
// Fails, naming both records, when rec (record idx of label) has another name
// than the first or disagrees on one of the attributes keys (NULL-ended): set
// in one and not the other, or another value (numbers compared as numbers, to
// 1e-9 relative).
int train_same_kind(const train_first *f, const tsr_record *rec, const char *label, long idx,
                    const char *const *keys, eddy_err *e);

// A check hook: fails when a parameter or an Adam moment is not finite.
int train_check_finite(void *ctx, const float *params, size_t n, const adam *opt, eddy_err *e);

#endif
