// How a record's axes map onto batch, time, channels and space, read from
// its `dims` attribute (e.g. "t,y,x", "t,c,x", "y,x", "n,t,c,x") so that the
// diagnostics (rg-coarsen, spectrum, relerr, tsr-png) agree on it.
//
// Axis names: x and y are spatial and must be the trailing axes ("...,x" or
// "...,y,x", so every field is contiguous); t (or time, frame) is time;
// c (or ch, channel) is channels; any other name is a batch axis (samples,
// members).  Without a dims attribute the rank decides: 1 → x, 2 → y,x,
// 3 → t,y,x, 4 → t,c,y,x.  The domain length comes from the `L` attribute
// (the same for every spatial axis), else 2π, the seeds' domain.
#ifndef EDDY_LAYOUT_H
#define EDDY_LAYOUT_H

#include <stddef.h>

#include "err.h"
#include "tsr.h"

typedef struct {
    int rank;
    uint64_t shape[TSR_MAX_RANK];
    char axis[TSR_MAX_RANK];      // 'x', 'y', 't', 'c' or 'b' (batch)
    size_t stride[TSR_MAX_RANK];  // in elements, C order
    int nspace;                   // 1 or 2
    int ny, nx;                   // ny = 1 in 1-D
    size_t D;                     // points per field: ny·nx
    int t_axis, c_axis;           // −1 when absent
    size_t T, C;                  // their sizes (1 when absent)
    size_t npaths;                // product of the batch axes
    size_t nfields;               // numel / D
    // Fields per frame for frame-wise work: C when c is directly before the
    // spatial axes, else 1 (then every field is its own frame).
    size_t frame_chan;
    double L;
    char dims[128];               // the dims string in effect
} layout;

// dims_override (may be NULL) wins over the record's attribute.
int layout_of(const tsr_record *r, const char *dims_override, layout *l, eddy_err *e);

// Copies path p (0..npaths), channel c (0..C) as a (T, ny, nx) double array.
void layout_gather(const layout *l, const tsr_record *r, size_t p, size_t c,
                   double *out /* (T, ny, nx) */);
// Element offset of (path p, time t, channel c, point 0).
size_t layout_offset(const layout *l, size_t p, size_t t, size_t c);

// Checks a real float record (f4 or f8) and that it holds no NaN or Inf; the
// message names the first bad element.
int field_check(const tsr_record *r, eddy_err *e);
// Reads element i of an f4 or f8 record as double.
static inline double field_get(const tsr_record *r, size_t i)
{
    return r->dtype == TSR_F4 ? (double)((const float *)r->data)[i] : ((const double *)r->data)[i];
}

#endif
