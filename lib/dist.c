// The distributed runtime (lib/dist.h): Open MPI when built with EDDY_MPI and
// launched, serial stubs otherwise.  MPI is process-wide state, so is this.
#include "dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef EDDY_MPI
#include <mpi.h>
#endif

static struct {
    int started;   // dist_init has run (and dist_finalize has not)
    int mpi;       // MPI is initialised (launched and built with MPI)
    int rank, size;
    // The all-reduce's scratch, kept between calls (a training loop reduces
    // the same buffer every step): 4·size counts and displacements, floats.
    int *counts;
    float *tmp;
    size_t ntmp;
} g = {0, 0, 0, 1, NULL, NULL, 0};

// The variables each launcher sets in every process it starts.
static const char *const launcher_vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};

int dist_launched(void)
{
    for (size_t i = 0; i < sizeof launcher_vars / sizeof *launcher_vars; i++) {
        const char *v = getenv(launcher_vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}

int dist_built_with_mpi(void)
{
#ifdef EDDY_MPI
    return 1;
#else
    return 0;
#endif
}

int dist_rank(void) { return g.rank; }
int dist_size(void) { return g.size; }
int dist_active(void) { return g.mpi; }

#ifndef EDDY_MPI
// The world size a launcher announces, or 0 when it does not say (PMIx alone).
static long launched_size(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v || !*v) v = getenv("PMI_SIZE");
    return v && *v ? strtol(v, NULL, 10) : 0;
}
#endif

int dist_init(eddy_err *e)
{
    if (g.started) return eddy_fail(e, "dist_init: called twice");
    if (!dist_launched()) {
        g.started = 1;
        return 0;
    }
#ifdef EDDY_MPI
    int provided = 0;
    // An MPI error before the handler below is set is already fatal: that is
    // MPI's default on the world communicator.
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return eddy_fail(e, "dist_init: the MPI library gives thread level %d, below MPI_THREAD_FUNNELED", provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    g.mpi = 1;
    g.started = 1;
    return 0;
#else
    // One process of one is a plain run, whoever started it; N copies of a
    // serial tool would each do the whole job and write the same files.
    if (launched_size() == 1) {
        g.started = 1;
        return 0;
    }
    return eddy_fail(e, "started by an MPI launcher, but this build has no MPI "
                        "(install libopenmpi-dev and rebuild: make clean && make)");
#endif
}

int dist_finalize(eddy_err *e)
{
    if (!g.started) return eddy_fail(e, "dist_finalize: dist_init has not run");
#ifdef EDDY_MPI
    if (g.mpi) MPI_Finalize();
#endif
    free(g.counts);
    free(g.tmp);
    g.counts = NULL;
    g.tmp = NULL;
    g.ntmp = 0;
    g.started = g.mpi = 0;
    g.rank = 0;
    g.size = 1;
    return 0;
}

void dist_abort(int status)
{
#ifdef EDDY_MPI
    if (g.mpi) MPI_Abort(MPI_COMM_WORLD, status);
#endif
    (void)status;
}

int dist_barrier(eddy_err *e)
{
#ifdef EDDY_MPI
    if (g.mpi) MPI_Barrier(MPI_COMM_WORLD);
#endif
    (void)e;
    return 0;
}

int dist_bcast(void *buf, size_t bytes, int root, eddy_err *e)
{
    if (root < 0 || root >= g.size) return eddy_fail(e, "dist_bcast: root %d outside [0, %d)", root, g.size);
    if (bytes && !buf) return eddy_fail(e, "dist_bcast: no buffer for %zu bytes", bytes);
#ifdef EDDY_MPI
    // MPI counts are int: pieces of 1 GiB.
    for (size_t at = 0; g.mpi && at < bytes;) {
        size_t m = bytes - at < ((size_t)1 << 30) ? bytes - at : (size_t)1 << 30;
        MPI_Bcast((char *)buf + at, (int)m, MPI_BYTE, root, MPI_COMM_WORLD);
        at += m;
    }
#endif
    return 0;
}

#ifdef EDDY_MPI
// Chunk c of n elements over N ranks: [off(c), off(c + 1)), balanced.
static size_t chunk_off(size_t n, int N, int c) { return (size_t)c * n / (size_t)N; }

// Reduce-scatter by hand, then all-gather: rank r receives chunk r of every
// rank's buffer (all-to-all), sums those N pieces element by element in rank
// order, and every rank gathers every reduced chunk.  MPI only moves bytes;
// the order of the additions is fixed here, so the result is.
static int allreduce_mpi(float *buf, size_t n, eddy_err *e)
{
    int N = g.size, r = g.rank;
    if (n > (size_t)INT_MAX) return eddy_fail(e, "dist_allreduce_sum: %zu floats exceed MPI's int counts", n);
    size_t mine = chunk_off(n, N, r + 1) - chunk_off(n, N, r);
    if (!g.counts && !(g.counts = malloc(4 * (size_t)N * sizeof *g.counts)))
        return eddy_fail(e, "dist_allreduce_sum: out of memory for %d ranks' counts", N);
    if (mine * (size_t)N > g.ntmp) {
        float *t = realloc(g.tmp, mine * (size_t)N * sizeof *t);
        if (!t) return eddy_fail(e, "dist_allreduce_sum: out of memory for %zu floats of scratch", mine * (size_t)N);
        g.tmp = t;
        g.ntmp = mine * (size_t)N;
    }
    float *tmp = g.tmp;   // (N, mine): rank q's piece of chunk r
    int *scnt = g.counts, *sdsp = scnt + N, *rcnt = scnt + 2 * N, *rdsp = scnt + 3 * N;
    for (int c = 0; c < N; c++) {
        scnt[c] = (int)(chunk_off(n, N, c + 1) - chunk_off(n, N, c));
        sdsp[c] = (int)chunk_off(n, N, c);
        rcnt[c] = (int)mine;
        rdsp[c] = (int)(mine * (size_t)c);
    }
    MPI_Alltoallv(buf, scnt, sdsp, MPI_FLOAT, tmp, rcnt, rdsp, MPI_FLOAT, MPI_COMM_WORLD);
    float *out = buf + chunk_off(n, N, r);
    // Each element's sum is independent, so threads do not change it.
#pragma omp parallel for schedule(static) if (mine > 65536)
    for (size_t i = 0; i < mine; i++) {
        double s = 0;
        for (int q = 0; q < N; q++) s += tmp[(size_t)q * mine + i];
        out[i] = (float)s;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, scnt, sdsp, MPI_FLOAT, MPI_COMM_WORLD);
    return 0;
}
#endif

int dist_allreduce_sum(float *buf, size_t n, eddy_err *e)
{
    if (n && !buf) return eddy_fail(e, "dist_allreduce_sum: no buffer for %zu floats", n);
#ifdef EDDY_MPI
    if (g.mpi && g.size > 1) return allreduce_mpi(buf, n, e);
#endif
    return 0;
}
