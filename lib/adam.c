#include "adam.h"

#include <math.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
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

typedef struct {
    float b1, b2, c1, c2, lrf, eps, wdc, wdd;
} adam_k;

static inline float adam_one(float *p, float g, float *m, float *v, adam_k k)
{
    float pi = *p - k.wdd * *p;
    float gi = g + k.wdc * pi;
    float mi = k.b1 * *m + (1.0f - k.b1) * gi;
    float vi = k.b2 * *v + (1.0f - k.b2) * gi * gi;
    *m = mi;
    *v = vi;
    return pi - k.lrf * (mi * k.c1) / (sqrtf(vi * k.c2) + k.eps);
}

// One chunk of the update.  Weight decay enters as branch-free factors:
// coupled adds wd·p to the gradient, decoupled shrinks p by lr·wd first
// (both exact no-ops at wd = 0).  gcc will not vectorise sqrtf while it may
// set errno, so with AVX-512 the same operations, in the same order and
// without contraction (-std=c11 keeps fp-contract off in the scalar code),
// run 16 at a time: the bits match the scalar path.
static void adam_chunk(float *restrict p, const float *restrict g, float *restrict m,
                       float *restrict v, size_t n, adam_k k)
{
    size_t i = 0;
#ifdef __AVX512F__
    const __m512 b1 = _mm512_set1_ps(k.b1), b2 = _mm512_set1_ps(k.b2);
    const __m512 ob1 = _mm512_set1_ps(1.0f - k.b1), ob2 = _mm512_set1_ps(1.0f - k.b2);
    const __m512 c1 = _mm512_set1_ps(k.c1), c2 = _mm512_set1_ps(k.c2), lr = _mm512_set1_ps(k.lrf);
    const __m512 eps = _mm512_set1_ps(k.eps), wdc = _mm512_set1_ps(k.wdc), wdd = _mm512_set1_ps(k.wdd);
    for (; i + 16 <= n; i += 16) {
        __m512 p0 = _mm512_loadu_ps(p + i);
        __m512 pi = _mm512_sub_ps(p0, _mm512_mul_ps(wdd, p0));
        __m512 gi = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(wdc, pi));
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(ob1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                  _mm512_mul_ps(_mm512_mul_ps(ob2, gi), gi));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, c2)), eps);
        __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, _mm512_mul_ps(mi, c1)), den);
        _mm512_storeu_ps(p + i, _mm512_sub_ps(pi, step));
    }
#endif
    for (; i < n; i++) p[i] = adam_one(p + i, g[i], m + i, v + i, k);
}

void adam_step(adam *a, float *p, const float *g)
{
    double lr = adam_lr(a);
    a->t++;
    adam_k k;
    k.b1 = (float)a->cfg.beta1;
    k.b2 = (float)a->cfg.beta2;
    k.c1 = (float)(1.0 / (1.0 - pow(a->cfg.beta1, (double)a->t)));
    k.c2 = (float)(1.0 / (1.0 - pow(a->cfg.beta2, (double)a->t)));
    k.lrf = (float)lr;
    k.eps = (float)a->cfg.eps;
    float wd = (float)a->cfg.weight_decay;
    k.wdc = a->cfg.decoupled ? 0.0f : wd;
    k.wdd = a->cfg.decoupled ? k.lrf * wd : 0.0f;
    enum { CH = 16384 };
    size_t n = a->n, nc = (n + CH - 1) / CH;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < nc; c++) {
        size_t o = c * CH, len = n - o < CH ? n - o : CH;
        adam_chunk(p + o, g + o, a->m + o, a->v + o, len, k);
    }
}
