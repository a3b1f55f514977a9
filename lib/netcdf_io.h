// Tensor stream records ↔ NetCDF-4 files (libnetcdf), for tsr2nc and nc2tsr.
//
// Mapping (README "From Python and NetCDF" shows it in use):
// - records of one name form one variable; its dimensions are named by the
//   record's `dims` attribute (else <var>_dim<i>), and a dimension name used
//   by two variables must have one length (else: a dimension-name clash);
// - several records of one name must agree in dtype and shape: they share a
//   leading unlimited dimension "record" (or record_<var> when several
//   names repeat), one index per record;
// - attributes become text attributes of the variable, in order (units,
//   long_name, history, ... as CF readers expect); when the records of one
//   variable disagree in attributes, each record's full attribute text is
//   kept in the string variable <var>__tsr_attrs(record) so the round trip
//   is exact; the global attribute tsr_order lists the variable of every
//   record, in stream order, and the global history the converter's line;
// - CF's long_name is added for the fields the tools name (attribute field:
//   omega, G, H, coarse-term, closure) when a record has none; the global
//   attribute tsr_added lists such additions (var:key) for nc2tsr to drop;
// - dtypes: i1 u1 i2 u2 i4 u4 i8 u8 f4 f8 are NetCDF's byte ubyte short
//   ushort int uint int64 uint64 float double; c8 and c16 a compound type
//   {r, i} of two floats or doubles (h5py's convention).
// Reading a file made elsewhere: every numeric variable becomes a record
// (global attributes are added to each record that lacks them, `dims`
// from the dimension names, numeric attributes as text); a variable of a
// type with no stream dtype (char, string, vlen, opaque, enum, other
// compounds) is an error naming it.
#ifndef EDDY_NETCDF_IO_H
#define EDDY_NETCDF_IO_H

#include <stddef.h>

#include "err.h"
#include "tsr.h"

// Writes recs[0..n) to a NetCDF-4 file at path (through a temporary file
// renamed when complete: nothing is left on error).  history_line (may be
// NULL) becomes the global history attribute.
int ncio_write(const char *path, const tsr_record *recs, size_t n, const char *history_line, eddy_err *e);

// Reads every variable of a NetCDF file as records (*recs, *n: allocated,
// free with ncio_free).  The global history's lines are appended to each
// record's history.
int ncio_read(const char *path, tsr_record **recs, size_t *n, eddy_err *e);
void ncio_free(tsr_record *recs, size_t n);

#endif
