// The command-line side of data-parallel training (lib/dist.h, lib/train.h):
// what pd-train and fno-train call so that one binary runs alone or as a rank
// of `mpirun -np N`.  Like lib/cli.c it serves mains (it prints and exits);
// it is a file of its own so that only the binaries that call it link libmpi.
#ifndef EDDY_CLI_DIST_H
#define EDDY_CLI_DIST_H

#include "train.h"

// Starts the runtime (dist_init; a plain run does nothing) or exits 2 with the
// reason.  From here on, an exit other than through cli_dist_end (cli_die, a
// failed write) aborts every rank (dist_abort), so that none waits forever in
// an all-reduce for a rank that is gone.
void cli_dist_start(void);

// Gives the training loop this process's rank, the rank count and the
// all-reduce hook (gradient buffer and loss summed over ranks in one call);
// exits 2 when the batch has fewer samples than there are ranks.  Batches
// that do not divide are shared unequally (train_share: sizes differ by at
// most one); the objectives normalise by the whole batch, so the sum is the
// one-process step.
void cli_dist_train_opts(const char *name, train_opts *o);

// The success path: every rank ends the runtime together (collective).
void cli_dist_end(void);

#endif
