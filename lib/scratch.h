// Grow-on-demand scratch buffers.  One unit everywhere: a capacity counts
// ELEMENTS of the buffer (floats, doubles, ...), never batch items, so a call
// with the same batch on a larger grid still grows the buffer (a capacity kept
// in batch items once let a preconditioned score write past its scratch).
#ifndef EDDY_SCRATCH_H
#define EDDY_SCRATCH_H

#include <stddef.h>

#include "err.h"

// Makes *p (a pointer to any object pointer, e.g. float **) hold at least n
// elements of size bytes each; *cap is its capacity in elements and is only
// raised.  Contents are kept (realloc).  Returns 0, or -1 when out of memory
// (then *p and *cap are unchanged).
int scratch_grow(void *p, size_t *cap, size_t n, size_t size);

// A network's activation workspace: 64-byte aligned floats for the GEMM
// kernels, whose contents are lost when it grows (activations are rewritten
// by every forward pass, so nothing is copied).
typedef struct {
    float *p;
    size_t cap;   // floats
} scratch_f32;

// Makes b hold at least n floats (n = 0 counts as 1); returns b->p, or NULL
// with "who: out of memory (... MB of activations)" in e.
float *scratch_f32_ensure(scratch_f32 *b, size_t n, const char *who, eddy_err *e);

#endif
