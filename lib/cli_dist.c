#include "cli_dist.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"

static int ended = 0;

// on_exit: a launched run that leaves without cli_dist_end failed somewhere
// (cli_die after its message); MPI_Abort ends the other ranks too, and mpirun
// exits with this rank's status.
static void abort_others(int status, void *arg)
{
    (void)arg;
    if (!ended && dist_active()) dist_abort(status ? status : EXIT_DATA);
}

void cli_dist_start(void)
{
    eddy_err e;
    if (dist_init(&e)) cli_die(EXIT_USAGE, "%s", e.msg);
    if (dist_active()) on_exit(abort_others, NULL);
}

// The hook's scratch: the gradient buffer and the loss side by side, so one
// all-reduce carries both (n + 1 floats; the loss is summed in double by
// dist_allreduce_sum and rounded once to float, so a logged loss may differ
// from one process's in its 6th digit; the gradients are floats anyway).
static float *sbuf = NULL;
static size_t sn = 0;

static int allreduce(void *ctx, float *grads, size_t n, double *loss, eddy_err *e)
{
    (void)ctx;
    if (n + 1 > sn) {
        float *p = realloc(sbuf, (n + 1) * sizeof *p);
        if (!p) return eddy_fail(e, "out of memory for the all-reduce of %zu floats", n + 1);
        sbuf = p, sn = n + 1;
    }
    memcpy(sbuf, grads, n * sizeof *grads);
    sbuf[n] = (float)*loss;
    if (dist_allreduce_sum(sbuf, n + 1, e)) return -1;
    memcpy(grads, sbuf, n * sizeof *grads);
    *loss = sbuf[n];
    return 0;
}

void cli_dist_train_opts(const char *name, train_opts *o)
{
    o->rank = dist_rank(), o->nranks = dist_size();
    if (o->nranks < 2) return;
    // Every rank sees the same batch: rank 0 alone says so, the others leave quietly.
    if (o->batch < o->nranks && o->rank) exit(EXIT_USAGE);
    if (o->batch < o->nranks)
        cli_die(EXIT_USAGE, "%s: a batch of %d on %d ranks leaves a rank without samples "
                "(use --batch >= %d or fewer ranks)", name, o->batch, o->nranks, o->nranks);
    o->allreduce = allreduce, o->allreduce_ctx = NULL;
}

void cli_dist_end(void)
{
    eddy_err e;
    ended = 1;
    free(sbuf);
    sbuf = NULL, sn = 0;
    if (dist_finalize(&e)) cli_die(EXIT_DATA, "%s", e.msg);
}
