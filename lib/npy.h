// NumPy .npy files (format versions 1.0, 2.0 and 3.0) to and from tensor
// stream records.  Writing reproduces numpy.save byte for byte (header layout,
// the 21-digit growth padding and 64-byte alignment), so a round trip through
// the stream gives back the very file numpy wrote.
#ifndef EDDY_NPY_H
#define EDDY_NPY_H

#include <stdio.h>

#include "err.h"
#include "tsr.h"

#define NPY_MAX_HEADER 65536   // bytes of the header dict we accept (numpy caps at 10000)

// Reads one array from f into rec (its data, dtype and shape; name and
// attributes untouched).  Big-endian data is byte-swapped and
// fortran_order=True data transposed into C order.  Returns 1 when an array
// was read, 0 at a clean end of file before any byte of a new array (so a file
// of several np.save calls reads in turn), -1 on error.  label names the
// input in messages.
int npy_read(FILE *f, const char *label, tsr_record *rec, eddy_err *e);

// Writes rec as one .npy array (C order, version 1.0 unless the header needs 2.0).
int npy_write(FILE *f, const tsr_record *rec, eddy_err *e);

// The header alone, for an array whose data the caller writes after it
// (stacking records).  A header for n0 in place of shape[0] has the same
// length for any n0 below 10^21, so it can be rewritten in place once the
// final count is known.
int npy_write_header(FILE *f, tsr_dtype t, int rank, const uint64_t *shape, eddy_err *e);

#endif
