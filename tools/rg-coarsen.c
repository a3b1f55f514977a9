// rg-coarsen: the RG coarse-graining of Yasuda & Bischoff (lib/rg.h) on every frame of
// every record of a stream.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "async_writer.h"
#include "cli.h"
#include "layout.h"
#include "rg.h"

static const char description[] =
    "Applies u_lambda = C_lambda u_0 + sqrt(Sigma_lambda) eps to every field of every record,\n"
    "per spatial Fourier mode k != 0:\n"
    "    C_lambda(k) = exp(-alpha |k|^2 lambda)\n"
    "    Sigma_lambda(k) = beta^2 (1 - exp(-2 alpha |k|^2 lambda)) / (2 alpha |k|^2)\n"
    "eps is white N(0,1) noise per grid point, coloured by ifft(sqrt(Sigma) fft(eps)) with the\n"
    "orthonormal DFT, so its variance per point is tr(Sigma)/D.  The k = 0 mode (the field's\n"
    "mean) is left untouched.  Each frame is processed on its own, never along time.\n"
    "\n"
    "Axes come from the record's dims attribute (x and y spatial and trailing, t time, c\n"
    "channels, any other name a batch axis), or from --dims; without either, rank 1 is x,\n"
    "2 is y,x, 3 is t,y,x and 4 is t,c,y,x.  The periodic domain length is the L attribute,\n"
    "else 2*pi, so |k| = 2 pi n / L.  --laplacian fd uses the reference code's symbol\n"
    "4 sin^2(pi n/N)/h^2 (h = L/N) instead of |k|^2.\n"
    "\n"
    "Noise of frame f of a record comes from the key (seed, sample, f, the record's name and\n"
    "grid), sample being the record's sample attribute (the sample index ns-gen, l96-gen\n"
    "and pd-sample write): the same bytes at any thread count, and coarsening shards of a\n"
    "stream (ns-gen --first/--count, tsr-cat --records) gives the records of coarsening the\n"
    "whole.  A record without a sample attribute is keyed by its position r in the input\n"
    "instead, (seed, r, f), with a warning: then only the whole stream gives those bytes.\n"
    "A frame is the set of channels when c is the axis just before space.\n"
    "Sigma is floored at its value at lambda = --lambda-floor (the paper: 1e-3), so noise is added\n"
    "even at lambda = 0; --no-noise gives the deterministic reference C_lambda u_0, and with\n"
    "lambda = 0 the exact identity.\n"
    "\n"
    "Output attributes: lambda (summed with an input lambda of the same alpha, beta and\n"
    "Laplacian: the semigroup), alpha, beta, laplacian, lambda_floor, rg_noise (1 or 0),\n"
    "rg_seed, sigma2_dt = tr(Sigma_lambda)/D (= sigma_lambda^2 dt), and sigma_lambda =\n"
    "sqrt(tr(Sigma)/(dt D)) when the time between frames dt is known: --dt, else the\n"
    "interval attribute (what ns-gen and l96-gen write; their dt is the solver step), else\n"
    "the dt attribute.  Every other\n"
    "attribute passes through.  Fields are <f4 or <f8 and keep their dtype; NaN or Inf in\n"
    "the input is an error.\n"
    "\n"
    "Presets (the paper's): l96 is alpha 0.1, beta sqrt(2); kolmogorov is alpha 0.3, beta sqrt(6).";

static const char example[] =
    "  l96-gen --samples 4 | rg-coarsen --preset l96 --lambda 0.2 > coarse.tsr\n"
    "  rg-coarsen --alpha 0.3 --beta 2.449 --lambda 0.2 --no-noise < kf.tsr > ref.tsr";

static double parse_num(const char *opt, const char *s, double lo)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo)
        cli_die(EXIT_USAGE, "option --%s: '%s' is not a finite number >= %g", opt, s, lo);
    return v;
}

static int same(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)); }

// Options (file scope so the table below can point at them).
static const char *lambda_s = NULL, *alpha_s = NULL, *beta_s = NULL, *preset = NULL, *lap_s = "spectral";
static const char *dims = NULL, *out = "-", *dt_s = NULL;
static double floor_ = RG_LAMBDA_FLOOR;
static long seed = 0;
static int noise = 0, no_noise = 0, threads = 0;

    static cli_opt opts[] = {
        { "lambda", 'l', OPT_STRING, &lambda_s, "X", "RG scale lambda >= 0 (required; dimensionless)", -CLI_INF, 1e6 },
        { "alpha", 'a', OPT_STRING, &alpha_s, "X", "diffusion coefficient alpha >= 0 (required unless --preset)", -CLI_INF, 1e6 },
        { "beta", 'b', OPT_STRING, &beta_s, "X", "noise amplitude beta >= 0 (required unless --preset)", -CLI_INF, 1e6 },
        { "preset", 0, OPT_STRING, &preset, "NAME", "l96 (alpha 0.1, beta sqrt 2) or kolmogorov (0.3, sqrt 6)" },
        { "noise", 0, OPT_FLAG, &noise, NULL, "add the noise sqrt(Sigma) eps (the default)" },
        { "no-noise", 0, OPT_FLAG, &no_noise, NULL, "deterministic: C_lambda u_0 only" },
        { "laplacian", 0, OPT_STRING, &lap_s, "KIND", "spectral (|k|^2) or fd (4 sin^2(pi n/N)/h^2)" },
        { "lambda-floor", 0, OPT_DOUBLE, &floor_, "X", "Sigma uses max(lambda, this); 0 disables", 0, 1000000.0},
        CLI_OPT_SEED(&seed, "noise seed (>= 0)"),
        { "dt", 0, OPT_STRING, &dt_s, "X", "time between frames for sigma_lambda (default: interval, else dt attribute)", 1e-300, CLI_INF },
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names, overriding the dims attribute (e.g. t,c,x)" },
        CLI_OPT_OUTPUT(&out, "output stream ('-' is stdout)"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_END,
    };
    static cli_spec spec = { "rg-coarsen", "[options] [FILE]", "RG coarse-graining (heat semigroup plus noise) of fields",
                      description, example, opts };

// The settings of the run, from the options.
static double alpha = NAN, beta = NAN, lambda, dt_opt;
static rg_laplacian lap;
static int with_noise;

static void configure(int nops)
{
    if (nops > 1) cli_die(EXIT_USAGE, "one input stream at most (got %d operands)", nops);
    if (preset) {
        if (!strcmp(preset, "l96")) alpha = 0.1, beta = sqrt(2.0);
        else if (!strcmp(preset, "kolmogorov") || !strcmp(preset, "kf")) alpha = 0.3, beta = sqrt(6.0);
        else cli_die(EXIT_USAGE, "option --preset: '%s' is not l96 or kolmogorov", preset);
    }
    if (!lambda_s) cli_die(EXIT_USAGE, "option --lambda is required");
    if (alpha_s) alpha = parse_num("alpha", alpha_s, 0);
    if (beta_s) beta = parse_num("beta", beta_s, 0);
    if (isnan(alpha)) cli_die(EXIT_USAGE, "option --alpha is required (or --preset)");
    if (isnan(beta)) cli_die(EXIT_USAGE, "option --beta is required (or --preset)");
    lambda = parse_num("lambda", lambda_s, 0);
    if (!(floor_ >= 0) || !isfinite(floor_)) cli_die(EXIT_USAGE, "option --lambda-floor: %g is not >= 0", floor_);
    if (noise && no_noise) cli_die(EXIT_USAGE, "--noise and --no-noise contradict each other");
    if (seed < 0) cli_die(EXIT_USAGE, "option --seed: %ld is negative", seed);
    if (!strcmp(lap_s, "spectral")) lap = RG_LAP_SPECTRAL;
    else if (!strcmp(lap_s, "fd")) lap = RG_LAP_FD;
    else cli_die(EXIT_USAGE, "option --laplacian: '%s' is not spectral or fd", lap_s);
    dt_opt = dt_s ? parse_num("dt", dt_s, 0) : NAN;
    if (dt_s && !(dt_opt > 0)) cli_die(EXIT_USAGE, "option --dt: must be > 0");
    with_noise = !no_noise;
}

// The scale the record already has (0: none): coarsening data already at λ₁
// with the same operator gives λ₁ + λ (the semigroup).
static double input_lambda(const tsr_record *rp, long idx)
{
    eddy_err e;
    double lam_in = 0, a_in, b_in;
    int has = tsr_attr_double(rp, "lambda", &lam_in, &e);
    if (has < 0) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
    if (has != 0 || lam_in == 0) return 0;
    const char *lp = tsr_attr_get(rp, "laplacian");
    if (tsr_attr_double(rp, "alpha", &a_in, &e) != 0 || tsr_attr_double(rp, "beta", &b_in, &e) != 0 ||
        !same(a_in, alpha) || !same(b_in, beta) || !lp || strcmp(lp, lap_s))
        cli_die(EXIT_DATA,
                "record %ld: already coarse-grained (lambda=%g) with another alpha, beta or Laplacian; "
                "the scales would not compose", idx, lam_in);
    return lam_in;
}

// The output attributes of a record coarse-grained to lam_in + lambda.
static void set_attrs(tsr_record *rp, const rg_op *op, const layout *l, double lam_in, long idx)
{
    eddy_err e;
    rg_params total = { alpha, beta, lam_in + lambda, floor_ };
    // Δt of σ_λ is the time between frames: the generators write it as
    // `interval` (their `dt` is the solver step); `dt` alone is taken as
    // the frame spacing.
    double dt = dt_opt;
    for (int a = 0; a < 2 && isnan(dt); a++) {
        int hd = tsr_attr_double(rp, a ? "dt" : "interval", &dt, &e);
        if (hd < 0) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        if (hd == 1 || !(dt > 0)) dt = NAN;
    }
    double tr = rg_trace_per_point(op, &total);
    const char *prev_noise = tsr_attr_get(rp, "rg_noise");
    int mixed = lam_in != 0 && prev_noise && atoi(prev_noise) != with_noise;
    if (tsr_attr_set_double(rp, "lambda", total.lambda) || tsr_attr_set_double(rp, "alpha", alpha) ||
        tsr_attr_set_double(rp, "beta", beta) || tsr_attr_set(rp, "laplacian", lap_s) ||
        tsr_attr_set_double(rp, "lambda_floor", floor_) ||
        tsr_attr_set(rp, "rg_noise", mixed ? "mixed" : with_noise ? "1" : "0") ||
        tsr_attr_set_double(rp, "sigma2_dt", tr) || tsr_attr_set(rp, "dims", l->dims))
        cli_die(EXIT_DATA, "out of memory");
    if (with_noise) tsr_attr_setf(rp, "rg_seed", "%ld", seed);
    if (!isnan(dt)) tsr_attr_set_double(rp, "sigma_lambda", sqrt(tr / dt));
    else tsr_attr_del(rp, "sigma_lambda");
    tsr_history_append(rp, cli_cmdline());
}

// The noise key of record idx (see the description): keyed by what the
// record is, its sample index and name and grid (so omega, G and H of one
// sample, or its fields on two grids, get independent noise), not by where
// it sits in the input, so that shards coarsen as the whole does.
static rg_noise noise_key(const tsr_record *rp, long idx, const layout *l)
{
    static int warned;
    eddy_err e;
    long sample;
    int has = tsr_attr_long(rp, "sample", &sample, &e);
    if (has < 0 || (has == 0 && sample < 0))
        cli_die(EXIT_DATA, "record %ld: attribute sample: %s", idx, has < 0 ? e.msg : "negative");
    if (has != 0) {
        if (!warned++)
            cli_warn("record %ld has no sample attribute: its noise is keyed by its position in "
                     "the input, so a shard of this stream would not coarsen as the whole does", idx);
        return (rg_noise){ (uint64_t)seed, (uint64_t)idx, 0, RG_PURPOSE };
    }
    // FNV-1a over the name and the grid, folded into the purpose word.
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *c = rp->name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
    h = (h ^ (uint64_t)l->ny) * 0x100000001b3ULL;
    h = (h ^ (uint64_t)l->nx) * 0x100000001b3ULL;
    return (rg_noise){ (uint64_t)seed, (uint64_t)sample, 0, RG_PURPOSE ^ h };
}

// Record idx coarse-grained in place; *op is kept for the next record of the same grid.
static void coarsen(tsr_record *rp, long idx, rg_op **op, rg_grid *cur)
{
    eddy_err e;
    layout l;
    if (field_check(rp, &e) || layout_of(rp, dims, &l, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
    rg_grid g = { l.nspace, { l.nspace == 2 ? l.ny : l.nx, l.nx }, { l.L, l.L }, lap };
    if (!*op || memcmp(&g, cur, sizeof g)) {
        rg_op_free(*op);
        if (!(*op = rg_op_new(&g, &e))) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        *cur = g;
    }
    double lam_in = input_lambda(rp, idx);
    rg_params p = { alpha, beta, lambda, floor_ };
    rg_noise key = noise_key(rp, idx, &l);
    size_t nframes = l.nfields / l.frame_chan;
    int err = rp->dtype == TSR_F4
                  ? rg_apply_f(*op, &p, rp->data, nframes, (int)l.frame_chan, with_noise ? &key : NULL, &e)
                  : rg_apply(*op, &p, rp->data, nframes, (int)l.frame_chan, with_noise ? &key : NULL, &e);
    if (err) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
    set_attrs(rp, *op, &l, lam_in, idx);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    configure(nops);
    int nthreads = cli_threads(threads);

    tsr_reader *rd = cli_reader(nops ? ops[0] : "-", NULL);
    tsr_writer *wr = cli_writer(out, NULL);
    // Two records in turn: one being written while the next is read.
    tsr_record recs[2];
    tsr_record_init(&recs[0]);
    tsr_record_init(&recs[1]);
    async_writer aw;
    aw_start(&aw, wr, nthreads > 1);
    rg_op *op = NULL;
    rg_grid cur = { 0 };
    eddy_err e;
    int rc;
    long idx = 0;
    for (;;) {
        tsr_record *rp = &recs[idx & 1];
        // The writer is done with *rp: aw_put waited for it before taking
        // the other record.
        if ((rc = tsr_read(rd, rp, &e)) != 1) break;
        coarsen(rp, idx, &op, &cur);
        if (aw_put(&aw, rp, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        idx++;
    }
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (aw_stop(&aw, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (tsr_writer_finish(wr, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    rg_op_free(op);
    tsr_record_free(&recs[0]);
    tsr_record_free(&recs[1]);
    tsr_reader_close(rd);
    return 0;
}
