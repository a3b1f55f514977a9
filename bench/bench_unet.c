// U-Net (lib/unet.h) timing and the C side of the PyTorch agreement test.
//
//   bench_unet time PRESET THREADS REPS BATCH
//       PRESET l96 (128 points, in 10, out 2) or kf (40², in 5, out 1).  Times a
//       training step (forward, backward of the mean squared error with every
//       parameter gradient, Adam step), the inference forward, and the input
//       gradient (forward, backward with UNET_GRAD_INPUT only).  Prints
//       `RESULT unet cfg=P threads=T PART S s (best S) G GFLOP/s cpu S s`, the
//       median of REPS runs after 2 warm-ups.
//   bench_unet ref DIR DIMS
//       Writes a small U-Net of DIMS (1 or 2) dimensions with perturbed
//       parameters to DIR/model.tsr (lib/unet.h records), and DIR/data.tsr with
//       records x (B, H, W, in), cond (B), r (B, H, W, out), y = unet(x, cond)
//       and dx = ∂(Σ r·y)/∂x, for bench/unet_torch.py --check.
//   bench_unet ref-preset DIR PRESET BATCH
//       The same with the full preset architecture (fresh parameters).
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adam.h"
#include "rng.h"
#include "tsr.h"
#include "unet.h"

static double now(int cpu)
{
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const eddy_err *e)
{
    fprintf(stderr, "bench_unet: %s%s%s\n", what, e ? ": " : "", e ? e->msg : "");
    exit(1);
}

static float *rnd(size_t n, uint64_t key, double amp)
{
    float *x = malloc(n * sizeof *x);
    if (!x) die("out of memory", NULL);
    eddy_rng r;
    rng_init(&r, 2026, key, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)(amp * (2 * rng_uniform(&r) - 1));
    return x;
}

static int preset_of(const char *s, unet_config *c, int *H, int *W)
{
    eddy_err e;
    if (!strcmp(s, "l96")) {
        unet_config_preset(c, UNET_PRESET_L96, &e);
        *H = 1, *W = 128;
    } else if (!strcmp(s, "kf")) {
        unet_config_preset(c, UNET_PRESET_KF, &e);
        *H = 40, *W = 40;
    } else {
        return -1;
    }
    return 0;
}

static int put(tsr_writer *w, const char *name, int rank, const uint64_t *sh, const float *d,
               eddy_err *e)
{
    tsr_record r;
    tsr_record_init(&r);
    int rc = tsr_record_alloc(&r, name, TSR_F4, rank, sh, e);
    if (!rc) {
        size_t n = 1;
        for (int i = 0; i < rank; i++) n *= sh[i];
        memcpy(r.data, d, n * sizeof(float));
        rc = tsr_write(w, &r, e);
    }
    tsr_record_free(&r);
    return rc;
}

static int ref(const char *dir, const unet_config *c, int B, int H, int W, int perturb)
{
    eddy_err e;
    unet m;
    if (unet_create(&m, c, 11, &e)) die("create", &e);
    if (perturb) {   // GroupNorm affine and biases away from 1 and 0, as after training
        eddy_rng r;
        rng_init(&r, 5, 0, 0, 0);
        for (size_t i = 0; i < m.nparams; i++) m.params[i] += (float)(0.2 * (2 * rng_uniform(&r) - 1));
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.tsr", dir);
    if (unet_save(path, &m, NULL, &e)) die("save", &e);
    size_t ni = (size_t)B * H * W * c->in, no = (size_t)B * H * W * c->out;
    float *x = rnd(ni, 1, 1), *r = rnd(no, 2, 1), *y = malloc(no * 4), *dx = malloc(ni * 4);
    float *cond = malloc(B * sizeof *cond);
    for (int b = 0; b < B; b++) cond[b] = (float)(1000.0 * (b + 0.5) / B);
    if (unet_forward(&m, B, H, W, x, cond, y, &e) ||
        unet_backward(&m, r, dx, UNET_GRAD_INPUT, &e))
        die("forward/backward", &e);
    snprintf(path, sizeof path, "%s/data.tsr", dir);
    tsr_writer *w = tsr_writer_open_path(path, NULL, &e);
    if (!w) die("open", &e);
    uint64_t si[4] = {B, H, W, c->in}, so[4] = {B, H, W, c->out}, sb[1] = {B};
    if (put(w, "x", 4, si, x, &e) || put(w, "cond", 1, sb, cond, &e) || put(w, "r", 4, so, r, &e) ||
        put(w, "y", 4, so, y, &e) || put(w, "dx", 4, si, dx, &e) || tsr_writer_finish(w, &e))
        die("write", &e);
    free(x), free(r), free(y), free(dx), free(cond);
    unet_free(&m);
    return 0;
}

enum { TRAIN, FWD, IGRAD, NPART };
static const char *part_name[NPART] = {"train_step", "inference_fwd", "input_grad"};

static int timing(const char *pname, int threads, int reps, int B)
{
    unet_config c;
    int H, W;
    eddy_err e;
    if (preset_of(pname, &c, &H, &W)) die("unknown preset (l96 or kf)", NULL);
    omp_set_num_threads(threads);
    unet m;
    if (unet_create(&m, &c, 1, &e)) die("create", &e);
    adam opt;
    adam_cfg ac;
    adam_cfg_default(&ac);
    ac.lr = 2e-4;
    if (adam_init(&opt, &ac, m.nparams, &e)) die("adam", &e);
    size_t ni = (size_t)B * H * W * c.in, no = (size_t)B * H * W * c.out;
    float *x = rnd(ni, 1, 1), *tgt = rnd(no, 2, 1), *y = malloc(no * 4), *dy = malloc(no * 4);
    float *dx = malloc(ni * 4), *cond = malloc(B * sizeof *cond);
    for (int b = 0; b < B; b++) cond[b] = (float)(1000.0 * (b + 0.5) / B);
    double flops = unet_forward_flops(&c, B, H, W);
    for (int p = 0; p < NPART; p++) {
        double *t = malloc((reps + 2) * sizeof *t), *tc = malloc((reps + 2) * sizeof *tc);
        for (int k = 0; k < reps + 2; k++) {
            double t0 = now(0), c0 = now(1);
            if (unet_forward(&m, B, H, W, x, cond, y, &e)) die("forward", &e);
            if (p == TRAIN) {
                for (size_t i = 0; i < no; i++) dy[i] = 2.0f * (y[i] - tgt[i]) / (float)no;
                unet_zero_grad(&m);
                if (unet_backward(&m, dy, NULL, UNET_GRAD_PARAMS, &e)) die("backward", &e);
                adam_step(&opt, m.params, m.grads);
            } else if (p == IGRAD) {
                if (unet_backward(&m, tgt, dx, UNET_GRAD_INPUT, &e)) die("backward", &e);
            }
            t[k] = now(0) - t0;
            tc[k] = now(1) - c0;
        }
        qsort(t + 2, reps, sizeof *t, cmpd);
        qsort(tc + 2, reps, sizeof *tc, cmpd);
        // a training step ≈ 3 forwards (the input- and weight-gradient GEMMs), an input
        // gradient ≈ 2 (no weight-gradient GEMMs)
        double med = t[2 + reps / 2], mult = p == TRAIN ? 3 : p == IGRAD ? 2 : 1;
        printf("RESULT unet cfg=%s threads=%d %s %.4f s (best %.4f) %.1f GFLOP/s cpu %.4f s\n", pname,
               threads, part_name[p], med, t[2], mult * flops / med * 1e-9, tc[2 + reps / 2]);
        free(t), free(tc);
    }
    printf("# unet %s: %zu parameters, batch %d, %.2f GFLOP per forward\n", pname, m.nparams, B, flops * 1e-9);
    free(x), free(tgt), free(y), free(dy), free(dx), free(cond);
    adam_free(&opt);
    unet_free(&m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "time"))
        return timing(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (argc == 4 && !strcmp(argv[1], "ref")) {
        unet_config c;
        memset(&c, 0, sizeof c);
        int dims = atoi(argv[3]);
        c.dims = dims, c.in = 3, c.out = 2, c.base = 8, c.levels = 2, c.ch[0] = 16, c.ch[1] = 24;
        c.nres = 2, c.groups = 4, c.heads = 2, c.emb_size = 8, c.emb_period = 1000, c.emb_hidden = 12;
        return ref(argv[2], &c, 3, dims == 2 ? 8 : 1, dims == 2 ? 12 : 32, 1);
    }
    if (argc == 5 && !strcmp(argv[1], "ref-preset")) {
        unet_config c;
        int H, W;
        if (preset_of(argv[3], &c, &H, &W)) die("unknown preset (l96 or kf)", NULL);
        return ref(argv[2], &c, atoi(argv[4]), H, W, 0);
    }
    fprintf(stderr, "usage: bench_unet time l96|kf THREADS REPS BATCH\n"
                    "       bench_unet ref DIR 1|2\n"
                    "       bench_unet ref-preset DIR l96|kf BATCH\n");
    return 2;
}
