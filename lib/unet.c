#include "unet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "fno.h"     // FNO_SILU, the activation code of lib/nn.h
#include "nn.h"
#include "rng.h"
#include "scratch.h"
#include "unet_layers.h"

// ---------------------------------------------------------------- workspace

typedef scratch_f32 buf;

static float *ensure(buf *b, size_t n, eddy_err *e) { return scratch_f32_ensure(b, n, "unet", e); }

typedef struct {
    int cin, cout, lev;
    int tg1, tb1, tc1w, tc1b, tfw, tfb, tg2, tb2, tc2w, tc2b, tsw, tsb;   // tsw −1: identity
    buf g1, a1, h1, g2, z, a2, ss, m1, r1, m2, r2;
    buf y, dy;
    const float *x;
} resblk;

typedef struct {
    int C;
    int tgg, tgb, tqw, tqb, tpw, tpb;
    buf g, qkv, o, p, mm, rr;
    buf y, dy;
    const float *x;
} attnblk;

typedef struct {
    int tw, tb, cin, cout, lev;   // lev: level of the input
    buf y, dy;
} convnode;

struct unet_work {
    int temb_w, temb_b;
    convnode stem, down[UNET_MAX_LEVELS + 1], up[UNET_MAX_LEVELS + 1];
    resblk enc[UNET_MAX_LEVELS + 1][UNET_MAX_RES], dec[UNET_MAX_LEVELS + 1][UNET_MAX_RES];
    resblk mid1, mid2;
    attnblk attn;
    buf cat[UNET_MAX_LEVELS + 1], dcat[UNET_MAX_LEVELS + 1];
    int tog, tob, tow, tobias;
    buf gno, ao, mo, ro;
    buf e, hpre, h, dh, dhpre;
    buf t1, t2, dss, scratch;
    int B, H, W;
    const float *in;
};

// ---------------------------------------------------------------- config

int unet_config_preset(unet_config *c, int preset, eddy_err *e)
{
    memset(c, 0, sizeof *c);
    c->base = 32;
    c->nres = 2;
    c->groups = 8;
    c->heads = 4;
    c->emb_size = 32;
    c->emb_period = 1000;
    c->emb_hidden = 128;
    if (preset == UNET_PRESET_L96) {
        static const int ch[] = {64, 128, 128, 192};
        c->dims = 1, c->in = 10, c->out = 2, c->levels = 4;
        memcpy(c->ch, ch, sizeof ch);
    } else if (preset == UNET_PRESET_KF) {
        static const int ch[] = {64, 128, 192};
        c->dims = 2, c->in = 5, c->out = 1, c->levels = 3;
        memcpy(c->ch, ch, sizeof ch);
    } else {
        return eddy_fail(e, "unet: unknown preset %d", preset);
    }
    return 0;
}

static int chan(const unet_config *c, int i) { return i == 0 ? c->base : c->ch[i - 1]; }

int unet_config_check(const unet_config *c, eddy_err *e)
{
    if (c->dims != 1 && c->dims != 2) return eddy_fail(e, "unet: dims must be 1 or 2, not %d", c->dims);
    if (c->in < 1 || c->out < 1 || c->base < 1)
        return eddy_fail(e, "unet: channels in %d, out %d, base %d must be positive", c->in, c->out, c->base);
    if (c->levels < 1 || c->levels > UNET_MAX_LEVELS)
        return eddy_fail(e, "unet: %d halvings not in 1..%d", c->levels, UNET_MAX_LEVELS);
    if (c->nres < 1 || c->nres > UNET_MAX_RES)
        return eddy_fail(e, "unet: %d residual blocks per level not in 1..%d", c->nres, UNET_MAX_RES);
    if (c->groups < 1) return eddy_fail(e, "unet: GroupNorm groups must be positive");
    for (int i = 0; i <= c->levels; i++) {
        if (chan(c, i) < 1) return eddy_fail(e, "unet: channels of level %d must be positive", i);
        if (chan(c, i) % c->groups)
            return eddy_fail(e, "unet: %d GroupNorm groups do not divide %d channels (level %d)",
                             c->groups, chan(c, i), i);
    }
    if (c->heads < 1 || chan(c, c->levels) % c->heads)
        return eddy_fail(e, "unet: %d heads do not divide %d bottleneck channels", c->heads, chan(c, c->levels));
    if (c->emb_size < 2 || c->emb_size % 2) return eddy_fail(e, "unet: embedding size must be even and ≥ 2");
    if (c->emb_hidden < 1) return eddy_fail(e, "unet: embedding width must be positive");
    if (!(c->emb_period > 0) || !isfinite(c->emb_period)) return eddy_fail(e, "unet: embedding period must be positive");
    return 0;
}

int unet_grid_ok(const unet_config *c, int H, int W, eddy_err *e)
{
    int f = 1 << c->levels;
    if (c->dims == 1 && H != 1) return eddy_fail(e, "unet: 1-D fields need H = 1 (got %d)", H);
    if (W < f || W % f || (c->dims == 2 && (H < f || H % f))) {
        if (c->dims == 2)
            return eddy_fail(e, "unet: a %dx%d grid is not divisible by 2^%d = %d along both axes "
                             "(%d halvings)", H, W, c->levels, f, c->levels);
        return eddy_fail(e, "unet: a grid of %d points is not divisible by 2^%d = %d (%d halvings)",
                         W, c->levels, f, c->levels);
    }
    return 0;
}

// ---------------------------------------------------------------- tensors

enum { INIT_U, INIT_ONE, INIT_ZERO };

typedef struct {
    int init, fan_in;
} init_info;

static int add_tensor(unet *m, init_info *ii, const char *name, int rank, const int *shape,
                      init_info info, eddy_err *e)
{
    if (m->ntensors >= UNET_MAX_TENSORS) return eddy_fail(e, "unet: too many tensors");
    unet_tensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->name) return eddy_fail(e, "unet: tensor name too long: %s", name);
    strcpy(t->name, name);
    t->rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        t->shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    t->count = n;
    t->offset = m->nparams;
    m->nparams += n;
    ii[m->ntensors] = info;
    return m->ntensors++;
}

// A conv (transposed = 0: (cout, [3,] 3, cin)) or transposed conv ((3, [3,] cout, cin)) and its bias.
static int add_conv(unet *m, init_info *ii, const char *pre, int cin, int cout, int transposed,
                    int *tw, int *tb, eddy_err *e)
{
    char nm[96];
    int sh[4], r = 0, taps = m->cfg.dims == 2 ? 9 : 3;
    if (!transposed) sh[r++] = cout;
    sh[r++] = 3;
    if (m->cfg.dims == 2) sh[r++] = 3;
    if (transposed) sh[r++] = cout;
    sh[r++] = cin;
    init_info u = {INIT_U, taps * cin};
    snprintf(nm, sizeof nm, "%s.w", pre);
    if ((*tw = add_tensor(m, ii, nm, r, sh, u, e)) < 0) return -1;
    snprintf(nm, sizeof nm, "%s.b", pre);
    if ((*tb = add_tensor(m, ii, nm, 1, &cout, u, e)) < 0) return -1;
    return 0;
}

static int add_linear(unet *m, init_info *ii, const char *pre, int cin, int cout, int *tw, int *tb,
                      eddy_err *e)
{
    char nm[96];
    int sh[2] = {cout, cin};
    init_info u = {INIT_U, cin};
    snprintf(nm, sizeof nm, "%s.w", pre);
    if ((*tw = add_tensor(m, ii, nm, 2, sh, u, e)) < 0) return -1;
    snprintf(nm, sizeof nm, "%s.b", pre);
    if ((*tb = add_tensor(m, ii, nm, 1, &cout, u, e)) < 0) return -1;
    return 0;
}

static int add_gn(unet *m, init_info *ii, const char *pre, int C, int *tg, int *tb, eddy_err *e)
{
    char nm[96];
    snprintf(nm, sizeof nm, "%s.g", pre);
    if ((*tg = add_tensor(m, ii, nm, 1, &C, (init_info){INIT_ONE, 0}, e)) < 0) return -1;
    snprintf(nm, sizeof nm, "%s.b", pre);
    if ((*tb = add_tensor(m, ii, nm, 1, &C, (init_info){INIT_ZERO, 0}, e)) < 0) return -1;
    return 0;
}

static int add_res(unet *m, init_info *ii, resblk *rb, const char *pre, int cin, int cout, int lev,
                   eddy_err *e)
{
    char nm[80];
    rb->cin = cin, rb->cout = cout, rb->lev = lev;
    rb->tsw = rb->tsb = -1;
#define SUB(s) (snprintf(nm, sizeof nm, "%s." s, pre), nm)
    if (add_gn(m, ii, SUB("gn1"), cin, &rb->tg1, &rb->tb1, e) ||
        add_conv(m, ii, SUB("conv1"), cin, cout, 0, &rb->tc1w, &rb->tc1b, e) ||
        add_linear(m, ii, SUB("film"), m->cfg.emb_hidden, 2 * cout, &rb->tfw, &rb->tfb, e) ||
        add_gn(m, ii, SUB("gn2"), cout, &rb->tg2, &rb->tb2, e) ||
        add_conv(m, ii, SUB("conv2"), cout, cout, 0, &rb->tc2w, &rb->tc2b, e))
        return -1;
    if (cin != cout && add_linear(m, ii, SUB("skip"), cin, cout, &rb->tsw, &rb->tsb, e)) return -1;
#undef SUB
    return 0;
}

int unet_create(unet *m, const unet_config *c, uint64_t seed, eddy_err *e)
{
    memset(m, 0, sizeof *m);
    if (unet_config_check(c, e)) return -1;
    m->cfg = *c;
    init_info *ii = calloc(UNET_MAX_TENSORS, sizeof *ii);
    m->work = calloc(1, sizeof *m->work);
    if (!ii || !m->work) {
        free(ii);
        free(m->work);
        m->work = NULL;
        return eddy_fail(e, "unet: out of memory");
    }
    unet_work *w = m->work;
    char nm[80];
    int L = c->levels;
    if (add_linear(m, ii, "emb.lin", c->emb_size, c->emb_hidden, &w->temb_w, &w->temb_b, e)) goto fail;
    w->stem = (convnode){.cin = c->in, .cout = c->base, .lev = 0};
    if (add_conv(m, ii, "stem", c->in, c->base, 0, &w->stem.tw, &w->stem.tb, e)) goto fail;
    for (int i = 0; i <= L; i++) {
        if (i > 0) {
            w->down[i] = (convnode){.cin = chan(c, i - 1), .cout = chan(c, i), .lev = i - 1};
            snprintf(nm, sizeof nm, "down%d", i);
            if (add_conv(m, ii, nm, chan(c, i - 1), chan(c, i), 0, &w->down[i].tw, &w->down[i].tb, e))
                goto fail;
        }
        for (int r = 0; r < c->nres; r++) {
            snprintf(nm, sizeof nm, "enc%d.%d", i, r);
            if (add_res(m, ii, &w->enc[i][r], nm, chan(c, i), chan(c, i), i, e)) goto fail;
        }
    }
    int C = chan(c, L);
    if (add_res(m, ii, &w->mid1, "mid.res1", C, C, L, e)) goto fail;
    w->attn.C = C;
    if (add_gn(m, ii, "mid.attn.gn", C, &w->attn.tgg, &w->attn.tgb, e) ||
        add_linear(m, ii, "mid.attn.qkv", C, 3 * C, &w->attn.tqw, &w->attn.tqb, e) ||
        add_linear(m, ii, "mid.attn.proj", C, C, &w->attn.tpw, &w->attn.tpb, e))
        goto fail;
    if (add_res(m, ii, &w->mid2, "mid.res2", C, C, L, e)) goto fail;
    for (int i = L; i >= 0; i--) {
        for (int r = 0; r < c->nres; r++) {
            snprintf(nm, sizeof nm, "dec%d.%d", i, r);
            if (add_res(m, ii, &w->dec[i][r], nm, r ? chan(c, i) : 2 * chan(c, i), chan(c, i), i, e))
                goto fail;
        }
        if (i > 0) {
            w->up[i] = (convnode){.cin = chan(c, i), .cout = chan(c, i - 1), .lev = i};
            snprintf(nm, sizeof nm, "up%d", i);
            if (add_conv(m, ii, nm, chan(c, i), chan(c, i - 1), 1, &w->up[i].tw, &w->up[i].tb, e))
                goto fail;
        }
    }
    if (add_gn(m, ii, "out.gn", c->base, &w->tog, &w->tob, e) ||
        add_conv(m, ii, "out.conv", c->base, c->out, 0, &w->tow, &w->tobias, e))
        goto fail;
    m->params = calloc(m->nparams, sizeof(float));
    m->grads = calloc(m->nparams, sizeof(float));
    if (!m->params || !m->grads) {
        eddy_fail(e, "unet: out of memory for %zu parameters", m->nparams);
        goto fail;
    }
    for (int i = 0; i < m->ntensors; i++) {
        unet_tensor *t = &m->tensors[i];
        t->data = m->params + t->offset;
        t->grad = m->grads + t->offset;
        eddy_rng r;
        rng_init(&r, seed, (uint64_t)i, 0, 0x0e7);
        if (ii[i].init == INIT_U) {
            double bound = 1.0 / sqrt((double)ii[i].fan_in);
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        } else if (ii[i].init == INIT_ONE) {
            for (size_t j = 0; j < t->count; j++) t->data[j] = 1.0f;
        }
    }
    free(ii);
    return 0;
fail:
    free(ii);
    unet_free(m);
    return -1;
}

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

static void res_free(resblk *r)
{
    buf *bs[] = {&r->g1, &r->a1, &r->h1, &r->g2, &r->z, &r->a2, &r->ss, &r->m1,
                 &r->r1, &r->m2, &r->r2, &r->y, &r->dy};
    for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) buf_free(bs[i]);
}

void unet_free(unet *m)
{
    unet_work *w = m->work;
    if (w) {
        for (int i = 0; i <= UNET_MAX_LEVELS; i++) {
            for (int r = 0; r < UNET_MAX_RES; r++) {
                res_free(&w->enc[i][r]);
                res_free(&w->dec[i][r]);
            }
            buf_free(&w->down[i].y), buf_free(&w->down[i].dy);
            buf_free(&w->up[i].y), buf_free(&w->up[i].dy);
            buf_free(&w->cat[i]), buf_free(&w->dcat[i]);
        }
        res_free(&w->mid1);
        res_free(&w->mid2);
        attnblk *a = &w->attn;
        buf *bs[] = {&a->g, &a->qkv, &a->o, &a->p, &a->mm, &a->rr, &a->y, &a->dy,
                     &w->stem.y, &w->stem.dy, &w->gno, &w->ao, &w->mo, &w->ro,
                     &w->e, &w->hpre, &w->h, &w->dh, &w->dhpre, &w->t1, &w->t2, &w->dss,
                     &w->scratch};
        for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) buf_free(bs[i]);
        free(w);
    }
    free(m->params);
    free(m->grads);
    memset(m, 0, sizeof *m);
}

unet_tensor *unet_find(unet *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

void unet_zero_grad(unet *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }

// ---------------------------------------------------------------- pieces

static float *P(unet *m, int t) { return m->tensors[t].data; }
static float *Gr(unet *m, int t, int wantp) { return wantp && t >= 0 ? m->tensors[t].grad : NULL; }

static int lev_h(const unet *m, int lev) { return m->cfg.dims == 2 ? m->work->H >> lev : 1; }
static int lev_w(const unet *m, int lev) { return m->work->W >> lev; }
static size_t lev_n(const unet *m, int lev) { return (size_t)lev_h(m, lev) * lev_w(m, lev); }

// A conv (or transposed conv, its input at level lev) through the shared scratch.
static int run_conv(unet *m, float *out, const float *in, int tw, int tb, int cin, int cout,
                    int lev, int stride, int transposed, eddy_err *e)
{
    unet_work *w = m->work;
    conv_dims d;
    if (conv_dims_set(&d, m->cfg.dims, w->B, lev_h(m, lev), lev_w(m, lev), cin, cout, stride,
                      transposed, e))
        return -1;
    size_t ns = conv_scratch_floats(&d);
    if (!ensure(&w->scratch, ns, e)) return -1;
    return conv_forward(out, 0, in, P(m, tw), P(m, tb), &d, w->scratch.p, w->scratch.cap, e);
}

static int run_conv_back(unet *m, float *din, const float *dout, const float *in, int tw, int tb,
                         int cin, int cout, int lev, int stride, int transposed, int wantp,
                         eddy_err *e)
{
    unet_work *w = m->work;
    conv_dims d;
    if (conv_dims_set(&d, m->cfg.dims, w->B, lev_h(m, lev), lev_w(m, lev), cin, cout, stride,
                      transposed, e))
        return -1;
    if (!ensure(&w->scratch, conv_scratch_floats(&d), e)) return -1;
    return conv_backward(din, Gr(m, tw, wantp), Gr(m, tb, wantp), dout, in, P(m, tw), &d,
                         w->scratch.p, w->scratch.cap, e);
}

static int res_forward(unet *m, resblk *rb, const float *x, eddy_err *e)
{
    unet_work *w = m->work;
    int B = w->B, G = m->cfg.groups, Eh = m->cfg.emb_hidden;
    size_t N = lev_n(m, rb->lev), ni = (size_t)B * N * rb->cin, no = (size_t)B * N * rb->cout;
    size_t ng = (size_t)B * G;
    rb->x = x;
    if (!ensure(&rb->g1, ni, e) || !ensure(&rb->a1, ni, e) || !ensure(&rb->h1, no, e) ||
        !ensure(&rb->g2, no, e) || !ensure(&rb->z, no, e) || !ensure(&rb->a2, no, e) ||
        !ensure(&rb->y, no, e) || !ensure(&rb->ss, (size_t)B * 2 * rb->cout, e) ||
        !ensure(&rb->m1, ng, e) || !ensure(&rb->r1, ng, e) || !ensure(&rb->m2, ng, e) ||
        !ensure(&rb->r2, ng, e))
        return -1;
    if (gn_forward(rb->g1.p, rb->m1.p, rb->r1.p, x, P(m, rb->tg1), P(m, rb->tb1), B, N, rb->cin, G, e))
        return -1;
    nn_act_forward(rb->a1.p, rb->g1.p, ni, FNO_SILU);
    if (run_conv(m, rb->h1.p, rb->a1.p, rb->tc1w, rb->tc1b, rb->cin, rb->cout, rb->lev, 1, 0, e))
        return -1;
    if (gn_forward(rb->g2.p, rb->m2.p, rb->r2.p, rb->h1.p, P(m, rb->tg2), P(m, rb->tb2), B, N,
                   rb->cout, G, e))
        return -1;
    nn_linear_forward(rb->ss.p, 2 * rb->cout, w->h.p, Eh, P(m, rb->tfw), P(m, rb->tfb), (size_t)B,
                      Eh, 2 * rb->cout, 0);
    nn_film_forward(rb->z.p, rb->g2.p, rb->ss.p, B, N, rb->cout, 1);
    nn_act_forward(rb->a2.p, rb->z.p, no, FNO_SILU);
    if (run_conv(m, rb->y.p, rb->a2.p, rb->tc2w, rb->tc2b, rb->cout, rb->cout, rb->lev, 1, 0, e))
        return -1;
    if (rb->tsw < 0) {
        for (size_t i = 0; i < no; i++) rb->y.p[i] += x[i];
    } else {
        nn_linear_forward(rb->y.p, rb->cout, x, rb->cin, P(m, rb->tsw), P(m, rb->tsb), (size_t)B * N,
                          rb->cin, rb->cout, 1);
    }
    return 0;
}

// dx += ∂/∂x given rb->dy; parameter gradients when wantp (then w->dh += ∂/∂h too).
static int res_backward(unet *m, resblk *rb, float *dx, int wantp, eddy_err *e)
{
    unet_work *w = m->work;
    int B = w->B, G = m->cfg.groups, Eh = m->cfg.emb_hidden, ci = rb->cin, co = rb->cout;
    size_t N = lev_n(m, rb->lev), ni = (size_t)B * N * ci, no = (size_t)B * N * co;
    const float *dy = rb->dy.p;
    float *t1 = w->t1.p, *t2 = w->t2.p;
    if (rb->tsw < 0) {
        for (size_t i = 0; i < no; i++) dx[i] += dy[i];
    } else {
        nn_linear_backward(dx, ci, Gr(m, rb->tsw, wantp), Gr(m, rb->tsb, wantp), dy, co, rb->x, ci,
                           P(m, rb->tsw), (size_t)B * N, ci, co);
    }
    memset(t1, 0, no * sizeof(float));
    if (run_conv_back(m, t1, dy, rb->a2.p, rb->tc2w, rb->tc2b, co, co, rb->lev, 1, 0, wantp, e))
        return -1;
    nn_act_backward(t2, t1, rb->z.p, no, FNO_SILU, 0);
    memset(t1, 0, no * sizeof(float));
    float *dss = w->dss.p;
    memset(dss, 0, (size_t)B * 2 * co * sizeof(float));
    nn_film_backward(t1, dss, t2, rb->g2.p, rb->ss.p, B, N, co, 1);
    if (wantp)
        nn_linear_backward(w->dh.p, Eh, Gr(m, rb->tfw, 1), Gr(m, rb->tfb, 1), dss, 2 * co, w->h.p,
                           Eh, P(m, rb->tfw), (size_t)B, Eh, 2 * co);
    memset(t2, 0, no * sizeof(float));
    if (gn_backward(t2, Gr(m, rb->tg2, wantp), Gr(m, rb->tb2, wantp), t1, rb->h1.p, rb->m2.p,
                    rb->r2.p, P(m, rb->tg2), B, N, co, G, e))
        return -1;
    memset(t1, 0, ni * sizeof(float));
    if (run_conv_back(m, t1, t2, rb->a1.p, rb->tc1w, rb->tc1b, ci, co, rb->lev, 1, 0, wantp, e))
        return -1;
    nn_act_backward(t2, t1, rb->g1.p, ni, FNO_SILU, 0);
    return gn_backward(dx, Gr(m, rb->tg1, wantp), Gr(m, rb->tb1, wantp), t2, rb->x, rb->m1.p,
                       rb->r1.p, P(m, rb->tg1), B, N, ci, G, e);
}

static int attn_fwd(unet *m, attnblk *a, const float *x, eddy_err *e)
{
    unet_work *w = m->work;
    int B = w->B, C = a->C, G = m->cfg.groups, H = m->cfg.heads, L = m->cfg.levels;
    size_t N = lev_n(m, L), n = (size_t)B * N * C;
    a->x = x;
    if (!ensure(&a->g, n, e) || !ensure(&a->qkv, 3 * n, e) || !ensure(&a->o, n, e) ||
        !ensure(&a->y, n, e) || !ensure(&a->p, (size_t)B * H * N * N, e) ||
        !ensure(&a->mm, (size_t)B * G, e) || !ensure(&a->rr, (size_t)B * G, e))
        return -1;
    if (gn_forward(a->g.p, a->mm.p, a->rr.p, x, P(m, a->tgg), P(m, a->tgb), B, N, C, G, e)) return -1;
    nn_linear_forward(a->qkv.p, 3 * C, a->g.p, C, P(m, a->tqw), P(m, a->tqb), (size_t)B * N, C, 3 * C, 0);
    if (attn_forward(a->o.p, a->p.p, a->qkv.p, B, (int)N, C, H, e)) return -1;
    memcpy(a->y.p, x, n * sizeof(float));
    nn_linear_forward(a->y.p, C, a->o.p, C, P(m, a->tpw), P(m, a->tpb), (size_t)B * N, C, C, 1);
    return 0;
}

static int attn_bwd(unet *m, attnblk *a, float *dx, int wantp, eddy_err *e)
{
    unet_work *w = m->work;
    int B = w->B, C = a->C, G = m->cfg.groups, H = m->cfg.heads, L = m->cfg.levels;
    size_t N = lev_n(m, L), n = (size_t)B * N * C;
    float *t1 = w->t1.p, *t2 = w->t2.p;
    const float *dy = a->dy.p;
    for (size_t i = 0; i < n; i++) dx[i] += dy[i];
    memset(t1, 0, n * sizeof(float));
    nn_linear_backward(t1, C, Gr(m, a->tpw, wantp), Gr(m, a->tpb, wantp), dy, C, a->o.p, C,
                       P(m, a->tpw), (size_t)B * N, C, C);
    memset(t2, 0, 3 * n * sizeof(float));
    size_t ns = attn_scratch_floats((int)N, C, H);
    if (!ensure(&w->scratch, ns, e)) return -1;
    if (attn_backward(t2, t1, a->p.p, a->qkv.p, B, (int)N, C, H, w->scratch.p, w->scratch.cap, e))
        return -1;
    memset(t1, 0, n * sizeof(float));
    nn_linear_backward(t1, C, Gr(m, a->tqw, wantp), Gr(m, a->tqb, wantp), t2, 3 * C, a->g.p, C,
                       P(m, a->tqw), (size_t)B * N, C, 3 * C);
    return gn_backward(dx, Gr(m, a->tgg, wantp), Gr(m, a->tgb, wantp), t1, a->x, a->mm.p, a->rr.p,
                       P(m, a->tgg), B, N, C, G, e);
}

// cat (B·N, ca + cb) = [a | b]
static void concat(float *cat, const float *a, int ca, const float *b, int cb, size_t rows)
{
    for (size_t r = 0; r < rows; r++) {
        memcpy(cat + r * (ca + cb), a + r * ca, ca * sizeof(float));
        memcpy(cat + r * (ca + cb) + ca, b + r * cb, cb * sizeof(float));
    }
}

static void unconcat_add(float *da, int ca, float *db, int cb, const float *dcat, size_t rows)
{
    for (size_t r = 0; r < rows; r++) {
        const float *s = dcat + r * (ca + cb);
        for (int c = 0; c < ca; c++) da[r * ca + c] += s[c];
        for (int c = 0; c < cb; c++) db[r * cb + c] += s[ca + c];
    }
}

// ---------------------------------------------------------------- forward

int unet_forward(unet *m, int B, int H, int W, const float *in, const float *cond, float *out,
                 eddy_err *e)
{
    const unet_config *c = &m->cfg;
    unet_work *w = m->work;
    if (B < 1) return eddy_fail(e, "unet: batch size %d", B);
    if (unet_grid_ok(c, H, W, e)) return -1;
    if (!in || !cond || !out) return eddy_fail(e, "unet: input, conditioning and output are required");
    w->B = 0;   // no valid forward until this one completes
    int L = c->levels, nr = c->nres, E = c->emb_size, Eh = c->emb_hidden;
    w->H = H, w->W = W;
    w->B = B;
    w->in = in;
    // temporaries: the widest (B·N, C) of any level (concat inputs, 3C qkv)
    size_t tmax = (size_t)B * lev_n(m, 0) * (c->in > 2 * c->base ? c->in : 2 * c->base);
    for (int i = 1; i <= L; i++) {
        size_t t = (size_t)B * lev_n(m, i) * 2 * chan(c, i);
        if (t > tmax) tmax = t;
    }
    size_t tq = (size_t)B * lev_n(m, L) * 3 * chan(c, L);
    if (tq > tmax) tmax = tq;
    int cmax = c->base;
    for (int i = 1; i <= L; i++) cmax = chan(c, i) > cmax ? chan(c, i) : cmax;
    if (!ensure(&w->t1, tmax, e) || !ensure(&w->t2, tmax, e) ||
        !ensure(&w->dss, (size_t)B * 2 * cmax, e) || !ensure(&w->e, (size_t)B * E, e) ||
        !ensure(&w->hpre, (size_t)B * Eh, e) || !ensure(&w->h, (size_t)B * Eh, e) ||
        !ensure(&w->dh, (size_t)B * Eh, e) || !ensure(&w->dhpre, (size_t)B * Eh, e))
        goto fail;
    // embedding
    nn_embed(w->e.p, cond, B, E, NULL, c->emb_period);
    nn_linear_forward(w->hpre.p, Eh, w->e.p, E, P(m, w->temb_w), P(m, w->temb_b), (size_t)B, E, Eh, 0);
    nn_act_forward(w->h.p, w->hpre.p, (size_t)B * Eh, FNO_SILU);
    // stem and encoder
    if (!ensure(&w->stem.y, (size_t)B * lev_n(m, 0) * c->base, e) ||
        run_conv(m, w->stem.y.p, in, w->stem.tw, w->stem.tb, c->in, c->base, 0, 1, 0, e))
        goto fail;
    const float *x = w->stem.y.p;
    for (int i = 0; i <= L; i++) {
        if (i > 0) {
            convnode *d = &w->down[i];
            if (!ensure(&d->y, (size_t)B * lev_n(m, i) * d->cout, e) ||
                run_conv(m, d->y.p, x, d->tw, d->tb, d->cin, d->cout, i - 1, 2, 0, e))
                goto fail;
            x = d->y.p;
        }
        for (int r = 0; r < nr; r++) {
            if (res_forward(m, &w->enc[i][r], x, e)) goto fail;
            x = w->enc[i][r].y.p;
        }
    }
    // bottleneck
    if (res_forward(m, &w->mid1, x, e) || attn_fwd(m, &w->attn, w->mid1.y.p, e) ||
        res_forward(m, &w->mid2, w->attn.y.p, e))
        goto fail;
    x = w->mid2.y.p;
    // decoder
    for (int i = L; i >= 0; i--) {
        int ci = chan(c, i);
        size_t rows = (size_t)B * lev_n(m, i);
        if (!ensure(&w->cat[i], rows * 2 * ci, e)) goto fail;
        concat(w->cat[i].p, x, ci, w->enc[i][nr - 1].y.p, ci, rows);
        x = w->cat[i].p;
        for (int r = 0; r < nr; r++) {
            if (res_forward(m, &w->dec[i][r], x, e)) goto fail;
            x = w->dec[i][r].y.p;
        }
        if (i > 0) {
            convnode *u = &w->up[i];
            if (!ensure(&u->y, (size_t)B * lev_n(m, i - 1) * u->cout, e) ||
                run_conv(m, u->y.p, x, u->tw, u->tb, u->cin, u->cout, i, 2, 1, e))
                goto fail;
            x = u->y.p;
        }
    }
    // head
    size_t n0 = (size_t)B * lev_n(m, 0) * c->base;
    if (!ensure(&w->gno, n0, e) || !ensure(&w->ao, n0, e) || !ensure(&w->mo, (size_t)B * c->groups, e) ||
        !ensure(&w->ro, (size_t)B * c->groups, e))
        goto fail;
    if (gn_forward(w->gno.p, w->mo.p, w->ro.p, x, P(m, w->tog), P(m, w->tob), B, lev_n(m, 0),
                   c->base, c->groups, e))
        goto fail;
    nn_act_forward(w->ao.p, w->gno.p, n0, FNO_SILU);
    if (run_conv(m, out, w->ao.p, w->tow, w->tobias, c->base, c->out, 0, 1, 0, e)) goto fail;
    return 0;
fail:
    w->B = 0;
    return -1;
}

// ---------------------------------------------------------------- backward

static float *zeroed(buf *b, size_t n, eddy_err *e)
{
    float *p = ensure(b, n, e);
    if (p) memset(p, 0, n * sizeof(float));
    return p;
}

int unet_backward(unet *m, const float *dout, float *din, int flags, eddy_err *e)
{
    const unet_config *c = &m->cfg;
    unet_work *w = m->work;
    if (w->B < 1) return eddy_fail(e, "unet: backward without a forward");
    int B = w->B, L = c->levels, nr = c->nres, E = c->emb_size, Eh = c->emb_hidden;
    int wantp = !!(flags & UNET_GRAD_PARAMS), wanti = (flags & UNET_GRAD_INPUT) && din;
    // zero every activation gradient
    for (int i = 0; i <= L; i++) {
        size_t rows = (size_t)B * lev_n(m, i);
        for (int r = 0; r < nr; r++) {
            if (!zeroed(&w->enc[i][r].dy, rows * w->enc[i][r].cout, e) ||
                !zeroed(&w->dec[i][r].dy, rows * w->dec[i][r].cout, e))
                return -1;
        }
        if (!zeroed(&w->dcat[i], rows * 2 * chan(c, i), e)) return -1;
        if (i > 0 && (!zeroed(&w->down[i].dy, rows * chan(c, i), e) ||
                      !zeroed(&w->up[i].dy, (size_t)B * lev_n(m, i - 1) * chan(c, i - 1), e)))
            return -1;
    }
    size_t nL = (size_t)B * lev_n(m, L) * chan(c, L), n0 = (size_t)B * lev_n(m, 0) * c->base;
    if (!zeroed(&w->mid1.dy, nL, e) || !zeroed(&w->mid2.dy, nL, e) || !zeroed(&w->attn.dy, nL, e) ||
        !zeroed(&w->stem.dy, n0, e) || !zeroed(&w->dh, (size_t)B * Eh, e))
        return -1;
    // head
    float *t1 = w->t1.p, *t2 = w->t2.p;
    memset(t1, 0, n0 * sizeof(float));
    if (run_conv_back(m, t1, dout, w->ao.p, w->tow, w->tobias, c->base, c->out, 0, 1, 0, wantp, e))
        return -1;
    nn_act_backward(t2, t1, w->gno.p, n0, FNO_SILU, 0);
    if (gn_backward(w->dec[0][nr - 1].dy.p, Gr(m, w->tog, wantp), Gr(m, w->tob, wantp), t2,
                    w->dec[0][nr - 1].y.p, w->mo.p, w->ro.p, P(m, w->tog), B, lev_n(m, 0), c->base,
                    c->groups, e))
        return -1;
    // decoder, finest level first
    for (int i = 0; i <= L; i++) {
        int ci = chan(c, i);
        if (i > 0) {
            convnode *u = &w->up[i];
            if (run_conv_back(m, w->dec[i][nr - 1].dy.p, u->dy.p, w->dec[i][nr - 1].y.p, u->tw, u->tb,
                              u->cin, u->cout, i, 2, 1, wantp, e))
                return -1;
        }
        for (int r = nr - 1; r >= 0; r--)
            if (res_backward(m, &w->dec[i][r], r ? w->dec[i][r - 1].dy.p : w->dcat[i].p, wantp, e))
                return -1;
        float *dprev = i == L ? w->mid2.dy.p : w->up[i + 1].dy.p;
        unconcat_add(dprev, ci, w->enc[i][nr - 1].dy.p, ci, w->dcat[i].p, (size_t)B * lev_n(m, i));
    }
    // bottleneck
    if (res_backward(m, &w->mid2, w->attn.dy.p, wantp, e) ||
        attn_bwd(m, &w->attn, w->mid1.dy.p, wantp, e) ||
        res_backward(m, &w->mid1, w->enc[L][nr - 1].dy.p, wantp, e))
        return -1;
    // encoder, coarsest level first
    for (int i = L; i >= 0; i--) {
        for (int r = nr - 1; r >= 0; r--) {
            float *dx = r ? w->enc[i][r - 1].dy.p : i ? w->down[i].dy.p : w->stem.dy.p;
            if (res_backward(m, &w->enc[i][r], dx, wantp, e)) return -1;
        }
        if (i > 0) {
            convnode *d = &w->down[i];
            const float *xin = w->enc[i - 1][nr - 1].y.p;
            if (run_conv_back(m, w->enc[i - 1][nr - 1].dy.p, d->dy.p, xin, d->tw, d->tb, d->cin,
                              d->cout, i - 1, 2, 0, wantp, e))
                return -1;
        }
    }
    // stem
    size_t nin = (size_t)B * lev_n(m, 0) * c->in;
    if (wanti) memset(din, 0, nin * sizeof(float));
    if ((wanti || wantp) &&
        run_conv_back(m, wanti ? din : NULL, w->stem.dy.p, w->in, w->stem.tw, w->stem.tb, c->in,
                      c->base, 0, 1, 0, wantp, e))
        return -1;
    // embedding
    if (wantp) {
        nn_act_backward(w->dhpre.p, w->dh.p, w->hpre.p, (size_t)B * Eh, FNO_SILU, 0);
        nn_linear_backward(NULL, 0, Gr(m, w->temb_w, 1), Gr(m, w->temb_b, 1), w->dhpre.p, Eh,
                           w->e.p, E, P(m, w->temb_w), (size_t)B, E, Eh);
    }
    return 0;
}

// ---------------------------------------------------------------- flops

double unet_forward_flops(const unet_config *c, int B, int H, int W)
{
    int taps = c->dims == 2 ? 9 : 3, L = c->levels;
    double f = 0;
#define NPTS(l) ((double)(c->dims == 2 ? (H >> (l)) : 1) * (W >> (l)) * B)
#define CONV(l, ci, co) (f += 2.0 * NPTS(l) * taps * (ci) * (co))
#define RES(l, ci, co) (CONV(l, ci, co), CONV(l, co, co), f += (ci) != (co) ? 2.0 * NPTS(l) * (ci) * (co) : 0)
    CONV(0, c->in, c->base);
    for (int i = 0; i <= L; i++) {
        if (i > 0) CONV(i, chan(c, i - 1), chan(c, i));   // counted on the output grid
        for (int r = 0; r < c->nres; r++) RES(i, chan(c, i), chan(c, i));
    }
    int C = chan(c, L);
    double N = NPTS(L) / B;
    RES(L, C, C);
    RES(L, C, C);
    f += 2.0 * NPTS(L) * C * 4 * C + 4.0 * B * N * N * C;
    for (int i = L; i >= 0; i--) {
        for (int r = 0; r < c->nres; r++) RES(i, r ? chan(c, i) : 2 * chan(c, i), chan(c, i));
        if (i > 0) CONV(i, chan(c, i), chan(c, i - 1));   // on the input grid
    }
    CONV(0, c->base, c->out);
#undef NPTS
#undef CONV
#undef RES
    return f;
}
