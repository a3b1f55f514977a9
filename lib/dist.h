// The distributed runtime of data-parallel training: rank, size, one
// all-reduce of the contiguous gradient buffer, a broadcast, a barrier, and
// the abort that keeps a failing rank from leaving the others waiting.
//
// One binary serves a plain run and `mpirun -np N`: built with EDDY_MPI (the
// Makefile defines it when mpicc is present), dist_init initialises MPI only
// when a launcher started the process (Open MPI's mpirun sets
// OMPI_COMM_WORLD_SIZE, Slurm's srun --mpi=pmi2 PMI_SIZE, PMIx launchers
// PMIX_RANK).  A tool run alone never touches MPI: it is rank 0 of 1, every
// collective is a no-op, and the cost is one getenv per variable.  Built
// without EDDY_MPI, the same functions are those serial stubs; a launched
// process then fails dist_init rather than silently running N independent
// copies of the job.
//
// Determinism.  dist_allreduce_sum gives the same bytes for the same rank
// count run twice, and the same bytes on every rank: it moves data with MPI
// (all-to-all, then all-gather) but does the arithmetic itself, each element
// summed over ranks in rank order 0, 1, …, N−1 in double and rounded once to
// float.  MPI_Allreduce promises neither: its algorithm (and so its order of
// additions) is chosen per message size, rank count and placement by the
// library's tuning tables, and may differ between ranks' halves of the
// buffer.  The cost is the bandwidth of a ring all-reduce (each rank sends and
// receives (N−1)/N of the buffer twice) and about n floats of scratch, kept
// between calls and freed by dist_finalize.  Beside MPI_Allreduce on this
// project's 2-core machine, busy with other work (2 ranks, a few runs each):
// 0.03 ms against 0.02 for 10^4 floats, 13–23 ms against 8–17 for 10^6.
//
// Failure.  The world communicator's error handler is MPI_ERRORS_ARE_FATAL,
// set explicitly: an MPI error aborts every rank instead of returning into a
// loop whose next collective would wait forever.  The timeout story:
//   - a rank that dies (signal, exit without dist_finalize): mpirun notices
//     and kills the others at once (examples/slurm/train-mpi.sbatch launches
//     with mpirun; ranks started by srun need --kill-on-bad-exit=1 for this);
//   - a rank that fails in its own code (bad data, a write that fails) calls
//     dist_abort, which ends every rank with that status (MPI_Abort), so no
//     rank waits for an all-reduce that will never come;
//   - a rank that hangs while alive (a stuck file system) is beyond what MPI
//     can see: the wall-clock limits bound it (`mpirun --timeout SECONDS`,
//     Slurm's --time).  tests/unit/test_dist.c checks the first two.
#ifndef EDDY_DIST_H
#define EDDY_DIST_H

#include <stddef.h>

#include "err.h"

// 1 when the process was started by an MPI launcher (the environment
// variables above), 0 for a plain run.  Pure: reads the environment only.
int dist_launched(void);

// 1 when the library was built with MPI (EDDY_MPI), 0 for the serial build.
int dist_built_with_mpi(void);

// Starts the runtime: MPI_Init_thread (funneled: only the thread that calls
// these functions talks to MPI; OpenMP threads compute) when launched, nothing
// otherwise.  Fails when launched but built without MPI, or when called twice.
int dist_init(eddy_err *e);

// This process's rank in [0, size) and the number of ranks; 0 and 1 before
// dist_init, after dist_finalize, and in a plain run.
int dist_rank(void);
int dist_size(void);

// 1 between dist_init and dist_finalize of a launched run (MPI is live).
int dist_active(void);

// In-place sum over ranks of buf (n floats, the same n on every rank; the
// same layout on every rank): afterwards every rank holds the same bytes,
// element i = (float)(Σ_r buf_r[i] summed in double in rank order).  A
// no-op for one rank.  Collective: every rank must call it.
int dist_allreduce_sum(float *buf, size_t n, eddy_err *e);

// Copies `bytes` bytes of buf from rank `root` to every rank.  Collective.
int dist_bcast(void *buf, size_t bytes, int root, eddy_err *e);

// Returns once every rank has entered it.  Collective.
int dist_barrier(eddy_err *e);

// Ends the runtime (MPI_Finalize, itself collective); a no-op in a plain
// run.  Every rank must call it on the success path; after it, rank 0 of 1.
int dist_finalize(eddy_err *e);

// The failure path of a launched run: ends every rank with `status`
// (MPI_Abort on the world communicator) and does not return.  In a plain run
// it returns at once, so the caller's own exit path (a tool's error message
// and exit status) runs as it always does.  Call it after reporting the error.
void dist_abort(int status);

#endif
