// l96-gen: samples of the two-scale Lorenz-96 system as (frames, 2, K·J)
// records, channels X (replicated J times) and Y on the K·J-point grid.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "l96.h"
#include "progress.h"
#include "tsr.h"

static struct {
    int K, J, frames, f64, quiet, threads;
    double h, F, b, c, dt, spinup, interval;
    const char *scheme, *output;
    long seed, first, count;
} o = {.K = 32, .J = 4, .frames = 64, .h = 1, .F = 10, .b = 10, .c = 10, .dt = 5e-4, .spinup = 30,
       .interval = 0.05, .scheme = "euler", .output = "-", .count = 1};

static const cli_opt opts[] = {
    {"K", 'K', OPT_INT, &o.K, "K", "number of slow variables X_k (>= 4)", -CLI_INF, 16777216},
    {"J", 'J', OPT_INT, &o.J, "J", "fast variables Y per X (>= 1)", -CLI_INF, 65536},
    {"h", 0, OPT_DOUBLE, &o.h, "H", "coupling h", -CLI_INF, CLI_INF},
    {"F", 'F', OPT_DOUBLE, &o.F, "F", "forcing F", -CLI_INF, CLI_INF},
    {"b", 0, OPT_DOUBLE, &o.b, "B", "spatial scale ratio b (non-zero)", -CLI_INF, CLI_INF},
    {"c", 0, OPT_DOUBLE, &o.c, "C", "time scale ratio c", -CLI_INF, CLI_INF},
    {"dt", 0, OPT_DOUBLE, &o.dt, "DT", "time step, model time units", -CLI_INF, CLI_INF},
    {"scheme", 0, OPT_STRING, &o.scheme, "S", "euler (forward Euler, the reference) or rk4"},
    {"spinup", 0, OPT_DOUBLE, &o.spinup, "T", "time discarded before the first frame (a multiple of dt)", 0, CLI_INF},
    {"frames", 0, OPT_INT, &o.frames, "N", "frames kept per sample", 1, 1073741824},
    {"interval", 0, OPT_DOUBLE, &o.interval, "T", "time between frames (a multiple of dt)", 0, CLI_INF},
    CLI_OPTS_SAMPLES(&o.seed, &o.first, &o.count),
    {"f64", 0, OPT_FLAG, &o.f64, NULL, "write float64 instead of float32"},
    CLI_OPT_OUTPUT(&o.output, "output stream (- is stdout)"),
    {"threads", 'j', OPT_INT, &o.threads, "N", "threads (samples run in parallel), 0 = OMP_NUM_THREADS or all cores"},
    {"quiet", 'q', OPT_FLAG, &o.quiet, NULL, "no progress on stderr"},
    CLI_OPT_END};

static const cli_spec spec = {
    "l96-gen", "[options]", "generate two-scale Lorenz-96 samples as a tensor stream",
    "The two-scale Lorenz-96 system of Yasuda & Bischoff, Predictor-Driven Diffusion:\n"
    "  dX_k/dt = −X_{k−1}(X_{k−2} − X_{k+1}) − X_k + F − (hc/b) Σ_j Y_{j,k}\n"
    "  dY_{j,k}/dt = −cb Y_{j+1,k}(Y_{j+2,k} − Y_{j−1,k}) − c Y_{j,k} + (hc/b) X_k\n"
    "Y lives on K·J points (index k·J + j, wrapping across blocks); X_k is replicated J times so\n"
    "both channels share that grid on [0, 2π).  The initial state is U(0,1) per X_k and per Y\n"
    "point, drawn from the streams of (seed, sample index) alone, so --first/--count shards\n"
    "reproduce one large run.  One record 'u' per sample, shape (frames, 2, K·J), dims=t,c,x,\n"
    "the first frame at t0 = spin-up time.  A non-finite state stops with an error naming the\n"
    "sample and the time.",
    "  l96-gen --count 100 -o l96.tsr\n"
    "  l96-gen --frames 8 --spinup 1 | tsr-info --stats",
    opts};

static l96_params prm;
static l96_scheme scheme;
static long spin_steps, frame_steps;
static long done_steps;
static progress pg;

static int run_steps(double *X, double *Y, double *work, long n, long *k, long sample, eddy_err *e)
{
    int M = prm.K * prm.J;
    for (long i = 0; i < n; i++) {
        l96_step(&prm, scheme, o.dt, X, Y, work);
        ++*k;
        if ((i & 1023) == 1023 || i == n - 1) {
            double s = 0;
            for (int q = 0; q < prm.K; q++) s += X[q];
            for (int q = 0; q < M; q++) s += Y[q];
            if (!isfinite(s))
                return eddy_fail(e, "sample %ld: blow-up by t=%.6g: the state is not finite (reduce dt)", sample,
                                 *k * o.dt);
            long d;
#pragma omp atomic capture
            d = done_steps += (i & 1023) + 1;
            if (omp_get_thread_num() == 0) progress_update(&pg, (double)d, NULL);
        }
    }
    return 0;
}

static int gen_sample(void *ctx, long sample, tsr_record *r, eddy_err *e)
{
    (void)ctx;
    int M = prm.K * prm.J, rc = -1;
    double *X = malloc(sizeof(double) * prm.K), *Y = malloc(sizeof(double) * M);
    double *work = malloc(sizeof(double) * l96_work_size(&prm)), *g = malloc(sizeof(double) * 2 * M);
    long k = 0;
    if (!X || !Y || !work || !g) {
        eddy_fail(e, "out of memory");
        goto done;
    }
    l96_init(&prm, (uint64_t)o.seed, (uint64_t)sample, X, Y);
    if (run_steps(X, Y, work, spin_steps, &k, sample, e)) goto done;
    for (int f = 0; f < o.frames; f++) {
        if (f && run_steps(X, Y, work, frame_steps, &k, sample, e)) goto done;
        l96_to_grid(&prm, X, Y, g);
        size_t off = (size_t)f * 2 * M;
        for (int q = 0; q < 2 * M; q++) {
            if (r->dtype == TSR_F8) ((double *)r->data)[off + q] = g[q];
            else ((float *)r->data)[off + q] = (float)g[q];
        }
    }
    rc = 0;
done:
    free(X); free(Y); free(work); free(g);
    return rc;
}

// One record 'u' per sample, (frames, 2, K·J).
static int head_sample(void *ctx, long sample, tsr_record *r, eddy_err *e)
{
    (void)ctx;
    int M = o.K * o.J;
    uint64_t shape[3] = {(uint64_t)o.frames, 2, (uint64_t)M};
    if (tsr_record_alloc(r, "u", o.f64 ? TSR_F8 : TSR_F4, 3, shape, e)) return -1;
    tsr_attr_set(r, "dims", "t,c,x");
    tsr_attr_set(r, "channels", "X,Y");
    tsr_attr_set_double(r, "L", 2 * M_PI);
    tsr_attr_setf(r, "K", "%d", o.K);
    tsr_attr_setf(r, "J", "%d", o.J);
    tsr_attr_set_double(r, "h", o.h);
    tsr_attr_set_double(r, "F", o.F);
    tsr_attr_set_double(r, "b", o.b);
    tsr_attr_set_double(r, "c", o.c);
    tsr_attr_set_double(r, "dt", o.dt);
    tsr_attr_set(r, "scheme", scheme == L96_EULER ? "euler" : "rk4");
    tsr_attr_set_double(r, "spinup", o.spinup);
    tsr_attr_set_double(r, "t0", spin_steps * o.dt);
    tsr_attr_set_double(r, "interval", frame_steps * o.dt);
    tsr_attr_setf(r, "seed", "%ld", o.seed);
    tsr_attr_setf(r, "sample", "%ld", sample);
    tsr_history_append(r, cli_cmdline());
    return 0;
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops) cli_die(EXIT_USAGE, "unexpected operand '%s' (l96-gen reads no input)", ops[0]);
    eddy_err e;
    prm = (l96_params){o.K, o.J, o.h, o.F, o.b, o.c, 1};
    if (l96_check(&prm, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    if (!strcmp(o.scheme, "euler")) scheme = L96_EULER;
    else if (!strcmp(o.scheme, "rk4")) scheme = L96_RK4;
    else cli_die(EXIT_USAGE, "unknown scheme '%s' (euler or rk4)", o.scheme);
    if (!(o.dt > 0) || !isfinite(o.dt)) cli_die(EXIT_USAGE, "option --dt: %g must be positive", o.dt);
    if (o.frames < 1) cli_die(EXIT_USAGE, "option --frames: %d must be at least 1", o.frames);
    if (o.first < 0) cli_die(EXIT_USAGE, "option --first: %ld must be >= 0", o.first);
    if (o.count < 1) cli_die(EXIT_USAGE, "option --count: %ld must be at least 1", o.count);
    spin_steps = cli_steps("spinup", o.spinup, o.dt, 1);
    frame_steps = o.frames > 1 ? cli_steps("interval", o.interval, o.dt, 0) : 0;
    int threads = cli_threads(o.threads);
    int par = threads < o.count ? threads : (int)o.count;
    tsr_writer *w = cli_writer(o.output, NULL);
    progress_start(&pg, "steps", (double)(spin_steps + (o.frames - 1) * frame_steps) * o.count, o.quiet);
    cli_write_samples(w, o.first, o.count, par, 1, head_sample, gen_sample, NULL);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    progress_end(&pg, NULL);
    return 0;
}
