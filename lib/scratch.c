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
