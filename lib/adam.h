// Adam on one flat float buffer (the model's params/grads layout, lib/fno.h),
// so an update is one loop and its state is two arrays of the same layout.
#ifndef EDDY_ADAM_H
#define EDDY_ADAM_H

#include <stddef.h>

#include "err.h"

typedef struct {
    double lr;             // base learning rate (1e-3)
    double beta1, beta2;   // 0.9, 0.999
    double eps;            // 1e-8
    double weight_decay;   // 0 = none
    int decoupled;         // 1: AdamW (p -= lr·wd·p); 0: L2 added to the gradient (torch Adam)
    long decay_every;      // step decay: lr·gamma^floor(t/decay_every) (0 = constant lr)
    double decay_gamma;    // 0.5
} adam_cfg;

typedef struct {
    adam_cfg cfg;
    size_t n;
    float *m, *v;          // (n) first and second moments
    long t;                // steps taken
} adam;

void adam_cfg_default(adam_cfg *c);
int adam_init(adam *a, const adam_cfg *c, size_t n, eddy_err *e);
void adam_free(adam *a);
// Learning rate that the next step will use.
double adam_lr(const adam *a);
// One update of p (n) with gradient g (n); t advances by one.  Bias-corrected
// as torch.optim.Adam: m̂ = m/(1−β1^t), v̂ = v/(1−β2^t), p −= lr·m̂/(√v̂ + eps).
void adam_step(adam *a, float *p, const float *g);

#endif
