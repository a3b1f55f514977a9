// FNO timing on the configurations of the PyTorch peer bench/fno.sh runs (FNO_PEER): (a) 64²,
// in 3, out 1, width 32, modes 12, 4 layers, batch 16; (b) 40², in 6, out 1,
// width 64, modes 16, 6 layers, batch 40.  Same architecture as the peer:
// lifting Linear in→width, L Fourier layers, projection width→128→out, GELU;
// no grid channels (the peer has none), no conditioning.
//
//   bench_fno CONFIG THREADS REPS [PART]     (PART: train_step, inference_fwd or input_grad)
//
// Prints, per timed part, `RESULT fno cfg=X threads=T part S s GFLOPS G` with
// the median of REPS runs after 2 warm-ups (and the median CPU time), and the peak
// resident memory.
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "adam.h"
#include "fno.h"
#include "rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    fno m;
    adam opt;
    int B, n, cin;
    float *x, *y, *out, *dout, *din;
} bench;

static void die(const char *msg)
{
    fprintf(stderr, "bench_fno: %s\n", msg);
    exit(1);
}

static void part_train(bench *b)
{
    eddy_err e;
    const float *in[1] = {b->x};
    if (fno_forward(&b->m, in, NULL, b->B, b->n, b->n, b->out, &e)) die(e.msg);
    size_t N = (size_t)b->B * b->n * b->n;
    for (size_t i = 0; i < N; i++) b->dout[i] = 2.0f * (b->out[i] - b->y[i]) / (float)N;
    fno_zero_grad(&b->m);
    if (fno_backward(&b->m, b->dout, NULL, FNO_GRAD_PARAMS, &e)) die(e.msg);
    adam_step(&b->opt, b->m.params, b->m.grads);
}

static void part_forward(bench *b)
{
    eddy_err e;
    const float *in[1] = {b->x};
    if (fno_forward(&b->m, in, NULL, b->B, b->n, b->n, b->out, &e)) die(e.msg);
}

static void part_inputgrad(bench *b)
{
    eddy_err e;
    const float *in[1] = {b->x};
    if (fno_forward(&b->m, in, NULL, b->B, b->n, b->n, b->out, &e)) die(e.msg);
    size_t N = (size_t)b->B * b->n * b->n;
    for (size_t i = 0; i < N; i++) b->dout[i] = 2.0f * (b->out[i] - b->y[i]) / (float)N;
    float *din[1] = {b->din};
    if (fno_backward(&b->m, b->dout, din, FNO_GRAD_INPUT, &e)) die(e.msg);
}

// Median wall time of reps runs after 2 warm-ups; *best the fastest, *cpu the
// median process CPU time (all threads), which other processes on the machine
// disturb less than the wall clock.
static double timeit(void (*fn)(bench *), bench *b, int reps, double *best, double *cpu)
{
    double *t = malloc(sizeof(double) * reps), *c = malloc(sizeof(double) * reps);
    for (int i = 0; i < 2; i++) fn(b);
    for (int i = 0; i < reps; i++) {
        double t0 = now(), c0 = cpu_now();
        fn(b);
        t[i] = now() - t0;
        c[i] = cpu_now() - c0;
    }
    qsort(t, reps, sizeof *t, cmpd);
    qsort(c, reps, sizeof *c, cmpd);
    double med = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    *cpu = reps % 2 ? c[reps / 2] : 0.5 * (c[reps / 2 - 1] + c[reps / 2]);
    *best = t[0];
    free(t);
    free(c);
    return med;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) die("usage: bench_fno a|b THREADS REPS [PART]");
    char cfgname = argv[1][0];
    int threads = atoi(argv[2]), reps = atoi(argv[3]);
    if ((cfgname != 'a' && cfgname != 'b') || threads < 1 || reps < 1) die("bad arguments");
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    int grid = 64, cin = 3, width = 32, modes = 12, layers = 4, B = 16;
    if (cfgname == 'b') { grid = 40; cin = 6; width = 64; modes = 16; layers = 6; B = 40; }
    fno_config c;
    fno_config_default(&c);
    fno_branch_cfg *br = &c.branch[0];
    br->in = cin; br->width = width; br->layers = layers;
    br->modes[0] = br->modes[1] = modes;
    br->nproj = 1; br->proj[0] = 128; br->out = 1; br->grid = 0;
    bench b;
    memset(&b, 0, sizeof b);
    eddy_err e;
    if (fno_create(&b.m, &c, 0, &e)) die(e.msg);
    adam_cfg ac;
    adam_cfg_default(&ac);
    if (adam_init(&b.opt, &ac, b.m.nparams, &e)) die(e.msg);
    b.B = B; b.n = grid; b.cin = cin;
    size_t N = (size_t)B * grid * grid;
    b.x = malloc(N * cin * 4); b.din = malloc(N * cin * 4);
    b.y = malloc(N * 4); b.out = malloc(N * 4); b.dout = malloc(N * 4);
    eddy_rng r;
    rng_init(&r, 0, 0, 0, 0);
    rng_normal_fill_f(&r, b.x, N * cin);
    rng_normal_fill_f(&r, b.y, N);
    double fw = fno_forward_flops(&c, B, grid, grid);
    struct { const char *name; void (*fn)(bench *); double flops; } parts[] = {
        {"train_step", part_train, 3 * fw},      // forward + input grads + weight grads
        {"inference_fwd", part_forward, fw},
        {"input_grad", part_inputgrad, 2 * fw},
    };
    printf("# eddy fno cfg=%c: grid %d, in %d, width %d, modes %d, layers %d, batch %d, %zu real params\n",
           cfgname, grid, cin, width, modes, layers, B, b.m.nparams);
    for (int p = 0; p < 3; p++) {
        if (argc == 5 && strcmp(argv[4], parts[p].name)) continue;   // one part, for profiling
        double best, cpu, med = timeit(parts[p].fn, &b, reps, &best, &cpu);
        printf("RESULT fno cfg=%c threads=%d %s %.4f s (best %.4f) %.1f GFLOP/s %.1f samples/s cpu %.4f s\n",
               cfgname, threads, parts[p].name, med, best, parts[p].flops / med * 1e-9, B / med, cpu);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT fno cfg=%c threads=%d maxrss %.1f MB\n", cfgname, threads, ru.ru_maxrss / 1024.0);
    adam_free(&b.opt);
    fno_free(&b.m);
    free(b.x); free(b.din); free(b.y); free(b.out); free(b.dout);
    return 0;
}
