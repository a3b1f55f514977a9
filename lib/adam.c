#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void adam_cfg_default(adam_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-8;
    c->decay_gamma = 0.5;
}

int adam_init(adam *a, const adam_cfg *c, size_t n, eddy_err *e)
{
    memset(a, 0, sizeof *a);
    if (!(c->lr >= 0) || !(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1) ||
        !(c->eps > 0) || !(c->weight_decay >= 0) || c->decay_every < 0 || !(c->decay_gamma > 0))
        return eddy_fail(e, "adam: bad settings (lr %g, betas %g %g, eps %g, wd %g, decay %ld×%g)",
                         c->lr, c->beta1, c->beta2, c->eps, c->weight_decay, c->decay_every,
                         c->decay_gamma);
    a->cfg = *c;
    a->n = n;
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) {
        adam_free(a);
        return eddy_fail(e, "adam: out of memory for %zu moments", n);
    }
    return 0;
}

void adam_free(adam *a)
{
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

double adam_lr(const adam *a)
{
    if (a->cfg.decay_every <= 0) return a->cfg.lr;
    return a->cfg.lr * pow(a->cfg.decay_gamma, (double)(a->t / a->cfg.decay_every));
}

void adam_step(adam *a, float *p, const float *g)
{
    double lr = adam_lr(a);
    a->t++;
    const float b1 = (float)a->cfg.beta1, b2 = (float)a->cfg.beta2;
    const float c1 = (float)(1.0 / (1.0 - pow(a->cfg.beta1, (double)a->t)));
    const float c2 = (float)(1.0 / (1.0 - pow(a->cfg.beta2, (double)a->t)));
    const float lrf = (float)lr, eps = (float)a->cfg.eps, wd = (float)a->cfg.weight_decay;
    const int decoupled = a->cfg.decoupled;
    float *m = a->m, *v = a->v;
    size_t n = a->n;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (wd != 0.0f) {
            if (decoupled) p[i] -= lrf * wd * p[i];
            else gi += wd * p[i];
        }
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= lrf * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
    }
}
