// FNO checkpoints as tensor streams (formats/checkpoint.md): a header record
// "fno" carrying the architecture (and any caller attributes: normalisation
// constants, σ₀, ...), one record per tensor named by its place in the model,
// and optionally the Adam state.  Written atomically (temporary file renamed).
#ifndef EDDY_CHECKPOINT_H
#define EDDY_CHECKPOINT_H

#include "adam.h"
#include "err.h"
#include "fno.h"
#include "tsr.h"

// Writes m (and opt when non-NULL) to path.  Attributes of extra (may be NULL)
// are copied onto the header record; keys starting with "fno." and "adam."
// are reserved.
int ckpt_save(const char *path, const fno *m, const adam *opt, const tsr_record *extra,
              eddy_err *e);
// Loads a checkpoint: creates *m from the stored architecture and weights.
// When opt is non-NULL and the file has Adam state, *opt is initialised from
// it (configuration, moments, step) so a resumed run continues exactly;
// *has_opt (may be NULL) says whether it had.  When extra is non-NULL it
// receives the header record (all attributes, caller ones included).
int ckpt_load(const char *path, fno *m, adam *opt, int *has_opt, tsr_record *extra,
              eddy_err *e);
// The same on open streams (stdin, stdout): ckpt_read consumes the stream to its
// end record; ckpt_write writes the records only, the caller finishes the writer.
int ckpt_read(tsr_reader *r, fno *m, adam *opt, int *has_opt, tsr_record *extra, eddy_err *e);
int ckpt_write(tsr_writer *w, const fno *m, const adam *opt, const tsr_record *extra,
               eddy_err *e);

// The Adam state as another network's checkpoint stores it (lib/model.h):
// the adam.* attributes onto a header record (nonzero when out of memory),
// the records adam.m and adam.v (nparams floats each), and the attributes
// parsed back (*has 0 when the header has none).
int ckpt_adam_attrs(tsr_record *r, const adam *opt);
int ckpt_adam_write(tsr_writer *w, const adam *opt, size_t nparams, eddy_err *e);
int ckpt_adam_parse(const tsr_record *r, adam_cfg *a, long *t, int *has, eddy_err *e);

#endif
