#include "scratch.h"

#include <stdlib.h>
#include <string.h>

int scratch_grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap) return 0;
    void *old;
    memcpy(&old, p, sizeof old);
    void *q = realloc(old, n * size);
    if (!q) return -1;
    memcpy(p, &q, sizeof q);
    *cap = n;
    return 0;
}

float *scratch_f32_ensure(scratch_f32 *b, size_t n, const char *who, eddy_err *e)
{
    if (n == 0) n = 1;
    if (n > b->cap) {
        free(b->p);
        size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        b->p = aligned_alloc(64, bytes);
        b->cap = b->p ? n : 0;
        if (!b->p) {
            eddy_fail(e, "%s: out of memory (%zu MB of activations)", who, bytes >> 20);
            return NULL;
        }
    }
    return b->p;
}
