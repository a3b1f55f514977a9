// ns-gen: samples of 2-D Navier–Stokes vorticity (Kolmogorov flow, the
// closure benchmark flow) and, with --closure, the closure terms G and H.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ns2d.h"
#include "progress.h"
#include "resample.h"
#include "tsr.h"

#define MAX_GRIDS 8
#define MAX_FIELDS 3

typedef struct {
    const char *name;
    int n;
    double L, nu, mu, dt;
    const char *scheme, *forcing;
    int kf;
    double famp, beta, noise_a;
    const char *init;
    double init_amp, grf_alpha, grf_tau, grf_sigma;
    double spinup;
    int frames;
    double interval;
    const char *out_grid;
} preset;

#define TWO_PI (2 * M_PI)
#define C2 (TWO_PI * TWO_PI)

// README.md (ns-gen).  The closure preset is the reference's unit-square flow in the
// units of L = 2π: t → 4π² t, f → f/(2π)⁴, β → β/(2π)² (×√10: the reference
// draws each mode with variance κ = 10), a → 4π² a.
static const preset presets[] = {
    {"kolmogorov", 256, TWO_PI, 1e-3, 0.1, 1e-3, "rk2", "kolmogorov", 4, 4.0, 0, 0, "forcing-noise", 5.0, 2.5,
     7.0, 0, 50.0, 40, 0.5, "40"},
    {"closure", 256, TWO_PI, 1e-3, 0.0, 1e-3 * C2, "cn", "closure", 1, 0.1 / (C2 * C2), 5e-5 * 3.1622776601683795 / C2,
     0.005 * C2, "grf", 5.0, 2.5, 7.0, 18.520259177452136 /* 7^1.5 */, 20.0 * C2, 201, 0.1 * C2, "64"},
};

static struct {
    const char *preset, *n, *L, *nu, *mu, *dt, *scheme, *forcing, *kf, *famp, *beta, *noise_a;
    const char *init, *init_amp, *grf_alpha, *grf_tau, *grf_sigma, *spinup, *frames, *interval, *out_grid;
    const char *resample, *output;
    int closure, f64, quiet, threads;
    long seed, first, count;
    double cfl_max;
} o = {.preset = "kolmogorov", .resample = "fourier", .output = "-", .count = 1, .cfl_max = 1.0};

static const cli_opt opts[] = {
    {"preset", 'p', OPT_STRING, &o.preset, "NAME", "kolmogorov or closure: sets every value marked (preset ...) below"},
    {"n", 'n', OPT_STRING, &o.n, "N", "solver grid points per axis, even (preset: 256)", -CLI_INF, 65536},
    {"length", 'L', OPT_STRING, &o.L, "L", "domain length; wavenumbers are 2πn/L (preset: 2π)", 1e-300, CLI_INF},
    {"nu", 0, OPT_STRING, &o.nu, "NU", "viscosity ν >= 0, length²/time (preset: 1e-3)", -CLI_INF, CLI_INF},
    {"mu", 0, OPT_STRING, &o.mu, "MU", "linear drag μ >= 0, 1/time (kolmogorov 0.1, closure 0)", 0, CLI_INF},
    {"dt", 0, OPT_STRING, &o.dt, "DT", "time step (kolmogorov 1e-3, closure 4π²·1e-3)", 1e-300, CLI_INF},
    {"scheme", 0, OPT_STRING, &o.scheme, "S", "rk2 (explicit midpoint) or cn (Crank–Nicolson ν, Euler rest) (kolmogorov rk2, closure cn)"},
    {"forcing", 0, OPT_STRING, &o.forcing, "F",
     "none, kolmogorov (−A cos(ky)) or closure (A(sin k(x+y) + cos k(x+y))), k = 2π kf/L"},
    {"kf", 0, OPT_STRING, &o.kf, "K", "forcing wavenumber index (kolmogorov 4, closure 1)", 0, 65536},
    {"famp", 0, OPT_STRING, &o.famp, "A", "forcing amplitude, vorticity/time (kolmogorov 4, closure 0.1/(2π)⁴)", -CLI_INF, CLI_INF},
    {"beta", 0, OPT_STRING, &o.beta, "B",
     "Q-Wiener noise amplitude β, 0 = none (kolmogorov 0, closure 5e-5·√10/(2π)²)", 0, CLI_INF},
    {"noise-a", 0, OPT_STRING, &o.noise_a, "A", "noise spectrum exp(−a|k|²/2), a in length² (closure 0.005·4π²)", 0, CLI_INF},
    {"init", 0, OPT_STRING, &o.init, "I", "initial state: grf (Gaussian random field) or forcing-noise (f + amp·U(0,1))"},
    {"init-amp", 0, OPT_STRING, &o.init_amp, "A", "forcing-noise: amplitude of the uniform noise (preset: 5)", 0, CLI_INF},
    {"grf-alpha", 0, OPT_STRING, &o.grf_alpha, "X", "grf: N(0, σ²(−Δ+τ²)^−α) on the unit torus, scaled by L⁻² (preset: 2.5)", 1e-300, 1000},
    {"grf-tau", 0, OPT_STRING, &o.grf_tau, "X", "grf: τ (preset: 7)", 0, CLI_INF},
    {"grf-sigma", 0, OPT_STRING, &o.grf_sigma, "X", "grf: σ (preset: τ^(α−1) = 7^1.5)", 0, CLI_INF},
    {"spinup", 0, OPT_STRING, &o.spinup, "T", "time discarded before the first frame (kolmogorov 50, closure 20·4π²)", 0, CLI_INF},
    {"frames", 0, OPT_STRING, &o.frames, "N", "frames kept per sample (kolmogorov 40, closure 201)", 1, 1073741824},
    {"interval", 0, OPT_STRING, &o.interval, "T", "time between frames, a multiple of dt (kolmogorov 0.5, closure 0.1·4π²)", 0, CLI_INF},
    {"out-grid", 'g', OPT_STRING, &o.out_grid, "M,..",
     "output grids, comma-separated, each <= n (kolmogorov 40, closure 64); one record per grid and field"},
    {"resample", 0, OPT_STRING, &o.resample, "R", "fourier (truncation), stride (n/M must be whole) or bicubic"},
    {"closure", 0, OPT_FLAG, &o.closure, NULL, "also write G = νΔω + βξ and H = −u·∇ω + βξ, evaluated on the solver grid"},
    CLI_OPTS_SAMPLES(&o.seed, &o.first, &o.count),
    {"cfl-max", 0, OPT_DOUBLE, &o.cfl_max, "X", "blow-up bound on max(|u|+|v|)·dt·n/L; 0 disables", 0, CLI_INF},
    {"f64", 0, OPT_FLAG, &o.f64, NULL, "write float64 instead of float32"},
    CLI_OPT_OUTPUT(&o.output, "output stream (- is stdout)"),
    {"threads", 'j', OPT_INT, &o.threads, "N", "threads, 0 = OMP_NUM_THREADS or all cores"},
    {"quiet", 'q', OPT_FLAG, &o.quiet, NULL, "no progress on stderr"},
    CLI_OPT_END};

static const cli_spec spec = {
    "ns-gen", "[options]", "generate 2-D Navier–Stokes vorticity samples (and closure terms) as a tensor stream",
    "Pseudo-spectral vorticity solver in double precision (2/3-rule dealiasing; README.md, ns-gen):\n"
    "  dω/dt + u·∇ω = ν Δω − μ ω + f + β ξ,  −Δψ = ω,  u = (ψ_y, −ψ_x), on [0, L)².\n"
    "Each sample is one record per output grid and field (omega, then G and H with --closure),\n"
    "shape (frames, M, M), dims=t,y,x, the first frame at t0 = spin-up time.  Sample i is drawn\n"
    "from the streams of (seed, i) alone, so --first/--count shards reproduce one large run.\n"
    "Options marked 'preset' default to the chosen preset's value.  A blow-up (non-finite\n"
    "vorticity or CFL past --cfl-max) stops with an error naming the sample and the time.\n"
    "Differences from the reference codes: the closure preset is the unit-square reference in\n"
    "L = 2π units (pass --length 1 --dt 1e-3 --famp 0.1 --beta 1.58e-4 --noise-a 0.005\n"
    "--spinup 20 --interval 0.1 for the reference's own units; its β = 5e-5 with κ = 10 is\n"
    "β·√10 here); output grids default to Fourier truncation (the closure reference strides:\n"
    "--resample stride); bicubic is the periodic Catmull–Rom interpolant, not PyTorch's\n"
    "align_corners=True of the Kolmogorov reference; the mean vorticity is kept at 0.",
    "  ns-gen --preset kolmogorov --count 4 -o kf.tsr\n"
    "  ns-gen --preset closure --closure --out-grid 64,128,256 --resample stride --count 2 > cl.tsr\n"
    "  ns-gen --n 32 --frames 3 --spinup 0.1 --interval 0.05 --out-grid 16 | tsr-info --stats",
    opts};

typedef struct {
    ns2d_params p;
    const char *preset, *init, *forcing_name, *scheme_name;
    double init_amp, grf_alpha, grf_tau, grf_sigma, spinup, interval;
    long spin_steps, frame_steps;
    int frames, ngrids, grids[MAX_GRIDS], nfields;
    resample_method rs;
    const char *fields[MAX_FIELDS];
} config;

static double num(const char *opt, const char *s, double def)
{
    if (!s) return def;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) cli_die(EXIT_USAGE, "option --%s: '%s' is not a valid number", opt, s);
    return v;
}

static int inum(const char *opt, const char *s, int def)
{
    if (!s) return def;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < -1000000000L || v > 1000000000L)
        cli_die(EXIT_USAGE, "option --%s: '%s' is not a valid integer", opt, s);
    return (int)v;
}

static void configure(config *c)
{
    const preset *P = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(o.preset, presets[i].name)) P = &presets[i];
    if (!P) cli_die(EXIT_USAGE, "unknown preset '%s' (kolmogorov or closure)", o.preset);
    memset(c, 0, sizeof *c);
    c->preset = P->name;
    ns2d_params *p = &c->p;
    ns2d_params_default(p);
    p->n = inum("n", o.n, P->n);
    p->L = num("length", o.L, P->L);
    p->nu = num("nu", o.nu, P->nu);
    p->mu = num("mu", o.mu, P->mu);
    p->dt = num("dt", o.dt, P->dt);
    c->scheme_name = o.scheme ? o.scheme : P->scheme;
    if (!strcmp(c->scheme_name, "rk2")) p->scheme = NS2D_RK2;
    else if (!strcmp(c->scheme_name, "cn")) p->scheme = NS2D_CN;
    else cli_die(EXIT_USAGE, "unknown scheme '%s' (rk2 or cn)", c->scheme_name);
    c->forcing_name = o.forcing ? o.forcing : P->forcing;
    if (!strcmp(c->forcing_name, "none")) p->forcing = NS2D_FORCE_NONE;
    else if (!strcmp(c->forcing_name, "kolmogorov")) p->forcing = NS2D_FORCE_KOLMOGOROV;
    else if (!strcmp(c->forcing_name, "closure")) p->forcing = NS2D_FORCE_CLOSURE;
    else cli_die(EXIT_USAGE, "unknown forcing '%s' (none, kolmogorov or closure)", c->forcing_name);
    p->kf = inum("kf", o.kf, P->kf);
    p->famp = num("famp", o.famp, P->famp);
    p->beta = num("beta", o.beta, P->beta);
    p->noise_a = num("noise-a", o.noise_a, P->noise_a);
    p->cfl_max = o.cfl_max;
    p->seed = (uint64_t)o.seed;
    c->init = o.init ? o.init : P->init;
    if (strcmp(c->init, "grf") && strcmp(c->init, "forcing-noise"))
        cli_die(EXIT_USAGE, "unknown initial state '%s' (grf or forcing-noise)", c->init);
    c->init_amp = num("init-amp", o.init_amp, P->init_amp);
    c->grf_alpha = num("grf-alpha", o.grf_alpha, P->grf_alpha);
    c->grf_tau = num("grf-tau", o.grf_tau, P->grf_tau);
    c->grf_sigma = num("grf-sigma", o.grf_sigma, P->grf_sigma > 0 ? P->grf_sigma : pow(c->grf_tau, c->grf_alpha - 1));
    c->frames = inum("frames", o.frames, P->frames);
    c->spinup = num("spinup", o.spinup, P->spinup);
    c->interval = num("interval", o.interval, P->interval);
    if (p->n <= 0) cli_die(EXIT_USAGE, "option --n: %d must be positive", p->n);
    if (!(p->dt > 0) || !isfinite(p->dt)) cli_die(EXIT_USAGE, "option --dt: %g must be positive", p->dt);
    if (!(p->cfl_max >= 0)) cli_die(EXIT_USAGE, "option --cfl-max: %g must be >= 0", p->cfl_max);
    if (c->frames < 1) cli_die(EXIT_USAGE, "option --frames: %d must be at least 1", c->frames);
    c->spin_steps = cli_steps("spinup", c->spinup, p->dt, 1);
    c->frame_steps = c->frames > 1 ? cli_steps("interval", c->interval, p->dt, 0) : 0;
    if (o.first < 0) cli_die(EXIT_USAGE, "option --first: %ld must be >= 0", o.first);
    if (o.count < 1) cli_die(EXIT_USAGE, "option --count: %ld must be at least 1", o.count);
    eddy_err e;
    if (resample_method_parse(o.resample, &c->rs, &e)) cli_die(EXIT_USAGE, "option --resample: %s", e.msg);
    // Output grids.
    const char *g = o.out_grid ? o.out_grid : P->out_grid;
    const char *s = g;
    while (*s) {
        char *end;
        long m = strtol(s, &end, 10);
        if (end == s || (*end && *end != ',') || m <= 0 || m > 1 << 20)
            cli_die(EXIT_USAGE, "option --out-grid: '%s' is not a list of positive sizes like 64,128", g);
        if (c->ngrids == MAX_GRIDS) cli_die(EXIT_USAGE, "option --out-grid: at most %d grids", MAX_GRIDS);
        c->grids[c->ngrids++] = (int)m;
        s = *end ? end + 1 : end;
    }
    if (!c->ngrids) cli_die(EXIT_USAGE, "option --out-grid: empty");
    if (p->n < 4 || p->n % 2) cli_die(EXIT_USAGE, "option --n: %d must be even and at least 4", p->n);
    for (int i = 0; i < c->ngrids; i++) {
        if (c->grids[i] > p->n)
            cli_die(EXIT_USAGE, "option --out-grid: %d is finer than the solver grid n=%d", c->grids[i], p->n);
        if (resample_check(c->rs, p->n, p->n, c->grids[i], c->grids[i], &e))
            cli_die(EXIT_USAGE, "option --out-grid: %s", e.msg);
    }
    c->fields[c->nfields++] = "omega";
    if (o.closure) c->fields[c->nfields++] = "G", c->fields[c->nfields++] = "H";
}

static void set_attrs(tsr_record *r, const config *c, long sample, int grid, const char *field)
{
    const ns2d_params *p = &c->p;
    tsr_attr_set(r, "dims", "t,y,x");
    tsr_attr_set(r, "field", field);
    tsr_attr_set(r, "units", !strcmp(field, "omega") ? "1/time" : "1/time^2");
    if (!strcmp(field, "G")) tsr_attr_set(r, "term", "nu*lap(omega) + beta*xi");
    if (!strcmp(field, "H")) tsr_attr_set(r, "term", "-u.grad(omega) + beta*xi");
    tsr_attr_set(r, "preset", c->preset);
    tsr_attr_set_double(r, "L", p->L);
    tsr_attr_setf(r, "N", "%d", grid);
    tsr_attr_setf(r, "solver_N", "%d", p->n);
    tsr_attr_set(r, "resample", grid == p->n ? "none" : resample_method_name(c->rs));
    tsr_attr_set_double(r, "nu", p->nu);
    tsr_attr_set_double(r, "mu", p->mu);
    tsr_attr_set_double(r, "dt", p->dt);
    tsr_attr_set(r, "scheme", p->scheme == NS2D_RK2 ? "rk2" : "cn");
    tsr_attr_set(r, "forcing", c->forcing_name);
    tsr_attr_setf(r, "kf", "%d", p->kf);
    tsr_attr_set_double(r, "famp", p->famp);
    tsr_attr_set_double(r, "beta", p->beta);
    tsr_attr_set_double(r, "noise_a", p->noise_a);
    tsr_attr_set(r, "init", c->init);
    tsr_attr_set_double(r, "spinup", c->spinup);
    tsr_attr_set_double(r, "t0", c->spin_steps * p->dt);
    tsr_attr_set_double(r, "interval", c->frame_steps * p->dt);
    tsr_attr_setf(r, "seed", "%lu", (unsigned long)p->seed);
    tsr_attr_setf(r, "sample", "%ld", sample);
    tsr_history_append(r, cli_cmdline());
}

static long done_steps;   // progress across threads
static progress pg;       // updated by thread 0 only

static int advance(ns2d *s, long n, eddy_err *e)
{
    while (n > 0) {
        long k = n < 200 ? n : 200, d;
        if (ns2d_advance(s, k, e)) return -1;
        n -= k;
#pragma omp atomic capture
        d = done_steps += k;
        if (omp_get_thread_num() == 0) progress_update(&pg, (double)d, NULL);
    }
    return 0;
}

// What the driver's callbacks see: the configuration and the transform
// lanes each solver gets.
typedef struct {
    const config *c;
    int inner;
} job;

// The sample's records, recs[g * nfields + f]: shape and attributes.
static int head_sample(void *ctx, long sample, tsr_record *recs, eddy_err *e)
{
    const config *c = ((const job *)ctx)->c;
    for (int g = 0; g < c->ngrids; g++)
        for (int f = 0; f < c->nfields; f++) {
            tsr_record *r = &recs[g * c->nfields + f];
            uint64_t shape[3] = {(uint64_t)c->frames, (uint64_t)c->grids[g], (uint64_t)c->grids[g]};
            if (tsr_record_alloc(r, c->fields[f], o.f64 ? TSR_F8 : TSR_F4, 3, shape, e)) return -1;
            set_attrs(r, c, sample, c->grids[g], c->fields[f]);
        }
    return 0;
}

// Fills the records of one sample: recs[g * nfields + f], data (frames, M, M).
static int fill_sample(const config *c, long sample, int threads, tsr_record *recs, eddy_err *e)
{
    ns2d_params p = c->p;
    p.sample = (uint64_t)sample;
    p.threads = threads;
    int n = p.n, rc = -1;
    ns2d *s = ns2d_create(&p, e);
    size_t nn = (size_t)n * n;
    double *fld = malloc(sizeof(double) * nn * MAX_FIELDS), *out = malloc(sizeof(double) * nn);
    if (!s || !fld || !out) {
        if (s) eddy_fail(e, "out of memory");
        goto done;
    }
    if (!strcmp(c->init, "grf") ? ns2d_init_grf(s, c->grf_alpha, c->grf_tau, c->grf_sigma, e)
                                : ns2d_init_forcing_noise(s, c->init_amp, e))
        goto done;
    if (advance(s, c->spin_steps, e)) goto done;
    for (int k = 0; k < c->frames; k++) {
        if (k && advance(s, c->frame_steps, e)) goto done;
        ns2d_get_omega(s, fld);
        if (c->nfields > 1) ns2d_closure_terms(s, fld + nn, fld + 2 * nn);
        for (int g = 0; g < c->ngrids; g++) {
            int m = c->grids[g];
            size_t mm = (size_t)m * m;
            for (int f = 0; f < c->nfields; f++) {
                const double *src = fld + f * nn;
                if (m != n) {
                    if (resample_2d(c->rs, src, n, n, out, m, m, e)) goto done;
                    src = out;
                }
                tsr_record *r = &recs[g * c->nfields + f];
                if (r->dtype == TSR_F8) memcpy((double *)r->data + k * mm, src, sizeof(double) * mm);
                else
                    for (size_t q = 0; q < mm; q++) ((float *)r->data)[k * mm + q] = (float)src[q];
            }
        }
    }
    rc = 0;
done:
    free(fld);
    free(out);
    ns2d_free(s);
    return rc;
}

// Fills one sample's data; a failure names the sample.
static int gen_sample(void *ctx, long sample, tsr_record *recs, eddy_err *e)
{
    const job *jb = ctx;
    if (!fill_sample(jb->c, sample, jb->inner, recs, e)) return 0;
    return eddy_wrap(e, "sample %ld", sample);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops) cli_die(EXIT_USAGE, "unexpected operand '%s' (ns-gen reads no input)", ops[0]);
    config c;
    configure(&c);
    eddy_err e;
    ns2d_params probe = c.p;
    ns2d *chk = ns2d_create(&probe, &e);
    if (!chk) cli_die(EXIT_USAGE, "%s", e.msg);
    ns2d_free(chk);
    int threads = cli_threads(o.threads);
    // Whole samples in parallel when there are several; otherwise the two
    // transform lanes of one solver.  Either way the bytes are the same.
    int par = threads > 1 && o.count > 1 ? (threads < o.count ? threads : (int)o.count) : 1;
    int inner = par > 1 ? 1 : threads;
    tsr_writer *w = cli_writer(o.output, NULL);
    long per = c.spin_steps + (long)(c.frames - 1) * c.frame_steps;
    progress_start(&pg, "steps", (double)per * o.count, o.quiet);
    job jb = {&c, inner};
    cli_write_samples(w, o.first, o.count, par, c.ngrids * c.nfields, head_sample, gen_sample, &jb);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    progress_end(&pg, NULL);
    return 0;
}
