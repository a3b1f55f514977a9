// An ordered asynchronous writer of tensor records: a writer thread, so that
// compressing record i (as costly as reading it) overlaps reading and
// computing record i+1.  It holds at most one record; records are written in
// the order handed over, so the bytes are those of writing inline.  Used by
// stream filters that read, transform and write one record at a time
// (rg-coarsen).
#ifndef EDDY_ASYNC_WRITER_H
#define EDDY_ASYNC_WRITER_H

#include <pthread.h>

#include "err.h"
#include "tsr.h"

typedef struct {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tsr_writer *wr;
    const tsr_record *pending;   // handed over, not yet written
    int active, quit, failed;
    eddy_err e;
} async_writer;

// Starts a writer on wr; threaded = 0 (or a thread that cannot start)
// writes inline in aw_put.
void aw_start(async_writer *a, tsr_writer *wr, int threaded);
// Hands r over (it must stay untouched until the next aw_put or aw_stop);
// -1 with the error of an earlier failed write.
int aw_put(async_writer *a, const tsr_record *r, eddy_err *e);
// Drains and joins the thread; the caller then finishes the stream.
int aw_stop(async_writer *a, eddy_err *e);

#endif
