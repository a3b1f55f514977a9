// closure-run: the a-posteriori test of a stochastic closure (lib/closure_run.h): the coarse solver with one term removed and replaced by samples of the
// score model, against the full system on the same grid, and the same run with
// no closure at all.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closure_obs.h"
#include "closure_run.h"
#include "closure_score.h"
#include "ns2d.h"
#include "progress.h"
#include "vesde.h"

// Options (file scope so the table below can point at them); p is set to
// the closure preset in preset().
static const char *model = NULL, *term = "G", *init = NULL, *vname = "omega", *fill = NULL;
static const char *frames_out = NULL, *sampler = "em", *schedule = "karras", *coupling = "replace";
static ns2d_params p;
static double spinup, T = 0, t_min = 1e-3, rho = 7;
static long nsteps = 2000, every = 5, report = 500, seed = 0, sample_id = 0;
static int obs_n = 0, box = 0, frame = -1, threads = 0, quiet = 0, steps_s = 0;

// The closure preset (Dong, Chen & Wu's flow) in the seed's units, L = 2π: the
// reference's unit-square constants mapped by x → 2πx, t → 4π²t.
static void preset(void)
{
    ns2d_params_default(&p);
    const double s2 = 4 * M_PI * M_PI;
    p.n = 64, p.L = 2 * M_PI, p.nu = 1e-3, p.mu = 0, p.dt = 1e-3 * s2, p.scheme = NS2D_CN;
    p.forcing = NS2D_FORCE_CLOSURE, p.kf = 1, p.famp = 0.1 / (s2 * s2);
    p.beta = 5e-5 * sqrt(10.0) / s2, p.noise_a = 0.005 * s2, p.cfl_max = 2;
    spinup = 20 * s2;
}

    static const cli_opt opts[] = {
        {"model", 'm', OPT_STRING, &model, "FILE", "closure score model (fno-train; required)"},
        {"term", 't', OPT_STRING, &term, "G|H", "term removed and sampled: G (nu Lap w + beta xi) or H (-u.grad w + beta xi)"},
        {"init", 0, OPT_STRING, &init, "FILE", "initial vorticity: a record of this stream (default: spin-up)"},
        {"vorticity", 0, OPT_STRING, &vname, "NAME", "record name of the vorticity in --init"},
        {"frame", 0, OPT_INT, &frame, "I", "frame of the --init record (-1: the last)", -1073741824, 1073741824},
        {"spinup", 0, OPT_DOUBLE, &spinup, "T", "without --init: spin-up time from a Gaussian random field", 0, CLI_INF},
        {"n", 'N', OPT_INT, &p.n, "N", "grid points per axis", 4, 65536},
        {"L", 0, OPT_DOUBLE, &p.L, "X", "domain length", 1e-300, CLI_INF},
        {"nu", 0, OPT_DOUBLE, &p.nu, "X", "viscosity", 0, CLI_INF},
        {"dt", 0, OPT_DOUBLE, &p.dt, "X", "time step", 1e-300, CLI_INF},
        {"famp", 0, OPT_DOUBLE, &p.famp, "X", "forcing amplitude", -CLI_INF, CLI_INF},
        {"beta", 0, OPT_DOUBLE, &p.beta, "X", "stochastic forcing amplitude of the reference run", 0, CLI_INF},
        {"noise-a", 0, OPT_DOUBLE, &p.noise_a, "X", "spatial decay a of the stochastic forcing", 0, CLI_INF},
        {"steps", 0, OPT_LONG, &nsteps, "N", "solver steps of the coupled run", 1, CLI_BIG},
        {"coupling", 0, OPT_STRING, &coupling, "C", "G only: replace (the sample replaces all of nu Lap w) or reference (see below)"},
        {"every", 'k', OPT_LONG, &every, "K", "a fresh closure sample every K steps (held in between)", 1, CLI_BIG},
        {"report", 0, OPT_LONG, &report, "N", "compare with the reference every N steps", 1, CLI_BIG},
        {"obs-n", 0, OPT_INT, &obs_n, "N", "observations of the true term on an N×N grid (0: the model's obs_n)", 0, 4096},
        {"fill", 0, OPT_STRING, &fill, "F", "observation fill: bicubic or box (default: the model's obs_fill)"},
        {"box", 0, OPT_INT, &box, "W", "box width (0: automatic)", 0, 1048576},
        {"sampler", 0, OPT_STRING, &sampler, "S", "em or heun"},
        {"schedule", 0, OPT_STRING, &schedule, "S", "karras or uniform"},
        {"T", 0, OPT_DOUBLE, &T, "T", "first diffusion time (0: 0.1 karras, 1 uniform)", 0, 1000000.0},
        {"sample-steps", 0, OPT_INT, &steps_s, "N", "reverse steps (0: 10 karras, 1000 uniform)", 0, 16777216},
        {"frames", 0, OPT_STRING, &frames_out, "FILE", "write the vorticity of the three runs at report times"},
        CLI_OPT_SEED(&seed, "seed of the initial state, reference noise and samples"),
        {"sample", 0, OPT_LONG, &sample_id, "I", "sample index keying the initial state and noise", 0, CLI_BIG},
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
        "closure-run", "[options] -m MODEL",
        "coupled (a-posteriori) run of a stochastic closure against the full system",
        "Runs three solvers side by side on the same grid from the same vorticity:\n"
        "the reference (the full equation, with its stochastic forcing), the closure run\n"
        "(the chosen term removed, the stochastic forcing off, and a fresh sample of the\n"
        "term added every K steps - conditioned on the closure run's own vorticity and,\n"
        "for a v+obs model, on observations of the true term taken from the reference\n"
        "at that step - held constant in between), and the same run with no closure.\n"
        "A coarse-base V-only model (trained on closure-cond --y-coarse) gets as Y the\n"
        "term the closure run's own vorticity gives by itself, as in its training data.\n"
        "--coupling reference is the G coupling of the reference code (Dong, Chen & Wu):\n"
        "the Crank-Nicolson step keeps the implicit half of nu Lap w and half the sample\n"
        "replaces the explicit half, so the run with no closure keeps half its viscosity.\n"
        "A closure or no-closure run that blows up (CFL above the preset's 2, or a\n"
        "non-finite field) stops there with its solver's reason on stderr, its error\n"
        "column (and its --frames) read nan from then on, and the other runs go on.\n"
        "Defaults are the closure preset (the flow of Dong, Chen & Wu in L = 2 pi units); with --init the\n"
        "constants L nu mu dt kf famp beta noise_a come from the record's attributes\n"
        "(as ns-gen writes them) where present.  Writes TSV to\n"
        "stdout: step, t, rel. L2 error of the vorticity with and without closure, and\n"
        "the rel. L2 error of the latest sample against the true term.",
        "  closure-run -m G.model --steps 2000 --every 5 > coupled.tsv",
        opts};

// Checks the options; the sampler settings (its schedule in *ts).
static vesde_sample_opts configure(double **ts)
{
    if (!model) cli_die(EXIT_USAGE, "--model is required");
    if (strcmp(term, "G") && strcmp(term, "H")) cli_die(EXIT_USAGE, "--term must be G or H, got '%s'", term);
    if (strcmp(coupling, "replace") && strcmp(coupling, "reference"))
        cli_die(EXIT_USAGE, "--coupling must be replace or reference, got '%s'", coupling);
    if (!strcmp(coupling, "reference") && strcmp(term, "G"))
        cli_die(EXIT_USAGE, "--coupling reference is the G coupling (it halves the sampled viscous term); --term %s has none",
                term);
    if (nsteps < 1 || every < 1 || report < 1) cli_die(EXIT_USAGE, "--steps, --every, --report must be >= 1");
    vesde_sampler sk;
    vesde_schedule sc;
    if (vesde_sampler_parse(sampler, &sk)) cli_die(EXIT_USAGE, "--sampler: em or heun");
    if (vesde_schedule_parse(schedule, &sc)) cli_die(EXIT_USAGE, "--schedule: karras or uniform");
    vesde_schedule_defaults(sc, &T, &steps_s);
    if (steps_s < 1 || steps_s > 1000000) cli_die(EXIT_USAGE, "--sample-steps out of range");
    *ts = malloc((size_t)(steps_s + 1) * sizeof **ts);
    eddy_err e;
    if (!*ts || vesde_schedule_fill(sc, T, t_min, rho, steps_s, *ts, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    p.seed = (uint64_t)seed, p.sample = (uint64_t)sample_id;
    return (vesde_sample_opts){.ts = *ts, .nsteps = steps_s, .seed = (uint64_t)seed, .kind = sk};
}

// The model, checked against the run; the observations as it was trained with them.
static void load_model(fno *m, tsr_record *hdr, cs_info *ci, obs_fill_kind *fk, int *y_coarse)
{
    eddy_err e;
    if (cs_model_load(model, m, hdr, ci, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (ci->term && strcmp(ci->term, term)) cli_die(EXIT_USAGE, "%s samples term %s, not %s", model, ci->term, term);
    if (fno_grid_ok(&m->cfg, p.n, p.n, &e)) cli_die(EXIT_DATA, "grid %d: %s", p.n, e.msg);
    if (obs_n == 0) obs_n = (int)ci->obs_n;
    if (!fill) fill = ci->obs_fill ? ci->obs_fill : "bicubic";
    // A coarse-base V-only model (closure-cond --y-coarse): Y is the term the
    // closure run's vorticity gives by itself, no observations.
    *y_coarse = ci->obs_fill && !strcmp(ci->obs_fill, "coarse");
    if (*y_coarse) {
        if (strcmp(fill, "coarse")) cli_die(EXIT_USAGE, "%s: its Y is the coarse term; --fill %s does not apply", model, fill);
        if (obs_n == 0) obs_n = 1;   // unused: no observations are taken
        return;
    }
    if (!strcmp(fill, "coarse")) cli_die(EXIT_USAGE, "--fill coarse: only for a model trained on closure-cond --y-coarse");
    if (obs_fill_parse(fill, fk)) cli_die(EXIT_USAGE, "--fill: bicubic or box, got '%s'", fill);
    if (obs_n < 1 || obs_n > p.n) cli_die(EXIT_USAGE, "--obs-n must be in 1..%d", p.n);
}

// --init: the vorticity (n²) of the chosen frame, and the physics that made it
// (ns-gen's attributes) into p.
static double *read_init(void)
{
    int n = p.n;
    size_t nn = (size_t)n * n;
    double *w0 = calloc(nn, sizeof *w0);
    tsr_record rec;
    tsr_record_init(&rec);
    eddy_err e;
    FILE *f;
    tsr_reader *r = cli_reader(init, &f);
    int found = 0;
    while (!found && tsr_read(r, &rec, &e) == 1) {
        if (strcmp(rec.name, vname)) continue;
        if (rec.rank < 2 || rec.shape[rec.rank - 1] != (uint64_t)n || rec.shape[rec.rank - 2] != (uint64_t)n)
            continue;     // another output grid of the same sample
        struct { const char *key; double *dst; } phys[] = {
            {"L", &p.L}, {"nu", &p.nu}, {"mu", &p.mu}, {"dt", &p.dt}, {"famp", &p.famp},
            {"beta", &p.beta}, {"noise_a", &p.noise_a}};
        for (size_t i = 0; i < sizeof phys / sizeof *phys; i++)
            if (tsr_attr_double(&rec, phys[i].key, phys[i].dst, &e) < 0)
                cli_die(EXIT_DATA, "%s: %s", init, e.msg);
        long kf = p.kf;
        if (tsr_attr_long(&rec, "kf", &kf, &e) < 0) cli_die(EXIT_DATA, "%s: %s", init, e.msg);
        p.kf = (int)kf;
        if (tsr_record_convert(&rec, TSR_F8, &e)) cli_die(EXIT_DATA, "%s: %s", init, e.msg);
        long nf = (long)(tsr_numel(&rec) / nn), fi = frame < 0 ? nf + frame : frame;
        if (fi < 0 || fi >= nf) cli_die(EXIT_USAGE, "--frame %d: the record has %ld frames", frame, nf);
        memcpy(w0, (double *)rec.data + fi * nn, nn * sizeof *w0);
        found = 1;
    }
    if (!found) cli_die(EXIT_DATA, "%s: no '%s' record on the %d² grid", init, vname, n);
    for (size_t i = 0; i < nn; i++)
        if (!isfinite(w0[i])) cli_die(EXIT_DATA, "%s: non-finite initial vorticity", init);
    tsr_record_free(&rec);
    tsr_reader_close(r);
    if (f != stdin) fclose(f);
    return w0;
}

// The TSV line of a report step, and its three vorticities kept for --frames.
typedef struct {
    float *fr;
    long nrep, irep;
    long told_closure, told_noclosure;   // blow-ups already said on stderr
} frames_ctx;

static void tell_diverged(const char *run, long step, const char *why, long *told)
{
    if (!step || *told) return;
    *told = step;
    fprintf(stderr, "closure-run: the %s run blew up, its step %ld refused (%s); its errors%s read nan from there\n",
            run, step, why, frames_out ? " and frames" : "");
}

static int report_step(void *ctx, const cr_report *r, eddy_err *e)
{
    frames_ctx *fc = ctx;
    size_t nn = (size_t)p.n * p.n;
    tell_diverged("closure", r->diverged_closure, r->why_closure, &fc->told_closure);
    tell_diverged("no-closure", r->diverged_noclosure, r->why_noclosure, &fc->told_noclosure);
    printf("%ld\t%.6g\t%.6g\t%.6g\t%.6g\n", r->step, r->t, r->err_closure, r->err_noclosure, r->err_term);
    fflush(stdout);
    if (fc->fr && fc->irep < fc->nrep && r->step % report == 0) {
        const double *w[3] = {r->w_ref, r->w_closure, r->w_noclosure};
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < nn; i++) fc->fr[(fc->irep * 3 + k) * nn + i] = w[k] ? (float)w[k][i] : NAN;
        fc->irep++;
    }
    return 0;
}

static void write_frames(const frames_ctx *fc)
{
    eddy_err e;
    size_t nn = (size_t)p.n * p.n;
    tsr_writer *w = cli_writer(frames_out, NULL);
    const char *names[3] = {"omega_ref", "omega_closure", "omega_noclosure"};
    for (int k = 0; k < 3; k++) {
        tsr_record o;
        tsr_record_init(&o);
        uint64_t shp[3] = {(uint64_t)fc->irep, (uint64_t)p.n, (uint64_t)p.n};
        if (tsr_record_alloc(&o, names[k], TSR_F4, 3, shp, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        float *d = o.data;
        for (long r = 0; r < fc->irep; r++) memcpy(d + r * nn, fc->fr + (r * 3 + k) * nn, nn * sizeof *d);
        tsr_attr_set(&o, "dims", "t,y,x");
        tsr_attr_set_double(&o, "L", p.L);
        tsr_attr_set_double(&o, "dt", p.dt * report);
        tsr_attr_set(&o, "term", term);
        tsr_history_append(&o, cli_cmdline());
        if (tsr_write(w, &o, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_record_free(&o);
    }
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
}

static void step_done(void *ctx, long step) { progress_update(ctx, (double)step, NULL); }

int main(int argc, char **argv)
{
    preset();
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops) cli_die(EXIT_USAGE, "no operands expected");
    double *ts;
    cr_opts o = {.so = configure(&ts), .isG = !strcmp(term, "G"), .spinup = spinup,
                 .cn_half = !strcmp(coupling, "reference"),
                 .nsteps = nsteps, .every = every, .report = report, .sample = (uint64_t)sample_id};
    cli_threads(threads);
    fno m;
    tsr_record hdr;
    cs_info ci;
    load_model(&m, &hdr, &ci, &o.fill, &o.y_coarse);
    double *w0 = init ? read_init() : NULL;
    if (fabs(m.cfg.length[0] - p.L) > 1e-9 * p.L)
        cli_die(EXIT_DATA, "the model was trained on L = %g, the run has L = %g", m.cfg.length[0], p.L);
    o.p = p, o.w0 = w0, o.obs_n = obs_n, o.box = box, o.so.sigma0 = ci.sigma0;
    frames_ctx fc = {NULL, nsteps / report + 1, 0, 0, 0};
    if (frames_out && !(fc.fr = malloc((size_t)fc.nrep * 3 * p.n * p.n * sizeof *fc.fr)))
        cli_die(EXIT_DATA, "out of memory");
    printf("step\tt\terr_closure\terr_noclosure\terr_term\n");
    progress pg;
    progress_start(&pg, "closure-run", (double)nsteps, quiet);
    eddy_err e;
    if (closure_run(&o, &m, &ci, report_step, &fc, step_done, &pg, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    progress_end(&pg, NULL);
    if (fc.fr) write_frames(&fc);
    fno_free(&m);
    tsr_record_free(&hdr);
    free(w0), free(fc.fr), free(ts);
    return 0;
}
