#include "fno.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rng.h"
#include "scratch.h"

// ---------------------------------------------------------------- workspace

typedef scratch_f32 buf;

static float *ensure(buf *b, size_t n, eddy_err *e) { return scratch_f32_ensure(b, n, "fno", e); }

typedef struct {
    int n;                          // linear layers
    int w[FNO_MAX_MLP + 2];         // widths w[0] → … → w[n]
    int tw[FNO_MAX_MLP + 1], tb[FNO_MAX_MLP + 1];   // tensor indices
    buf a[FNO_MAX_MLP + 1];         // a[i]: input of layer i (i ≥ 1)
    buf p[FNO_MAX_MLP + 1];         // p[i]: pre-activation of layer i (i < n−1)
    const float *in0;               // input of layer 0 at the last forward
    int ld0;
} mlp_t;

typedef struct {
    int cin;                        // channels into the lifting MLP (data + grid)
    mlp_t lift, proj;
    int has_proj;
    int tspec[FNO_MAX_LAYERS], tpw[FNO_MAX_LAYERS], tpwb[FNO_MAX_LAYERS];
    int tcw[FNO_MAX_LAYERS], tcb[FNO_MAX_LAYERS];
    buf in0;                        // (B·HW, cin) data + grid channels
    buf x[FNO_MAX_LAYERS + 1];      // x[l]: input of Fourier layer l; x[L] unused (alias)
    buf xk[FNO_MAX_LAYERS];         // kept input modes (B, nm, 2, width), nn_spec_forward
    buf u[FNO_MAX_LAYERS];          // spectral + pointwise (pre-conditioning)
    buf z[FNO_MAX_LAYERS];          // after conditioning (pre-activation), when cond
    buf ss[FNO_MAX_LAYERS];         // (B, width or 2·width) conditioning
    float *xout;                    // (B·HW, width) the last layer's output
} branch_t;

struct fno_work {
    branch_t br[FNO_MAX_BRANCH];
    mlp_t fuse;
    int temb_w, temb_b, tfreq;      // embedding tensors (tfreq −1 unless gaussian)
    buf e, hpre, h, dh, dhpre;      // (B, E), (B, eh) ×4
    buf cat, dcat;                  // (B·HW, Σ branch widths)
    buf spec, rbuf;                 // spectral scratch
    buf g[3];                       // gradient scratch (B·HW, max width)
    buf dss;
    int B, H, W;                    // shape of the last forward (B = 0: none)
    const float *in[FNO_MAX_BRANCH];
};

// ---------------------------------------------------------------- config

void fno_config_default(fno_config *c)
{
    memset(c, 0, sizeof *c);
    c->dims = 2;
    c->length[0] = c->length[1] = 2.0 * M_PI;
    c->act = FNO_GELU;
    c->nbranch = 1;
    fno_branch_cfg *b = &c->branch[0];
    b->in = 1;
    b->width = 32;
    b->layers = 4;
    b->modes[0] = b->modes[1] = 12;
    b->nproj = 1;
    b->proj[0] = 128;
    b->out = 1;
    b->grid = 1;
    c->out = 1;
    c->emb_size = 256;
    c->emb_scale = 30.0;
    c->emb_hidden = 256;
    c->emb_act = FNO_SILU;
}

int fno_out_channels(const fno_config *c)
{
    if (c->nbranch > 1) return c->out;
    return c->branch[0].out > 0 ? c->branch[0].out : c->branch[0].width;
}

static int branch_out(const fno_branch_cfg *b) { return b->out > 0 ? b->out : b->width; }

int fno_config_check(const fno_config *c, eddy_err *e)
{
    if (c->dims != 1 && c->dims != 2) return eddy_fail(e, "fno: dims must be 1 or 2, not %d", c->dims);
    if (c->act != FNO_GELU && c->act != FNO_SILU) return eddy_fail(e, "fno: unknown activation %d", c->act);
    if (c->nbranch < 1 || c->nbranch > FNO_MAX_BRANCH)
        return eddy_fail(e, "fno: number of branches %d not in 1..%d", c->nbranch, FNO_MAX_BRANCH);
    for (int d = 0; d < c->dims; d++)
        if (!(c->length[d] > 0) || !isfinite(c->length[d]))
            return eddy_fail(e, "fno: domain length must be positive");
    int anycond = 0;
    for (int k = 0; k < c->nbranch; k++) {
        const fno_branch_cfg *b = &c->branch[k];
        if (b->in < 1 || b->width < 1 || b->out < 0)
            return eddy_fail(e, "fno: branch %d: channels in %d, width %d, out %d must be positive",
                             k, b->in, b->width, b->out);
        if (b->layers < 1 || b->layers > FNO_MAX_LAYERS)
            return eddy_fail(e, "fno: branch %d: layers %d not in 1..%d", k, b->layers, FNO_MAX_LAYERS);
        if (b->modes[0] < 1 || (c->dims == 2 && b->modes[1] < 1))
            return eddy_fail(e, "fno: branch %d: modes must be positive", k);
        if (b->nlift < 0 || b->nlift > FNO_MAX_MLP || b->nproj < 0 || b->nproj > FNO_MAX_MLP)
            return eddy_fail(e, "fno: branch %d: at most %d hidden MLP layers", k, FNO_MAX_MLP);
        for (int i = 0; i < b->nlift; i++)
            if (b->lift[i] < 1) return eddy_fail(e, "fno: branch %d: lifting width must be positive", k);
        for (int i = 0; i < b->nproj; i++)
            if (b->proj[i] < 1) return eddy_fail(e, "fno: branch %d: projection width must be positive", k);
        if (b->out == 0 && b->nproj > 0)
            return eddy_fail(e, "fno: branch %d: projection hidden layers need out > 0", k);
        if (b->cond < 0 || b->cond > FNO_COND_FILM) return eddy_fail(e, "fno: branch %d: bad cond", k);
        if (b->cond) anycond = 1;
    }
    if (c->nbranch > 1) {
        if (c->out < 1) return eddy_fail(e, "fno: a multi-branch model needs out ≥ 1");
        if (c->nfuse < 0 || c->nfuse > FNO_MAX_MLP) return eddy_fail(e, "fno: bad fusion depth");
        for (int i = 0; i < c->nfuse; i++)
            if (c->fuse[i] < 1) return eddy_fail(e, "fno: fusion width must be positive");
    }
    if (c->emb < FNO_EMB_NONE || c->emb > FNO_EMB_GAUSSIAN) return eddy_fail(e, "fno: bad embedding kind");
    if (anycond && c->emb == FNO_EMB_NONE)
        return eddy_fail(e, "fno: a branch is conditioned but no embedding is configured");
    if (c->emb != FNO_EMB_NONE) {
        if (c->emb_size < 2 || c->emb_size % 2) return eddy_fail(e, "fno: embedding size must be even and ≥ 2");
        if (c->emb_hidden < 1) return eddy_fail(e, "fno: embedding width must be positive");
        if (!(c->emb_scale > 0)) return eddy_fail(e, "fno: embedding scale must be positive");
        if (c->emb_act != FNO_GELU && c->emb_act != FNO_SILU) return eddy_fail(e, "fno: bad embedding activation");
    }
    return 0;
}

int fno_grid_ok(const fno_config *c, int H, int W, eddy_err *e)
{
    for (int k = 0; k < c->nbranch; k++) {
        nn_spec_dims d;
        const fno_branch_cfg *b = &c->branch[k];
        int my = c->dims == 2 ? b->modes[0] : 1, mx = c->dims == 2 ? b->modes[1] : b->modes[0];
        if (nn_spec_dims_set(&d, c->dims, H, W, my, mx, e)) return eddy_wrap(e, "branch %d", k);
    }
    return 0;
}

// ---------------------------------------------------------------- tensors

enum { INIT_LIN, INIT_SPEC, INIT_GAUSS };

typedef struct {
    int init, fan_in, cin, cout;
} init_info;

static int add_tensor(fno *m, init_info *ii, const char *name, int rank, const int *shape,
                      int is_complex, int trainable, init_info info, eddy_err *e)
{
    if (m->ntensors >= FNO_MAX_TENSORS) return eddy_fail(e, "fno: too many tensors");
    fno_tensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    if (strlen(name) >= sizeof t->name) return eddy_fail(e, "fno: tensor name too long: %s", name);
    strcpy(t->name, name);
    t->rank = rank;
    size_t n = is_complex ? 2 : 1;
    for (int i = 0; i < rank; i++) {
        t->shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    t->is_complex = is_complex;
    t->trainable = trainable;
    t->count = n;
    if (trainable) {
        t->offset = m->nparams;
        m->nparams += n;
    } else {
        t->offset = m->nfrozen;
        m->nfrozen += n;
    }
    ii[m->ntensors] = info;
    return m->ntensors++;
}

static int add_linear(fno *m, init_info *ii, const char *prefix, int cin, int cout, int *tw,
                      int *tb, eddy_err *e)
{
    char name[128];
    int sw[2] = {cout, cin}, sb[1] = {cout};
    init_info in = {INIT_LIN, cin, cin, cout};
    snprintf(name, sizeof name, "%s.w", prefix);
    if ((*tw = add_tensor(m, ii, name, 2, sw, 0, 1, in, e)) < 0) return -1;
    snprintf(name, sizeof name, "%s.b", prefix);
    if ((*tb = add_tensor(m, ii, name, 1, sb, 0, 1, in, e)) < 0) return -1;
    return 0;
}

static int add_mlp(fno *m, init_info *ii, mlp_t *p, const char *prefix, int cin,
                   const int *hidden, int nh, int cout, eddy_err *e)
{
    p->n = nh + 1;
    p->w[0] = cin;
    for (int i = 0; i < nh; i++) p->w[i + 1] = hidden[i];
    p->w[nh + 1] = cout;
    for (int i = 0; i < p->n; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        if (add_linear(m, ii, name, p->w[i], p->w[i + 1], &p->tw[i], &p->tb[i], e)) return -1;
    }
    return 0;
}

fno_tensor *fno_find(fno *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

static void spec_modes(const fno_config *c, const fno_branch_cfg *b, int *my, int *mx)
{
    *my = c->dims == 2 ? b->modes[0] : 1;
    *mx = c->dims == 2 ? b->modes[1] : b->modes[0];
}

int fno_create(fno *m, const fno_config *cfg, uint64_t seed, eddy_err *e)
{
    memset(m, 0, sizeof *m);
    if (fno_config_check(cfg, e)) return -1;
    m->cfg = *cfg;
    m->work = calloc(1, sizeof *m->work);
    init_info *ii = calloc(FNO_MAX_TENSORS, sizeof *ii);
    if (!m->work || !ii) {
        free(ii);
        fno_free(m);
        return eddy_fail(e, "fno: out of memory");
    }
    fno_work *w = m->work;
    const fno_config *c = &m->cfg;
    w->tfreq = w->temb_w = w->temb_b = -1;
    if (c->emb == FNO_EMB_GAUSSIAN) {
        int sh[1] = {c->emb_size / 2};
        w->tfreq = add_tensor(m, ii, "emb.freq", 1, sh, 0, 0, (init_info){INIT_GAUSS, 0, 0, 0}, e);
        if (w->tfreq < 0) goto fail;
    }
    if (c->emb != FNO_EMB_NONE &&
        add_linear(m, ii, "emb.lin", c->emb_size, c->emb_hidden, &w->temb_w, &w->temb_b, e))
        goto fail;
    for (int k = 0; k < c->nbranch; k++) {
        const fno_branch_cfg *b = &c->branch[k];
        branch_t *br = &w->br[k];
        char pre[96];
        br->cin = b->in + (b->grid ? c->dims : 0);
        snprintf(pre, sizeof pre, "b%d.lift", k);
        if (add_mlp(m, ii, &br->lift, pre, br->cin, b->lift, b->nlift, b->width, e)) goto fail;
        int my, mx;
        spec_modes(c, b, &my, &mx);
        for (int l = 0; l < b->layers; l++) {
            char name[128];
            int sh[4], r = 0;
            if (c->dims == 2) sh[r++] = 2 * my;
            sh[r++] = mx;
            sh[r++] = b->width;
            sh[r++] = b->width;
            snprintf(name, sizeof name, "b%d.layer%d.spec.w", k, l);
            br->tspec[l] = add_tensor(m, ii, name, r, sh, 1, 1,
                                      (init_info){INIT_SPEC, 0, b->width, b->width}, e);
            if (br->tspec[l] < 0) goto fail;
            snprintf(pre, sizeof pre, "b%d.layer%d.pw", k, l);
            if (add_linear(m, ii, pre, b->width, b->width, &br->tpw[l], &br->tpwb[l], e)) goto fail;
            br->tcw[l] = br->tcb[l] = -1;
            if (b->cond) {
                snprintf(pre, sizeof pre, "b%d.layer%d.cond", k, l);
                int co = b->cond == FNO_COND_FILM ? 2 * b->width : b->width;
                if (add_linear(m, ii, pre, c->emb_hidden, co, &br->tcw[l], &br->tcb[l], e)) goto fail;
            }
        }
        br->has_proj = b->out > 0;
        if (br->has_proj) {
            snprintf(pre, sizeof pre, "b%d.proj", k);
            if (add_mlp(m, ii, &br->proj, pre, b->width, b->proj, b->nproj, b->out, e)) goto fail;
        }
    }
    if (c->nbranch > 1) {
        int ctot = 0;
        for (int k = 0; k < c->nbranch; k++) ctot += branch_out(&c->branch[k]);
        if (add_mlp(m, ii, &w->fuse, "fuse", ctot, c->fuse, c->nfuse, c->out, e)) goto fail;
    }
    m->params = calloc(m->nparams ? m->nparams : 1, sizeof(float));
    m->grads = calloc(m->nparams ? m->nparams : 1, sizeof(float));
    m->frozen = calloc(m->nfrozen ? m->nfrozen : 1, sizeof(float));
    if (!m->params || !m->grads || !m->frozen) {
        eddy_fail(e, "fno: out of memory for %zu parameters", m->nparams);
        goto fail;
    }
    for (int i = 0; i < m->ntensors; i++) {
        fno_tensor *t = &m->tensors[i];
        t->data = (t->trainable ? m->params : m->frozen) + t->offset;
        t->grad = t->trainable ? m->grads + t->offset : NULL;
        eddy_rng r;
        rng_init(&r, seed, (uint64_t)i, 0, 0x1417);
        init_info in = ii[i];
        if (in.init == INIT_LIN) {
            double bound = 1.0 / sqrt((double)in.fan_in);
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = (float)((2.0 * rng_uniform(&r) - 1.0) * bound);
        } else if (in.init == INIT_SPEC) {
            double s = 1.0 / ((double)in.cin * in.cout);
            for (size_t j = 0; j < t->count; j++) t->data[j] = (float)(s * rng_uniform(&r));
        } else {
            for (size_t j = 0; j < t->count; j++)
                t->data[j] = (float)(c->emb_scale * rng_normal(&r));
        }
    }
    free(ii);
    return 0;
fail:
    free(ii);
    fno_free(m);
    return -1;
}

static void mlp_free(mlp_t *p)
{
    for (int i = 0; i <= FNO_MAX_MLP; i++) {
        free(p->a[i].p);
        free(p->p[i].p);
    }
}

void fno_free(fno *m)
{
    if (!m) return;
    fno_work *w = m->work;
    if (w) {
        for (int k = 0; k < FNO_MAX_BRANCH; k++) {
            branch_t *br = &w->br[k];
            mlp_free(&br->lift);
            mlp_free(&br->proj);
            free(br->in0.p);
            for (int l = 0; l <= FNO_MAX_LAYERS; l++) free(br->x[l].p);
            for (int l = 0; l < FNO_MAX_LAYERS; l++) {
                free(br->xk[l].p);
                free(br->u[l].p);
                free(br->z[l].p);
                free(br->ss[l].p);
            }
        }
        mlp_free(&w->fuse);
        buf *bs[] = {&w->e, &w->hpre, &w->h, &w->dh, &w->dhpre, &w->cat, &w->dcat,
                     &w->spec, &w->rbuf, &w->g[0], &w->g[1], &w->g[2], &w->dss};
        for (size_t i = 0; i < sizeof bs / sizeof *bs; i++) free(bs[i]->p);
        free(w);
    }
    free(m->params);
    free(m->grads);
    free(m->frozen);
    memset(m, 0, sizeof *m);
}

void fno_zero_grad(fno *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }

double fno_grad_norm(const fno *m)
{
    double s = 0;
    for (size_t i = 0; i < m->nparams; i++) s += (double)m->grads[i] * m->grads[i];
    return sqrt(s);
}

double fno_clip_grad(fno *m, double max_norm)
{
    double n = fno_grad_norm(m);
    if (n > max_norm && n > 0) {
        float s = (float)(max_norm / n);
        for (size_t i = 0; i < m->nparams; i++) m->grads[i] *= s;
    }
    return n;
}

// ---------------------------------------------------------------- MLP

static float *P(fno *m, int t) { return m->tensors[t].data; }
static float *G(fno *m, int t) { return m->tensors[t].grad; }

// out (N, w[n]) stride ldo = MLP(in (N, w[0]) stride ldi); in must stay alive
// until backward.
static int mlp_forward(fno *m, mlp_t *p, const float *in, int ldi, float *out, int ldo, size_t N,
                       int act, eddy_err *e)
{
    p->in0 = in;
    p->ld0 = ldi;
    const float *src = in;
    int lds = ldi;
    for (int i = 0; i < p->n; i++) {
        if (i == p->n - 1) {
            nn_linear_forward(out, ldo, src, lds, P(m, p->tw[i]), P(m, p->tb[i]), N, p->w[i],
                              p->w[i + 1], 0);
        } else {
            float *pre = ensure(&p->p[i], N * p->w[i + 1], e);
            float *a = ensure(&p->a[i + 1], N * p->w[i + 1], e);
            if (!pre || !a) return -1;
            nn_linear_act_forward(pre, a, src, lds, P(m, p->tw[i]), P(m, p->tb[i]), N, p->w[i],
                                  p->w[i + 1], 0, act);
            src = a;
            lds = p->w[i + 1];
        }
    }
    return 0;
}

// din (N, w[0]) stride lddi (may be NULL) += dMLP; parameter grads when wantp.
// Uses the work's g[0], g[1] as scratch (g[2] is left alone).
static int mlp_backward(fno *m, mlp_t *p, const float *dout, int lddo, float *din, int lddi,
                        size_t N, int act, int wantp, eddy_err *e)
{
    fno_work *w = m->work;
    const float *g = dout;
    int ldg = lddo;
    for (int i = p->n - 1; i >= 0; i--) {
        const float *src = i == 0 ? p->in0 : p->a[i].p;
        int lds = i == 0 ? p->ld0 : p->w[i];
        float *dw = wantp ? G(m, p->tw[i]) : NULL, *db = wantp ? G(m, p->tb[i]) : NULL;
        if (i == 0) {
            nn_linear_backward(din, lddi, dw, db, g, ldg, src, lds, P(m, p->tw[i]), N, p->w[i],
                               p->w[i + 1]);
        } else {
            // ping-pong between g[0] and g[1]: da into the one g is not in
            float *da = g == w->g[0].p ? w->g[1].p : w->g[0].p;
            memset(da, 0, N * p->w[i] * sizeof(float));
            nn_linear_backward(da, p->w[i], dw, db, g, ldg, src, lds, P(m, p->tw[i]), N, p->w[i],
                               p->w[i + 1]);
            float *dp = da == w->g[0].p ? w->g[1].p : w->g[0].p;
            nn_act_backward(dp, da, p->p[i - 1].p, N * p->w[i], act, 0);
            g = dp;
            ldg = p->w[i];
        }
    }
    (void)e;
    return 0;
}

// ---------------------------------------------------------------- forward

static int maxw_of(const fno_config *c, const fno_work *w)
{
    int mw = 1;
    for (int k = 0; k < c->nbranch; k++) {
        const branch_t *br = &w->br[k];
        const mlp_t *ms[2] = {&br->lift, &br->proj};
        for (int j = 0; j < 2; j++)
            for (int i = 0; i <= ms[j]->n; i++)
                if (ms[j]->w[i] > mw) mw = ms[j]->w[i];
        if (c->branch[k].width > mw) mw = c->branch[k].width;
    }
    if (c->nbranch > 1)
        for (int i = 0; i <= w->fuse.n; i++)
            if (w->fuse.w[i] > mw) mw = w->fuse.w[i];
    return mw;
}

static int branch_forward(fno *m, int k, const float *in, float *out, int ldo, eddy_err *e)
{
    fno_work *w = m->work;
    const fno_config *c = &m->cfg;
    const fno_branch_cfg *b = &c->branch[k];
    branch_t *br = &w->br[k];
    int B = w->B, H = w->H, W = w->W, C = b->width, L = b->layers;
    size_t HW = (size_t)H * W, N = (size_t)B * HW;
    const float *lin = in;
    if (b->grid) {
        float *g = ensure(&br->in0, N * br->cin, e);
        if (!g) return -1;
        double dy = c->length[0] / H, dx = c->length[c->dims == 2 ? 1 : 0] / W;
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < N; r++) {
            size_t p = r % HW;
            float *d = g + r * br->cin;
            memcpy(d, in + r * b->in, b->in * sizeof(float));
            if (c->dims == 2) {
                d[b->in] = (float)((double)(p / W) * dy);
                d[b->in + 1] = (float)((double)(p % W) * dx);
            } else {
                d[b->in] = (float)((double)p * dx);
            }
        }
        lin = g;
    }
    float *x0 = ensure(&br->x[0], N * C, e);
    if (!x0) return -1;
    if (mlp_forward(m, &br->lift, lin, br->cin, x0, C, N, c->act, e)) return -1;
    int my, mx;
    spec_modes(c, b, &my, &mx);
    nn_spec_dims d;
    if (nn_spec_dims_set(&d, c->dims, H, W, my, mx, e)) return eddy_wrap(e, "branch %d", k);
    if (!ensure(&w->spec, nn_spec_scratch_floats(&d, B, C), e)) return -1;
    for (int l = 0; l < L; l++) {
        float *x = br->x[l].p;
        float *xk = ensure(&br->xk[l], (size_t)d.nm * B * C * 2, e);
        float *u = ensure(&br->u[l], N * C, e);
        if (!xk || !u) return -1;
        // spectral part first (it writes u, with the bias), then the pointwise
        // GEMM accumulates: no separate zeroing or bias pass over u
        if (nn_spec_forward(u, 0, P(m, br->tpwb[l]), xk, x, P(m, br->tspec[l]), w->spec.p,
                            w->spec.cap, &d, B, C, C, e))
            return -1;
        if (!b->cond && l < L - 1) {   // the activation fused in: x_{l+1} = act(u)
            float *xn = ensure(&br->x[l + 1], N * C, e);
            if (!xn) return -1;
            nn_linear_act_forward(u, xn, x, C, P(m, br->tpw[l]), NULL, N, C, C, 1, c->act);
            continue;
        }
        nn_linear_forward(u, C, x, C, P(m, br->tpw[l]), NULL, N, C, C, 1);
        float *z = u;
        if (b->cond) {
            int co = b->cond == FNO_COND_FILM ? 2 * C : C;
            float *ss = ensure(&br->ss[l], (size_t)B * co, e);
            z = ensure(&br->z[l], N * C, e);
            if (!ss || !z) return -1;
            nn_linear_forward(ss, co, w->h.p, c->emb_hidden, P(m, br->tcw[l]), P(m, br->tcb[l]), B,
                              c->emb_hidden, co, 0);
            nn_film_forward(z, u, ss, B, HW, C, b->cond == FNO_COND_FILM);
        }
        if (l < L - 1) {
            float *xn = ensure(&br->x[l + 1], N * C, e);
            if (!xn) return -1;
            nn_act_forward(xn, z, N * C, c->act);
        } else {
            br->xout = z;
        }
    }
    if (br->has_proj) return mlp_forward(m, &br->proj, br->xout, C, out, ldo, N, c->act, e);
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < N; r++) memcpy(out + r * ldo, br->xout + r * C, C * sizeof(float));
    return 0;
}

int fno_forward(fno *m, const float *const *in, const float *cond, int B, int H, int W,
                float *out, eddy_err *e)
{
    fno_work *w = m->work;
    const fno_config *c = &m->cfg;
    if (B < 1) return eddy_fail(e, "fno: empty batch");
    if (c->dims == 1 && H != 1) return eddy_fail(e, "fno: a 1-D model needs H = 1, not %d", H);
    if (fno_grid_ok(c, H, W, e)) return -1;
    if (c->emb != FNO_EMB_NONE && !cond)
        return eddy_fail(e, "fno: the model is conditioned on a scalar but none was given");
    w->B = 0;   // invalid until this forward completes
    size_t N = (size_t)B * H * W;
    int mw = maxw_of(c, w);
    for (int i = 0; i < 3; i++)
        if (!ensure(&w->g[i], N * mw, e)) return -1;
    w->B = B;
    w->H = H;
    w->W = W;
    if (c->emb != FNO_EMB_NONE) {
        int E = c->emb_size, eh = c->emb_hidden;
        float *em = ensure(&w->e, (size_t)B * E, e), *hp = ensure(&w->hpre, (size_t)B * eh, e);
        float *h = ensure(&w->h, (size_t)B * eh, e);
        if (!em || !hp || !h || !ensure(&w->dh, (size_t)B * eh, e) ||
            !ensure(&w->dhpre, (size_t)B * eh, e))
            goto fail;
        nn_embed(em, cond, B, E, w->tfreq >= 0 ? P(m, w->tfreq) : NULL, c->emb_scale);
        nn_linear_forward(hp, eh, em, E, P(m, w->temb_w), P(m, w->temb_b), B, E, eh, 0);
        nn_act_forward(h, hp, (size_t)B * eh, c->emb_act);
    }
    if (c->nbranch == 1) {
        w->in[0] = in[0];
        if (branch_forward(m, 0, in[0], out, fno_out_channels(c), e)) goto fail;
        return 0;
    }
    int ctot = w->fuse.w[0], off = 0;
    float *cat = ensure(&w->cat, N * ctot, e);
    if (!cat || !ensure(&w->dcat, N * ctot, e)) goto fail;
    for (int k = 0; k < c->nbranch; k++) {
        w->in[k] = in[k];
        if (branch_forward(m, k, in[k], cat + off, ctot, e)) goto fail;
        off += branch_out(&c->branch[k]);
    }
    if (mlp_forward(m, &w->fuse, cat, ctot, out, c->out, N, c->act, e)) goto fail;
    return 0;
fail:
    w->B = 0;
    return -1;
}

// ---------------------------------------------------------------- backward

// dout (N, out) stride lddo → din (N, b->in) (overwritten, may be NULL).
static int branch_backward(fno *m, int k, const float *dout, int lddo, float *din, int flags,
                           eddy_err *e)
{
    fno_work *w = m->work;
    const fno_config *c = &m->cfg;
    const fno_branch_cfg *b = &c->branch[k];
    branch_t *br = &w->br[k];
    int B = w->B, H = w->H, W = w->W, C = b->width, L = b->layers;
    int wantp = flags & FNO_GRAD_PARAMS;
    size_t HW = (size_t)H * W, N = (size_t)B * HW;
    // gx: dLoss/d(last layer output), kept in g[2] so the MLP scratch g[0..1] is free
    float *gx = w->g[2].p;
    memset(gx, 0, N * C * sizeof(float));
    if (br->has_proj) {
        if (mlp_backward(m, &br->proj, dout, lddo, gx, C, N, c->act, wantp, e)) return -1;
    } else {
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < N; r++) memcpy(gx + r * C, dout + r * lddo, C * sizeof(float));
    }
    int my, mx;
    spec_modes(c, b, &my, &mx);
    nn_spec_dims d;
    if (nn_spec_dims_set(&d, c->dims, H, W, my, mx, e)) return -1;
    if (!ensure(&w->spec, nn_spec_scratch_floats(&d, B, C), e)) return -1;
    // three rotating buffers: cur (dL/dx_{l+1} or dL/dz), tmp, next
    float *bufs[3] = {w->g[2].p, w->g[0].p, w->g[1].p};
    int icur = 0;
    for (int l = L - 1; l >= 0; l--) {
        float *cur = bufs[icur], *t1 = bufs[(icur + 1) % 3], *t2 = bufs[(icur + 2) % 3];
        // live buffers: gz (dL/dz_l), gu (dL/du_l), then gxn (dL/dx_l); three suffice
        float *gz = cur;
        if (l < L - 1) {   // through the activation: x_{l+1} = act(z_l)
            nn_act_backward(t1, cur, b->cond ? br->z[l].p : br->u[l].p, N * C, c->act, 0);
            gz = t1;
        }
        float *gu = gz;
        if (b->cond) {
            int film = b->cond == FNO_COND_FILM, co = film ? 2 * C : C;
            float *dss = ensure(&w->dss, (size_t)B * co, e);
            if (!dss) return -1;
            memset(dss, 0, (size_t)B * co * sizeof(float));
            float *dst = gz == t1 ? t2 : t1;
            memset(dst, 0, N * C * sizeof(float));
            nn_film_backward(dst, dss, gz, br->u[l].p, br->ss[l].p, B, HW, C, film);
            gu = dst;
            nn_linear_backward(w->dh.p, c->emb_hidden, wantp ? G(m, br->tcw[l]) : NULL,
                               wantp ? G(m, br->tcb[l]) : NULL, dss, co, w->h.p, c->emb_hidden,
                               P(m, br->tcw[l]), B, c->emb_hidden, co);
        }
        // the one buffer that is neither gz nor gu receives dL/dx_l
        float *gxn = bufs[0] != gu && bufs[0] != gz ? bufs[0] : bufs[1] != gu && bufs[1] != gz ? bufs[1] : bufs[2];
        int need_dx = l > 0 || (flags & FNO_GRAD_INPUT) || wantp;
        // the spectral adjoint writes gxn (no zeroing pass), the pointwise adds on
        if (nn_spec_backward(need_dx ? gxn : NULL, 0, wantp ? G(m, br->tspec[l]) : NULL, gu,
                             br->xk[l].p, P(m, br->tspec[l]), w->spec.p, w->spec.cap, &d, B, C,
                             C, e))
            return -1;
        nn_linear_backward(need_dx ? gxn : NULL, C, wantp ? G(m, br->tpw[l]) : NULL,
                           wantp ? G(m, br->tpwb[l]) : NULL, gu, C, br->x[l].p, C,
                           P(m, br->tpw[l]), N, C, C);
        icur = gxn == bufs[0] ? 0 : gxn == bufs[1] ? 1 : 2;
    }
    // gradient w.r.t. the lifting output is in bufs[icur]; move it to g[2]
    // so the lifting MLP may use g[0], g[1] as scratch
    float *gl = bufs[icur];
    if (gl != w->g[2].p) {
        memcpy(w->g[2].p, gl, N * C * sizeof(float));
        gl = w->g[2].p;
    }
    float *dl = NULL;
    int lddl = 0;
    if (flags & FNO_GRAD_INPUT && din) {
        if (b->grid) {
            // in0 holds the saved lifting input; the spectral scratch is free now
            if (!(dl = ensure(&w->rbuf, N * br->cin, e))) return -1;
            memset(dl, 0, N * br->cin * sizeof(float));
            lddl = br->cin;
        } else {
            memset(din, 0, N * b->in * sizeof(float));
            dl = din;
            lddl = b->in;
        }
    }
    if (dl || wantp)
        if (mlp_backward(m, &br->lift, gl, C, dl, lddl, N, c->act, wantp, e)) return -1;
    if (dl && b->grid) {
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < N; r++) memcpy(din + r * b->in, dl + r * br->cin, b->in * sizeof(float));
    }
    return 0;
}

int fno_backward(fno *m, const float *dout, float *const *din, int flags, eddy_err *e)
{
    fno_work *w = m->work;
    const fno_config *c = &m->cfg;
    if (w->B == 0) return eddy_fail(e, "fno: backward without a completed forward");
    size_t N = (size_t)w->B * w->H * w->W;
    int wantp = flags & FNO_GRAD_PARAMS;
    if (c->emb != FNO_EMB_NONE) memset(w->dh.p, 0, (size_t)w->B * c->emb_hidden * sizeof(float));
    if (c->nbranch == 1) {
        if (branch_backward(m, 0, dout, fno_out_channels(c), din ? din[0] : NULL, flags, e)) return -1;
    } else {
        int ctot = w->fuse.w[0], off = 0;
        memset(w->dcat.p, 0, N * ctot * sizeof(float));
        if (mlp_backward(m, &w->fuse, dout, c->out, w->dcat.p, ctot, N, c->act, wantp, e)) return -1;
        for (int k = 0; k < c->nbranch; k++) {
            if (branch_backward(m, k, w->dcat.p + off, ctot, din ? din[k] : NULL, flags, e)) return -1;
            off += branch_out(&c->branch[k]);
        }
    }
    if (c->emb != FNO_EMB_NONE && wantp) {
        int eh = c->emb_hidden;
        nn_act_backward(w->dhpre.p, w->dh.p, w->hpre.p, (size_t)w->B * eh, c->emb_act, 0);
        nn_linear_backward(NULL, 0, G(m, w->temb_w), G(m, w->temb_b), w->dhpre.p, eh, w->e.p,
                           c->emb_size, P(m, w->temb_w), w->B, c->emb_size, eh);
    }
    return 0;
}

// ---------------------------------------------------------------- flops

double fno_forward_flops(const fno_config *c, int B, int H, int W)
{
    double N = (double)B * H * W, f = 0, HW = (double)H * W;
    double fft1 = 2.5 * HW * log2(HW > 1 ? HW : 2);
    int ctot = 0;
    for (int k = 0; k < c->nbranch; k++) {
        const fno_branch_cfg *b = &c->branch[k];
        int cin = b->in + (b->grid ? c->dims : 0), prev = cin;
        for (int i = 0; i < b->nlift; i++) { f += 2 * N * prev * b->lift[i]; prev = b->lift[i]; }
        f += 2 * N * prev * b->width;
        int my = c->dims == 2 ? b->modes[0] : 1, mx = c->dims == 2 ? b->modes[1] : b->modes[0];
        double nm = (c->dims == 2 ? 2.0 * my : 1.0) * mx;
        for (int l = 0; l < b->layers; l++)
            f += 2 * N * b->width * b->width + 8 * (double)B * nm * b->width * b->width +
                 2 * fft1 * B * b->width;
        prev = b->width;
        if (b->out > 0) {
            for (int i = 0; i < b->nproj; i++) { f += 2 * N * prev * b->proj[i]; prev = b->proj[i]; }
            f += 2 * N * prev * b->out;
        }
        ctot += branch_out(b);
    }
    if (c->nbranch > 1) {
        int prev = ctot;
        for (int i = 0; i < c->nfuse; i++) { f += 2 * N * prev * c->fuse[i]; prev = c->fuse[i]; }
        f += 2 * N * prev * c->out;
    }
    return f;
}
