// What every model kind shares: a checkpoint (lib/checkpoint.h) holding the
// network's tensors, the Adam state when saved during training, and a header
// whose attribute `kind` names the model kind and whose other attributes
// (prefixed per kind: closure.*, pdd.*) are written and read by that kind's
// own code only — tools never write or parse a model header.
//
// The two kinds and their interface (same shape for both):
//                  closure score model (lib/closure_score.h)   PDD predictor (lib/pdd_net.h)
//   load           cs_model_load                                pdd_net_load
//   save           model_save on a model_ref                    pdd_net_save
//   header ->      cs_header_make                               pdd_net_to_header
//   header <-      cs_header_check                              pdd_net_from_header
//   units          cs_units_to_net / cs_units_from_net          pdd_net_standardise / _unstandardise
//   entry          cs_score (a lib/vesde.h score)               pdd_net_predictor, pdd_net_score
//   objective      cs_objective_grad                            pdd_objective_grad  (lib/train.h)
#ifndef EDDY_MODEL_H
#define EDDY_MODEL_H

#include "adam.h"
#include "err.h"
#include "fno.h"
#include "tsr.h"
#include "unet.h"

// An FNO with its header, as lib/train.h's save hook sees it.
typedef struct {
    fno *m;
    const tsr_record *hdr;
} model_ref;

// ckpt_save of r->m with r->hdr's attributes (ctx is a model_ref).
int model_save(void *ctx, const char *path, const adam *opt, eddy_err *e);

// Loads an FNO checkpoint whose header has kind `kind` (what: the model kind
// in words, for the message).  opt non-NULL: the Adam state is required and
// loaded (a resumed run).  hdr receives every header attribute.  Messages
// start with the path.
int model_load(const char *path, const char *kind, const char *what, fno *m, adam *opt,
               tsr_record *hdr, eddy_err *e);

// The name of a checkpoint's first record, the network it holds ("fno",
// "unet"; formats/checkpoint.md), into name (len bytes).
int model_network(const char *path, char *name, size_t len, eddy_err *e);

// The same for a U-Net (lib/unet.h): its records with the Adam state as the
// FNO checkpoint stores it (attributes adam.* on the header, records adam.m
// and adam.v after the tensors).
typedef struct {
    unet *m;
    const tsr_record *hdr;
} model_unet_ref;
int model_save_unet(void *ctx, const char *path, const adam *opt, eddy_err *e);
int model_load_unet(const char *path, const char *kind, const char *what, unet *m, adam *opt,
                    tsr_record *hdr, eddy_err *e);

#endif
