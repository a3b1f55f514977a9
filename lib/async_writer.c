#include "async_writer.h"

#include <string.h>

static void *writer_main(void *arg)
{
    async_writer *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->pending && !a->quit) pthread_cond_wait(&a->cv, &a->mu);
        if (!a->pending) break;
        const tsr_record *r = a->pending;
        pthread_mutex_unlock(&a->mu);
        eddy_err e;
        int bad = !a->failed && tsr_write(a->wr, r, &e);
        pthread_mutex_lock(&a->mu);
        if (bad) a->failed = 1, a->e = e;
        a->pending = NULL;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

void aw_start(async_writer *a, tsr_writer *wr, int threaded)
{
    memset(a, 0, sizeof *a);
    a->wr = wr;
    if (!threaded) return;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->active = pthread_create(&a->th, NULL, writer_main, a) == 0;
}

// Waits until the writer holds no record; -1 with its error if a write failed.
static int aw_idle(async_writer *a, eddy_err *e)
{
    if (!a->active) return 0;
    pthread_mutex_lock(&a->mu);
    while (a->pending) pthread_cond_wait(&a->cv, &a->mu);
    int failed = a->failed;
    if (failed) *e = a->e;
    pthread_mutex_unlock(&a->mu);
    return failed ? -1 : 0;
}

int aw_put(async_writer *a, const tsr_record *r, eddy_err *e)
{
    if (!a->active) return tsr_write(a->wr, r, e);
    if (aw_idle(a, e)) return -1;
    pthread_mutex_lock(&a->mu);
    a->pending = r;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

int aw_stop(async_writer *a, eddy_err *e)
{
    if (!a->active) return 0;
    int rc = aw_idle(a, e);
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    a->active = 0;
    return rc;
}

