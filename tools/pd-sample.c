// pd-sample: simulation, generation and super-resolution with a pd-train
// model (Yasuda & Bischoff, Alg. 2 and 3; lib/pdd_sample.h), and the DDPM baseline's.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pdd_net.h"
#include "pdd_sample.h"
#include "progress.h"

// --trace: one TSV line per (path, reverse step).
typedef struct {
    FILE *f;
    long sample0;
} trace_ctx;

static int trace_step(void *ctx, int step, double lam, int B, const double *rms, const double *srms,
                      const double *clamped)
{
    trace_ctx *t = ctx;
    for (int b = 0; b < B; b++)
        fprintf(t->f, "%ld\t%d\t%.6g\t%.6g\t%.6g\t%.6g\n", t->sample0 + b, step + 1, lam, rms[b],
                srms[b], clamped[b]);
    return 0;
}

// One record per path, as the generators write them: (T, C, N) "t,c,x" in
// 1-D; (T, Ny, Nx) "t,y,x" (one channel) or (T, C, Ny, Nx) in 2-D.
static void write_paths(tsr_writer *w, const pdd_net *n, const pdd_geom *g, const double *u, long P,
                        long sample0, const tsr_record *meta, const char *mode, double lam, long nfe)
{
    eddy_err e;
    long S = pdd_geom_points(g), per = (long)g->T * g->C * S;
    for (long p = 0; p < P; p++) {
        tsr_record r;
        tsr_record_init(&r);
        if (meta) tsr_attrs_copy(&r, meta);
        uint64_t sh[4];
        int rank = 0;
        sh[rank++] = (uint64_t)g->T;
        if (g->dims == 1 || g->C > 1) sh[rank++] = (uint64_t)g->C;
        sh[rank++] = (uint64_t)g->n[0];
        if (g->dims == 2) sh[rank++] = (uint64_t)g->n[1];
        if (tsr_record_alloc(&r, "u", TSR_F4, rank, sh, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        float *o = r.data;
        for (long i = 0; i < per; i++) o[i] = (float)u[p * per + i];
        tsr_attr_set(&r, "dims", g->dims == 1 ? "t,c,x" : g->C > 1 ? "t,c,y,x" : "t,y,x");
        tsr_attr_set_double(&r, "L", g->L);
        tsr_attr_set_double(&r, "interval", n->dt);
        tsr_attr_set(&r, "pdd.mode", mode);
        tsr_attr_set_double(&r, "lambda", lam);
        tsr_attr_setf(&r, "sample", "%ld", sample0 + p);
        tsr_attr_setf(&r, "pdd.nfe", "%ld", nfe);
        tsr_history_append(&r, cli_cmdline());
        if (tsr_write(w, &r, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_record_free(&r);
    }
}

// pdd_paths_read in the shape cli_read_all calls.
static int read_paths(void *d, tsr_reader *r, const char *name, eddy_err *e)
{
    return pdd_paths_read(d, r, name, e);
}

// Options (file scope so the table below can point at them).
static const char *model = NULL, *out = NULL, *trace = NULL, *sched = "paper", *stepk = NULL, *noise = "none", *scorek = "coloured";
static double lam = 0, lmax = NAN, kappa = NAN, rho = 7, guard = 3, clamp = 5, blowup = 100, max_clamped = 0.01, gauss_below = 0.1;
static int given = 5, nsamp = 0, frames = 0, keep_from = -1, ncorr = 3, nsteps = 0, batch = 8, threads = 0, quiet = 0;
static int no_extrap = 0, no_final = 0, remove_mean = 0, max_batch = 256;
static long seed = 0, first = 0;

    static const cli_opt opts[] = {
        {"model", 'm', OPT_STRING, &model, "FILE", "pd-train model (required)"},
        CLI_OPT_OUTPUT(&out, "output stream (default stdout)"),
        {"lambda", 'l', OPT_DOUBLE, &lam, "X", "simulate: the scale; super-resolve: the input paths' scale", 0, 1000000.0},
        {"given", 0, OPT_INT, &given, "N", "simulate: true frames given (coarse-grained to lambda)", 1, 1048576},
        {"noise", 0, OPT_STRING, &noise, "K", "simulate: none (sigma = 0, evaluation) or sigma (sigma_lambda)"},
        {"samples", 'n', OPT_INT, &nsamp, "N", "generate: paths to draw; simulate, super-resolve: input paths from --first (0: all)", 0, 1073741824},
        {"first", 0, OPT_LONG, &first, "K", "shards: paths K..K+N-1 of the whole run (generate: --samples N; otherwise input paths from K, -n N of them or all)", 0, CLI_BIG},
        {"frames", 0, OPT_INT, &frames, "N", "generate: frames per path (default: the training length); simulate: roll out to N frames in all (default: the input's)", 0, 1048576},
        {"keep-from", 0, OPT_INT, &keep_from, "M", "simulate: write frames M..N-1 only, as records of the input's length", 0, 1048576},
        {"lambda-max", 0, OPT_DOUBLE, &lmax, "X", "generate: start of the reverse integration (default 1)", 1e-300, 1000000.0},
        {"schedule", 0, OPT_STRING, &sched, "S", "paper (uniform, dlambda = 1e-3) or rho (seed 000's rho-schedule)"},
        {"steps", 0, OPT_INT, &nsteps, "N", "reverse lambda steps, ending at dlambda (paper: lambda_max/1e-3; rho: 40)", 0, 16777216},
        {"rho", 0, OPT_DOUBLE, &rho, "X", "exponent of the rho schedule", 1e-300, 1000000.0},
        {"step", 0, OPT_STRING, &stepk, "K", "predictor: etd (paper Eq. 66) or exact (ours; default with rho)"},
        {"guard", 0, OPT_DOUBLE, &guard, "X", "exact step: modes with a*dlambda above X ignore the score", 0, CLI_INF},
        {"score", 0, OPT_STRING, &scorek, "K", "path score: coloured (increment noise Sigma_lambda(k) per mode) or white (paper: scalar v)"},
        {"gauss-below", 0, OPT_DOUBLE, &gauss_below, "R", "modes with signal/noise C^2 P/Sigma below R take the Gaussian score of the training spectrum (0: off)", 0, CLI_INF},
        {"kappa", 0, OPT_DOUBLE, &kappa, "X", "Langevin signal-to-noise ratio (default 0.7 1-D, 0.3 2-D)", 0, 1000000.0},
        {"correctors", 0, OPT_INT, &ncorr, "N", "Langevin corrector steps per predictor step", 0, 1048576},
        {"no-extrapolate", 0, OPT_FLAG, &no_extrap, NULL, "do not overwrite frame 0 by 2u1 - u2"},
        {"no-final-noise", 0, OPT_FLAG, &no_final, NULL, "no noise on the last predictor step (reference code)"},
        {"remove-mean", 0, OPT_FLAG, &remove_mean, NULL, "subtract the (t, x) mean per channel each step (reference code)"},
        {"clamp", 0, OPT_DOUBLE, &clamp, "X", "clamp standardised values to +-X after each update (reference code: 3; 0 off)", 0, CLI_INF},
        {"max-clamped", 0, OPT_DOUBLE, &max_clamped, "F", "fail when one update clamps more than this fraction of a path (1: never)", 0, 1},
        {"blowup", 0, OPT_DOUBLE, &blowup, "X", "fail when a path's rms exceeds X standardised units (0: only non-finite)", 0, CLI_INF},
        {"trace", 0, OPT_STRING, &trace, "FILE", "TSV per path and reverse step: sample, step, lambda, rms, score rms, fraction clamped"},
        {"batch", 'b', OPT_INT, &batch, "N", "paths sampled together", 1, 1048576},
        {"max-batch", 0, OPT_INT, &max_batch, "N", "windows per network call (bounds memory)", 1, 16777216},
        CLI_OPT_SEED(&seed, "noise seed; path i uses (seed, i, step)"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
        "pd-sample", "[options] -m MODEL simulate|generate|super-resolve [PATHS...]",
        "simulate, generate or super-resolve spatiotemporal paths with a pd-train model",
        "simulate: the first --given frames of each input path, coarse-grained to\n"
        "  --lambda (C_lambda u, no noise), then Euler(-Maruyama) in t with the learned\n"
        "  increment (Alg. 2) to the input's length; --noise sigma draws the increment\n"
        "  noise of the path score's density (--score: coloured Sigma_lambda(k) per\n"
        "  mode, or the paper's white v).  A ddpm-cond model samples each\n"
        "  increment by the reverse VP sampler instead (lambda must be 0).\n"
        "generate: --samples paths from N(0, Sigma_lambda_max), reverse lambda to 0.\n"
        "super-resolve: the input paths (at scale --lambda) reversed from lambda to 0.\n"
        "Reverse lambda (Alg. 3): predictor (etd: Eq. 66; exact: per-mode Gaussian\n"
        "posterior, stable for large steps) then --correctors Langevin steps with\n"
        "chi = 2 (kappa |z| / |s|)^2; frame 0 extrapolated after each update; the\n"
        "grid ends at lambda = dlambda as in the reference code.  The path score is\n"
        "the predictor's input gradient of the whole path's log-density.  Departures\n"
        "from the paper, on by default because without them the sampler diverges\n"
        "(both measured on a trained model; lib/pdd.h): --score coloured weighs each\n"
        "increment's residual by 1/Sigma_lambda(k) per mode, the forward process's own\n"
        "noise covariance, where the paper's scalar 1/v makes the score ~10x too strong\n"
        "at low k and ~10x too weak at high k; --gauss-below gives modes whose signal\n"
        "is buried (C^2 P < R Sigma, P the training spectrum stored in the model) the\n"
        "Gaussian score -u/(C^2 P + Sigma): there the path score leaves slowly varying\n"
        "patterns unconstrained; --clamp bounds every value (the reference clamps at 3).\n"
        "A path that turns non-finite, whose rms exceeds --blowup, or of which one\n"
        "update clamps more than --max-clamped is an error naming its sample and\n"
        "lambda; nothing is written to -o FILE.  Outputs one record 'u' per path (t,c,x; t,y,x;\n"
        "t,c,y,x) in physical units with the attribute pdd.nfe (network evaluations\n"
        "per batch of paths); the cost line 'MODE: nfe N, S s per sample' goes to\n"
        "stderr unless --quiet.  Paths are sampled and written --batch at a time.\n"
        "Shards: --first K draws paths K..K+N-1 of the whole run (generate: -n N;\n"
        "simulate, super-resolve: input paths K.., -n N of them or all), noise keyed\n"
        "by the path's index in the whole run; K must be a multiple of --batch, and\n"
        "so must N in every shard but the last, for the shards concatenated to be\n"
        "one run's bytes.\n"
                "Long rollouts (seed 001 4.1, B.5: the simulation spectral error of frames\n"
        "  10T..11T-1, T the sample length): simulate --frames N rolls out to N frames\n"
        "  in all from the input's first --given frames, holding only a window and the\n"
        "  frames it writes (memory does not grow with N); the frames are those a plain\n"
        "  simulate of N-frame paths would give.  --keep-from M writes frames M..N-1\n"
        "  only, N-M a multiple of T (the input's frame count), as (N-M)/T records of T\n"
        "  frames per path, consecutive (relerr --members (N-M)/T averages the PSD over\n"
        "  them); each record has pdd.frame0 (its first frame) and pdd.frames (N).  A\n"
        "  path that diverges there (non-finite, rms above --blowup, a value beyond\n"
        "  1e30, or its sampler failing) is not an error: it is left out, and the line\n"
        "  'pd-sample: simulate: D of P paths diverged (left out): I,J,...' (the sample\n"
        "  indices, the list empty when D is 0) goes to stderr even with --quiet.  All\n"
        "  diverged: an empty stream.",
        "  pd-sample -m l96.model simulate --lambda 0 test.tsr > sim.tsr\n"
        "  pd-sample -m l96.model simulate --frames 704 --keep-from 640 test.tsr > long.tsr\n"
        "  pd-sample -m l96.model generate -n 100 --schedule rho --steps 50 > gen.tsr\n"
        "  pd-sample -m l96.model super-resolve --lambda 0.2 coarse.tsr > sr.tsr",
        opts};

// simulate --frames: one record per emitted segment, as write_paths writes a
// path, plus its place in the rollout.
typedef struct {
    tsr_writer *w;
    const pdd_net *n;
    const pdd_geom *g;
    const tsr_record *meta;
    double lam;
    const long *nfe;
    long frames;
    double *tmp;              // one segment, unstandardised
} long_ctx;

static int write_segment(void *ctx, long path, int seg, long frame0, int nframes, const double *u,
                         eddy_err *e)
{
    long_ctx *c = ctx;
    const pdd_geom *g = c->g;
    long S = pdd_geom_points(g), per = (long)nframes * g->C * S;
    memcpy(c->tmp, u, (size_t)per * sizeof *u);
    pdd_net_unstandardise(c->n, c->tmp, nframes);
    tsr_record r;
    tsr_record_init(&r);
    tsr_attrs_copy(&r, c->meta);
    uint64_t sh[4];
    int rank = 0;
    sh[rank++] = (uint64_t)nframes;
    if (g->dims == 1 || g->C > 1) sh[rank++] = (uint64_t)g->C;
    sh[rank++] = (uint64_t)g->n[0];
    if (g->dims == 2) sh[rank++] = (uint64_t)g->n[1];
    if (tsr_record_alloc(&r, "u", TSR_F4, rank, sh, e)) return -1;
    float *o = r.data;
    for (long i = 0; i < per; i++) o[i] = (float)c->tmp[i];
    tsr_attr_set(&r, "dims", g->dims == 1 ? "t,c,x" : g->C > 1 ? "t,c,y,x" : "t,y,x");
    tsr_attr_set_double(&r, "L", g->L);
    tsr_attr_set_double(&r, "interval", c->n->dt);
    tsr_attr_set(&r, "pdd.mode", "simulate");
    tsr_attr_set_double(&r, "lambda", c->lam);
    tsr_attr_setf(&r, "sample", "%ld", first + path);
    tsr_attr_setf(&r, "pdd.nfe", "%ld", *c->nfe);
    tsr_attr_setf(&r, "pdd.segment", "%d", seg);
    tsr_attr_setf(&r, "pdd.frame0", "%ld", frame0);
    tsr_attr_setf(&r, "pdd.frames", "%ld", c->frames);
    tsr_history_append(&r, cli_cmdline());
    int rc = tsr_write(c->w, &r, e);
    tsr_record_free(&r);
    return rc;
}

// simulate --frames / --keep-from: the streamed rollout, the diverged paths
// reported; returns the network evaluations per path.
static long long_rollout(pdd_net *n, const pdd_sample_opts *o, const pdd_geom *g, const pdd_paths *d,
                         tsr_writer *w, void (*progress)(void *, long), void *pctx)
{
    eddy_err e;
    long N = frames > 0 ? frames : d->T, M = keep_from >= 0 ? keep_from : 0;
    int seg = keep_from >= 0 ? d->T : (int)N;
    long nfe = 0, *dv = malloc((size_t)d->P * sizeof *dv);
    long_ctx c = {w, n, g, &d->meta, lam, &nfe, N,
                  malloc((size_t)seg * g->C * pdd_geom_points(g) * sizeof(double))};
    if (!dv || !c.tmp) cli_die(EXIT_DATA, "out of memory");
    if (pdd_sample_rollout(n, o, g, d->P, d->u, N, M, seg, write_segment, &c, dv, &nfe, progress,
                           pctx, &e))
        cli_die(EXIT_DATA, "%s", e.msg);
    long nd = 0;
    for (long p = 0; p < d->P; p++) nd += dv[p] >= 0;
    fprintf(stderr, "pd-sample: simulate: %ld of %ld paths diverged (left out):", nd, d->P);
    for (long p = 0, k = 0; p < d->P; p++)
        if (dv[p] >= 0) fprintf(stderr, "%s%ld", k++ ? "," : " ", first + p);
    fputc('\n', stderr);
    for (long p = 0; p < d->P && !quiet; p++)
        if (dv[p] >= 0) fprintf(stderr, "pd-sample: sample %ld diverged at frame %ld\n", first + p, dv[p]);
    free(dv);
    free(c.tmp);
    return nfe;
}

// Checks the options that need no model; the sampling settings they give.
static pdd_sample_opts configure(int nops, char **ops)
{
    if (!model) cli_die(EXIT_USAGE, "--model is required");
    if (nops < 1) cli_die(EXIT_USAGE, "a mode is required: simulate, generate or super-resolve");
    pdd_sample_opts o = {.lam = lam, .lmax = lmax, .given = given, .gauss_below = gauss_below,
                         .nsteps = nsteps, .rho = rho, .step = -1, .batch = batch, .first = first};
    if (!strcmp(ops[0], "simulate")) o.mode = PDD_MODE_SIMULATE;
    else if (!strcmp(ops[0], "generate")) o.mode = PDD_MODE_GENERATE;
    else if (!strcmp(ops[0], "super-resolve")) o.mode = PDD_MODE_SR;
    else cli_die(EXIT_USAGE, "unknown mode '%s' (simulate, generate or super-resolve)", ops[0]);
    if (first < 0) cli_die(EXIT_USAGE, "--first must be >= 0");
    // The network's GEMMs may round differently with the batch size: a shard
    // equals its part of one run only if it batches the paths as that run does.
    if (batch >= 1 && first % batch)
        cli_die(EXIT_USAGE, "--first %ld is not a multiple of --batch %d (shards must batch the paths as one run does)", first, batch);
    if (o.mode != PDD_MODE_SIMULATE && keep_from != -1)
        cli_die(EXIT_USAGE, "--keep-from is for simulate only");
    if (o.mode == PDD_MODE_SR && frames != 0) cli_die(EXIT_USAGE, "--frames has no meaning for super-resolve");
    if (o.mode == PDD_MODE_SIMULATE) {
        if (frames < 0) cli_die(EXIT_USAGE, "--frames must be > --given");
        if (frames > 0 && frames <= given) cli_die(EXIT_USAGE, "--frames %d leaves nothing to simulate after --given %d", frames, given);
        if (keep_from < -1 || (keep_from >= 0 && frames > 0 && keep_from >= frames))
            cli_die(EXIT_USAGE, "--keep-from %d must be in [0, --frames %d)", keep_from, frames);
    }
    if (batch < 1 || max_batch < 1 || ncorr < 0 || given < 1)
        cli_die(EXIT_USAGE, "--batch, --max-batch, --given must be >= 1, --correctors >= 0");
    if (strcmp(sched, "paper") && strcmp(sched, "rho")) cli_die(EXIT_USAGE, "--schedule must be paper or rho");
    if (strcmp(noise, "none") && strcmp(noise, "sigma")) cli_die(EXIT_USAGE, "--noise must be none or sigma");
    if (strcmp(scorek, "white") && strcmp(scorek, "coloured")) cli_die(EXIT_USAGE, "--score must be white or coloured");
    if (!(lam >= 0) || !isfinite(lam)) cli_die(EXIT_USAGE, "--lambda must be a number >= 0");
    if (!(gauss_below >= 0)) cli_die(EXIT_USAGE, "--gauss-below must be >= 0");
    if (!(blowup >= 0)) cli_die(EXIT_USAGE, "--blowup must be >= 0");
    if (!(clamp >= 0) || !(max_clamped >= 0 && max_clamped <= 1))
        cli_die(EXIT_USAGE, "need --clamp >= 0 and 0 <= --max-clamped <= 1");
    if (stepk && strcmp(stepk, "etd") && strcmp(stepk, "exact")) cli_die(EXIT_USAGE, "--step must be etd or exact");
    if (stepk) o.step = !strcmp(stepk, "etd") ? PDD_STEP_ETD : PDD_STEP_EXACT;
    o.noise = !strcmp(noise, "sigma"), o.coloured = !strcmp(scorek, "coloured");
    o.rho_schedule = !strcmp(sched, "rho");
    o.pc = pdd_pc_defaults();
    o.pc.kappa = kappa, o.pc.ncorr = ncorr, o.pc.extrapolate = !no_extrap, o.pc.final_noise = !no_final;
    o.pc.remove_mean = remove_mean, o.pc.clamp = clamp, o.pc.guard = guard, o.pc.seed = (uint64_t)seed;
    o.pc.blowup = blowup, o.pc.max_clamped = max_clamped;
    return o;
}

// The input paths (simulate, super-resolve) or zeros of the generated shape.
static void input_paths(const pdd_net *n, const pdd_sample_opts *o, int nops, char **ops, pdd_paths *d)
{
    eddy_err e;
    tsr_record_init(&d->meta);
    if (o->mode != PDD_MODE_GENERATE) {
        cli_read_all(nops, ops, read_paths, d);
        if (d->P == 0) cli_die(EXIT_DATA, "no paths in the input (records with a time axis)");
        if (pdd_net_check_paths(n, d, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        // --first K [-n N]: input paths K..K+N-1, keyed as in the whole run.
        if (first >= d->P) cli_die(EXIT_USAGE, "--first %ld: the input has %ld paths (0..%ld)", first, d->P, d->P - 1);
        if (nsamp < 0) cli_die(EXIT_USAGE, "--samples must be >= 0 (0: every input path from --first)");
        long keep = nsamp > 0 && nsamp < d->P - first ? nsamp : d->P - first;
        long per = (long)d->T * d->C * pdd_geom_points(&n->g);
        if (first > 0) memmove(d->u, d->u + first * per, (size_t)(keep * per) * sizeof *d->u);
        d->P = keep;
        if (o->mode == PDD_MODE_SIMULATE && (frames > 0 || keep_from >= 0)) {
            long N = frames > 0 ? frames : d->T;
            if (d->T < given) cli_die(EXIT_DATA, "paths of %d frames do not hold --given %d", d->T, given);
            if (keep_from >= N) cli_die(EXIT_USAGE, "--keep-from %d must be below the %ld frames", keep_from, N);
            if (keep_from >= 0 && (N - keep_from) % d->T)
                cli_die(EXIT_USAGE, "--frames %ld - --keep-from %d is not a multiple of the input's %d frames",
                        N, keep_from, d->T);
            return;
        }
        if (o->mode == PDD_MODE_SIMULATE && d->T <= given)
            cli_die(EXIT_DATA, "paths of %d frames leave nothing to simulate after --given %d", d->T, given);
        if (o->mode == PDD_MODE_SR && d->T < 3) cli_die(EXIT_DATA, "paths of %d frames are too short to super-resolve", d->T);
        return;
    }
    if (nsamp < 1) cli_die(EXIT_USAGE, "generate needs --samples N >= 1");
    // Generated paths are streamed out batch by batch: memory for one batch.
    d->P = nsamp < batch ? nsamp : batch;
    d->T = frames > 0 ? frames : n->g.T;
    if (d->T < 3) cli_die(EXIT_USAGE, "--frames must be >= 3");
    d->C = n->g.C, d->dims = n->g.dims, d->n[0] = n->g.n[0], d->n[1] = n->g.n[1], d->L = n->g.L;
    d->u = calloc((size_t)d->P * d->T * d->C * pdd_geom_points(&n->g), sizeof(double));
    if (!d->u) cli_die(EXIT_DATA, "out of memory");
}

// After each batch: the progress line, and the trace's next sample index.
static progress pg;
static long chunk0;   // paths done before the current pdd_sample_run call
static void batch_done(void *ctx, long done)
{
    ((trace_ctx *)ctx)->sample0 = first + chunk0 + done;
    progress_update(&pg, (double)(chunk0 + done), NULL);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    pdd_sample_opts o = configure(nops, ops);
    cli_threads(threads);

    eddy_err e;
    pdd_net n;
    tsr_record hdr;
    if (pdd_net_load(model, &n, &hdr, NULL, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    n.max_batch = max_batch;
    if (pdd_sample_configure(&n, &o, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    pdd_paths d = {0};
    input_paths(&n, &o, nops - 1, ops + 1, &d);   // ops[0] is the mode
    pdd_geom g = pdd_paths_geom(&d, n.g.W);
    int gen = o.mode == PDD_MODE_GENERATE;
    long total = gen ? nsamp : d.P, per = (long)g.T * g.C * pdd_geom_points(&g);
    if (!gen) pdd_net_standardise(&n, d.u, d.P * d.T);
    trace_ctx tc = {NULL, first};
    if (trace) {
        if (!(tc.f = fopen(trace, "w"))) cli_die(EXIT_USAGE, "%s: cannot open the trace", trace);
        fprintf(tc.f, "sample\tstep\tlambda\trms\tscore_rms\tclamped\n");
        o.pc.monitor = trace_step, o.pc.monitor_ctx = &tc;
    }

    tsr_writer *w = cli_writer(out, NULL);
    progress_start(&pg, "pd-sample", (double)total, quiet);
    double t0 = progress_now();
    long nfe = 0;
    double lam_out = o.mode == PDD_MODE_SIMULATE ? lam : 0;
    int longrun = o.mode == PDD_MODE_SIMULATE && (frames > 0 || keep_from >= 0);
    chunk0 = 0;
    if (longrun) nfe = long_rollout(&n, &o, &g, &d, w, batch_done, &tc);   // streams itself
    // Otherwise one batch at a time, written as it is done (an -o file
    // appears only whole: the writer renames it into place at the end).
    for (chunk0 = 0; !longrun && chunk0 < total; chunk0 += batch) {
        long P = total - chunk0 < batch ? total - chunk0 : batch, nfe_c = 0;
        double *u = gen ? d.u : d.u + chunk0 * per;
        if (gen) memset(u, 0, (size_t)(P * per) * sizeof *u);
        o.first = first + chunk0;
        if (pdd_sample_run(&n, &o, &g, P, u, &nfe_c, batch_done, &tc, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        if (chunk0 == 0) nfe = nfe_c;
        pdd_net_unstandardise(&n, u, P * g.T);
        write_paths(w, &n, &g, u, P, first + chunk0, gen ? NULL : &d.meta, ops[0], lam_out, nfe);
    }
    double secs = (progress_now() - t0) / (double)total;
    char note[128];
    snprintf(note, sizeof note, "%ld network evaluations per path, %.3g s per path", nfe, secs);
    progress_end(&pg, note);
    if (!quiet) fprintf(stderr, "pd-sample: %s: nfe %ld, %.4g s per sample\n", ops[0], nfe, secs);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (tc.f) fclose(tc.f);
    pdd_net_free(&n);
    tsr_record_free(&hdr);
    pdd_paths_free(&d);
    return 0;
}
