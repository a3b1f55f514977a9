// model-probe: the C network's output and input gradient for given inputs,
// for the PyTorch equivalence test (tests/cli/python.bats).  The one place
// where the tests reach the model API (lib/pdd_net.h, lib/closure_score.h).
//
//   model-probe MODEL IN.tsr OUT.tsr
// pdd-model: IN has records win (nb, C·W, S) <f8 with attribute lambda, and
//   gout (nb, C, S) <f8; OUT gets out = f(win, λ) and gwin = (∂f/∂win)ᵀ gout.
// closure-score: IN has x, V, Y (B, H, W) <f4 with attribute t on x, and
//   gout (B, H, W) <f4; OUT gets score and gx, gV, gY = (∂score/∂·)ᵀ gout.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "closure_score.h"
#include "pdd_net.h"
#include "vesde.h"

static _Noreturn void die(const char *msg)
{
    fprintf(stderr, "model-probe: error: %s\n", msg);
    exit(1);
}

static tsr_record *find(tsr_record *r, int n, const char *name)
{
    for (int i = 0; i < n; i++) if (!strcmp(r[i].name, name)) return &r[i];
    fprintf(stderr, "model-probe: error: no record '%s' in the input\n", name);
    exit(1);
}

static tsr_record out_like(const tsr_record *like, const char *name, const void *data)
{
    tsr_record o;
    eddy_err e;
    tsr_record_init(&o);
    if (tsr_record_alloc(&o, name, like->dtype, like->rank, like->shape, &e)) die(e.msg);
    memcpy(o.data, data, o.nbytes);
    return o;
}

int main(int argc, char **argv)
{
    if (argc != 4) die("usage: model-probe MODEL IN.tsr OUT.tsr");
    eddy_err e;
    FILE *f = fopen(argv[2], "rb");
    if (!f) die("cannot open the input");
    tsr_reader *rd = tsr_reader_open(f, argv[2], &e);
    if (!rd) die(e.msg);
    tsr_record in[8];
    int n = 0;
    for (;;) {
        tsr_record_init(&in[n]);
        int rc = tsr_read(rd, &in[n], &e);
        if (rc < 0) die(e.msg);
        if (rc == 0 || ++n == 8) break;
    }
    tsr_record hdr, outs[4];
    int nout = 0;
    tsr_record_init(&hdr);
    {
        // The header is the first record, whatever the network (FNO, U-Net).
        FILE *mf = fopen(argv[1], "rb");
        if (!mf) die("cannot open the model");
        tsr_reader *mr = tsr_reader_open(mf, argv[1], &e);
        if (!mr || tsr_read(mr, &hdr, &e) != 1) die(mr ? e.msg : "cannot read the model");
        tsr_reader_close(mr);
        fclose(mf);
    }
    const char *kind = tsr_attr_get(&hdr, "kind");
    if (kind && !strcmp(kind, PDD_KIND)) {
        pdd_net pn;
        tsr_record h2;
        if (pdd_net_load(argv[1], &pn, &h2, NULL, &e)) die(e.msg);
        tsr_record *win = find(in, n, "win"), *gout = find(in, n, "gout");
        double lam;
        if (tsr_attr_double(win, "lambda", &lam, &e)) die("win needs attribute lambda");
        int nb = (int)win->shape[0];
        pdd_predictor pr = pdd_net_predictor(&pn);
        double *o = malloc(gout->nbytes), *g = malloc(win->nbytes);
        if (pr.forward(pr.ctx, nb, win->data, lam, o, &e) || pr.input_grad(pr.ctx, nb, gout->data, g, &e)) die(e.msg);
        outs[nout++] = out_like(gout, "out", o);
        outs[nout++] = out_like(win, "gwin", g);
        free(o), free(g);
        tsr_record_free(&h2);
        pdd_net_free(&pn);
    } else if (kind && !strcmp(kind, CS_KIND)) {
        fno m;
        tsr_record h2;
        cs_info ci;
        if (cs_model_load(argv[1], &m, &h2, &ci, &e)) die(e.msg);
        tsr_record *x = find(in, n, "x"), *V = find(in, n, "V"), *Y = find(in, n, "Y"), *gout = find(in, n, "gout");
        double t;
        if (tsr_attr_double(x, "t", &t, &e)) die("x needs attribute t");
        int B = (int)x->shape[0], H = (int)x->shape[1], W = (int)x->shape[2];
        cs_ctx ctx = {.m = &m, .sigma0 = ci.sigma0, .H = H, .W = W, .sigma_data = ci.sigma_data,
                      .V = V->data, .Y = ci.with_obs ? Y->data : NULL};
        size_t N = (size_t)B * H * W;
        float *s = malloc(N * sizeof *s), *d[3], *dout = malloc(N * sizeof *dout);
        for (int k = 0; k < 3; k++) d[k] = calloc(N, sizeof(float));
        if (cs_score(&ctx, x->data, B, t, s, &e)) die(e.msg);
        // score = net(x·c_in, V, Y)/σ: the cotangent of the net's output is gout/σ,
        // and the gradient with respect to x carries the factor c_in.
        double sigma = vesde_std(ci.sigma0, t), c = cs_c_in(ci.sigma_data, sigma);
        for (size_t i = 0; i < N; i++) dout[i] = (float)(((const float *)gout->data)[i] / sigma);
        if (fno_backward(&m, dout, d, FNO_GRAD_INPUT, &e)) die(e.msg);
        for (size_t i = 0; i < N; i++) d[0][i] = (float)(d[0][i] * c);
        outs[nout++] = out_like(x, "score", s);
        outs[nout++] = out_like(x, "gx", d[0]);
        outs[nout++] = out_like(x, "gV", d[1]);
        if (ci.with_obs) outs[nout++] = out_like(x, "gY", d[2]);
        free(s), free(dout);
        for (int k = 0; k < 3; k++) free(d[k]);
        cs_ctx_free(&ctx);
        fno_free(&m);
        tsr_record_free(&h2);
    } else {
        die("not a pdd-model or closure-score checkpoint");
    }
    tsr_writer *w = tsr_writer_open_path(argv[3], NULL, &e);
    if (!w) die(e.msg);
    for (int i = 0; i < nout; i++) if (tsr_write(w, &outs[i], &e)) die(e.msg);
    if (tsr_writer_finish(w, &e)) die(e.msg);
    return 0;
}
