#include "closure_coarse.h"

#include <stdlib.h>
#include <string.h>

#include "ns2d.h"

int coarse_term_parse(const char *name, coarse_term_kind *k)
{
    if (!strcmp(name, "G")) return *k = COARSE_G, 0;
    if (!strcmp(name, "H")) return *k = COARSE_H, 0;
    return -1;
}

int coarse_term(const float *V, int T, int N, double L, double nu, coarse_term_kind k, float *out,
                eddy_err *e)
{
    ns2d_params p;
    ns2d_params_default(&p);
    p.n = N, p.L = L, p.nu = nu;
    p.mu = 0, p.beta = 0, p.forcing = NS2D_FORCE_NONE, p.cfl_max = 0;
    ns2d *s = ns2d_create(&p, e);
    if (!s) return -1;
    size_t hw = (size_t)N * N;
    double *w = malloc(hw * sizeof *w), *g = malloc(hw * sizeof *g);
    if (!w || !g) {
        free(w), free(g), ns2d_free(s);
        return eddy_fail(e, "out of memory");
    }
    for (int t = 0; t < T; t++) {
        const float *vt = V + t * hw;
        for (size_t i = 0; i < hw; i++) w[i] = vt[i];
        ns2d_set_omega(s, w);
        ns2d_closure_terms(s, k == COARSE_G ? g : NULL, k == COARSE_H ? g : NULL);
        for (size_t i = 0; i < hw; i++) out[t * hw + i] = (float)g[i];
    }
    free(w), free(g);
    ns2d_free(s);
    return 0;
}
