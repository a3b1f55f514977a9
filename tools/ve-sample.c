// ve-sample: draws closure samples from a trained conditional score model by
// integrating the reverse VE-SDE (lib/closure_score.h, lib/vesde.h).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closure_score.h"
#include "progress.h"
#include "vesde.h"

// Options (file scope so the table below can point at them).
static const char *model = NULL, *out = "-", *truth = NULL, *obs_out = NULL, *sampler = "em", *schedule = "karras";
static double T = 0, t_min = 1e-3, rho = 7;
static int steps = 0, K = 1, batch = 16, threads = 0, quiet = 0;
static long seed = 0, first = 0, count = 0;

    static const cli_opt opts[] = {
        {"model", 'm', OPT_STRING, &model, "FILE", "checkpoint written by fno-train (required)"},
        {"samples", 'K', OPT_INT, &K, "K", "samples per condition", 1, 1073741824},
        {"sampler", 0, OPT_STRING, &sampler, "S", "em (reverse SDE) or heun (probability flow)"},
        {"schedule", 0, OPT_STRING, &schedule, "S", "karras (rho-schedule in t) or uniform"},
        {"T", 0, OPT_DOUBLE, &T, "T", "first diffusion time (0: 0.1 karras, 1 uniform)", 0, 1000000.0},
        {"steps", 'n', OPT_INT, &steps, "N", "reverse steps (0: 10 karras, 1000 uniform)", 0, 16777216},
        {"t-min", 0, OPT_DOUBLE, &t_min, "T", "karras: last time before 0", 1e-300, 1000000.0},
        {"rho", 0, OPT_DOUBLE, &rho, "X", "karras: exponent", 1e-300, 1000000.0},
        {"first", 0, OPT_LONG, &first, "R", "shards: start at the input's closure record R (0-based); the noise is keyed as in the whole run", 0, CLI_BIG},
        {"count", 0, OPT_LONG, &count, "N", "closure records to sample from --first (0: all the rest)", 0, CLI_BIG},
        {"batch", 'b', OPT_INT, &batch, "N", "samples integrated together (changes only the rounding)", 1, 16777216},
        {"truth", 0, OPT_STRING, &truth, "FILE", "also write the true U of each condition here"},
        {"obs", 0, OPT_STRING, &obs_out, "FILE", "also write the filled observations Y here (the interpolation baseline)"},
        CLI_OPT_OUTPUT(&out, "output stream"),
        CLI_OPT_SEED(&seed, "seed; sample k of condition c uses (seed, c, k)"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
        "ve-sample", "[options] -m MODEL [COND]",
        "sample a stochastic closure term from a conditional VE-SDE score model",
        "For every frame of every closure-cond record (the condition: V and the filled\n"
        "observations Y), draws K samples of U from N(0, sigma_T^2) back to t = 0.\n"
        "em: Euler-Maruyama on the reverse SDE, x += g^2 s dt + g sqrt(dt) z, the last\n"
        "step without noise (the reference's sampler), one network evaluation per step.\n"
        "heun: the probability-flow ODE dx/dsigma = -sigma s, Heun's method in sigma,\n"
        "Euler on the step to 0; deterministic given the initial draw, 2N-1 evaluations.\n"
        "Schedules: karras t_i = (T^(1/rho) + i/(N-1)(t_min^(1/rho) - T^(1/rho)))^rho then\n"
        "0 (default T = 0.1, N = 10); uniform t_i = T(1 - i/N) (T = 1, N = 1000: the\n"
        "baseline).  Condition c is the frame's index in the input stream; the noise\n"
        "of a sample does not depend on --batch or --threads, the bytes not on\n"
        "--threads (--batch changes the network's rounding only).  Output: K consecutive records 'U'\n"
        "(T, H, W) per input record (attribute member = 0..K-1; relerr --members K\n"
        "reads them as an ensemble), with attributes sampler, schedule, steps, T and\n"
        "nfe (network evaluations per sample).  A --residual model's samples are Y plus\n"
        "the sampled correction.  --truth writes U of each input record,\n"
        "--obs its filled observations Y (records 'Y', for relerr against --truth).\n"
        "Shards: --first R --count N sample closure records R..R+N-1 alone, with the\n"
        "noise of the whole run; shards concatenated are one run's bytes.",
        "  ve-sample -m G.model --truth truth.tsr test-cond.tsr > samples.tsr\n"
        "  relerr truth.tsr samples.tsr",
        opts};

static fno m;
static tsr_record hdr;
static cs_info ci;
static vesde_sample_opts so;
static progress pg;
static long done;

// Checks the options; the sampler (its schedule malloc'ed).
static void configure(int nops)
{
    if (!model) cli_die(EXIT_USAGE, "--model is required");
    if (nops > 1) cli_die(EXIT_USAGE, "one condition stream at most, got %d", nops);
    vesde_sampler skind;
    vesde_schedule sched;
    if (vesde_sampler_parse(sampler, &skind)) cli_die(EXIT_USAGE, "--sampler: em or heun, got '%s'", sampler);
    if (vesde_schedule_parse(schedule, &sched))
        cli_die(EXIT_USAGE, "--schedule: karras or uniform, got '%s'", schedule);
    vesde_schedule_defaults(sched, &T, &steps);
    if (first < 0 || count < 0) cli_die(EXIT_USAGE, "--first and --count must be >= 0");
    if (K < 1 || batch < 1 || steps < 1) cli_die(EXIT_USAGE, "--samples, --batch and --steps must be >= 1");
    if (steps > 1000000) cli_die(EXIT_USAGE, "--steps %d is absurd", steps);
    double *ts = malloc((size_t)(steps + 1) * sizeof *ts);
    eddy_err e;
    if (!ts || vesde_schedule_fill(sched, T, t_min, rho, steps, ts, &e)) cli_die(EXIT_USAGE, "schedule: %s", e.msg);
    so = (vesde_sample_opts){.ts = ts, .nsteps = steps, .seed = (uint64_t)seed, .kind = skind};
}

// A condition record fits the model: grid, domain, term.
static void check_record(const tsr_record *rec, long ri)
{
    eddy_err e;
    if (cs_record_check(rec, &e)) cli_die(EXIT_DATA, "record %ld: %s", ri, e.msg);
    int H = (int)rec->shape[1], W = (int)rec->shape[2];
    if (fno_grid_ok(&m.cfg, H, W, &e)) cli_die(EXIT_DATA, "record %ld: grid %d×%d: %s", ri, H, W, e.msg);
    double L;
    if (tsr_attr_double(rec, "L", &L, &e) == 0 && fabs(L - m.cfg.length[0]) > 1e-9 * L)
        cli_die(EXIT_DATA, "record %ld: domain length %g, the model was trained on %g", ri, L,
                m.cfg.length[0]);
    const char *term = tsr_attr_get(rec, "term");
    if (term && ci.term && strcmp(term, ci.term))
        cli_die(EXIT_DATA, "record %ld: conditions for term %s, the model samples %s", ri, term, ci.term);
}

// Record `name` (T, H, W) of data x with the attributes of the condition record rec.
static void write_field(tsr_writer *w, const char *path, const tsr_record *rec, const char *name,
                        const float *x)
{
    eddy_err e;
    tsr_record tr;
    tsr_record_init(&tr);
    tsr_attrs_copy(&tr, rec);
    if (tsr_record_alloc(&tr, name, TSR_F4, 3, rec->shape, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    memcpy(tr.data, x, tsr_numel(&tr) * sizeof *x);
    tsr_attr_del(&tr, "channels");
    tsr_attr_set(&tr, "dims", "t,y,x");
    tsr_history_append(&tr, cli_cmdline());
    if (tsr_write(w, &tr, &e)) cli_die(EXIT_DATA, "%s: %s", path, e.msg);
    tsr_record_free(&tr);
}

// The K members of every frame of the record, as K records 'U'.
static void write_members(tsr_writer *w, const tsr_record *rec, const float *dst)
{
    eddy_err e;
    int nt = (int)rec->shape[0];
    size_t hw = (size_t)rec->shape[1] * rec->shape[2];
    tsr_record o;
    tsr_record_init(&o);
    tsr_attrs_copy(&o, rec);
    if (tsr_record_alloc(&o, "U", TSR_F4, 3, rec->shape, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    tsr_attr_del(&o, "channels");
    tsr_attr_set(&o, "dims", "t,y,x");
    tsr_attr_set(&o, "sampler", sampler);
    tsr_attr_set(&o, "schedule", schedule);
    tsr_attr_setf(&o, "steps", "%d", steps);
    tsr_attr_set_double(&o, "T", T);
    tsr_attr_setf(&o, "nfe", "%ld", vesde_nfe(so.kind, steps));
    tsr_attr_setf(&o, "seed", "%ld", seed);
    tsr_attr_set(&o, "model", model);
    tsr_attr_set(&o, "cond", ci.with_obs ? "v+obs" : "v");
    tsr_history_append(&o, cli_cmdline());
    for (int k = 0; k < K; k++) {
        float *od = o.data;
        for (int fr = 0; fr < nt; fr++)
            memcpy(od + fr * hw, dst + ((size_t)fr * K + k) * hw, hw * sizeof *od);
        tsr_attr_setf(&o, "member", "%d", k);
        if (tsr_write(w, &o, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    }
    tsr_record_free(&o);
}

static void batch_done(void *ctx, int B)
{
    char note[48];
    done += B;
    snprintf(note, sizeof note, "%ld samples", done);
    progress_update(&pg, (double)done, note);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    configure(nops);
    cli_threads(threads);
    eddy_err e;
    if (cs_model_load(model, &m, &hdr, &ci, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    so.sigma0 = ci.sigma0;
    FILE *f;
    tsr_reader *r = cli_reader(nops ? ops[0] : "-", &f);
    tsr_writer *w = cli_writer(out, NULL), *wt = truth ? cli_writer(truth, NULL) : NULL;
    tsr_writer *wy = obs_out ? cli_writer(obs_out, NULL) : NULL;
    tsr_record rec;
    tsr_record_init(&rec);
    progress_start(&pg, "ve-sample", 0, quiet);
    long cbase = 0, nrec = 0;
    int got;
    while ((got = tsr_read(r, &rec, &e)) == 1) {
        long ri = tsr_reader_index(r) - 1;
        if (strcmp(rec.name, "closure")) continue;
        check_record(&rec, ri);
        int nt = (int)rec.shape[0], H = (int)rec.shape[1], W = (int)rec.shape[2];
        // Outside the shard: only the condition indices advance, so that the
        // records inside draw the noise of the whole run.
        long idx = nrec++;
        if (idx < first || (count > 0 && idx >= first + count)) {
            cbase += nt;
            continue;
        }
        size_t n = (size_t)nt * H * W;
        float *U = malloc(n * sizeof *U), *V = malloc(n * sizeof *V), *Y = malloc(n * sizeof *Y);
        float *dst = malloc(n * K * sizeof *dst);
        if (!U || !V || !Y || !dst) cli_die(EXIT_DATA, "out of memory");
        cs_record_split(&rec, U, V, Y, &e);
        cs_units_to_net(&ci, NULL, V, Y, n);
        if (cs_sample_frames(&m, &ci, &so, H, W, nt, V, Y, K, batch, cbase, dst, batch_done, NULL, &e))
            cli_die(EXIT_DATA, "record %ld: %s", ri, e.msg);
        write_members(w, &rec, dst);
        // The truth and the observations as they came in (Y unscaled again).
        cs_units_from_net(&ci, Y, NULL, n);
        if (wt) write_field(wt, truth, &rec, "U", U);
        if (wy) write_field(wy, obs_out, &rec, "Y", Y);
        cbase += nt;
        free(U), free(V), free(Y), free(dst);
    }
    if (got < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (cbase == 0) cli_die(EXIT_DATA, "no 'closure' records in the input (run closure-cond first)");
    if (first >= nrec) cli_die(EXIT_USAGE, "--first %ld: the input has %ld closure records (0..%ld)", first, nrec, nrec - 1);
    if (wt && tsr_writer_finish(wt, &e)) cli_die(EXIT_DATA, "%s: %s", truth, e.msg);
    if (wy && tsr_writer_finish(wy, &e)) cli_die(EXIT_DATA, "%s: %s", obs_out, e.msg);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    char note[64];
    snprintf(note, sizeof note, "%ld samples, %ld network evaluations each", done, vesde_nfe(so.kind, steps));
    progress_end(&pg, note);
    tsr_reader_close(r);
    if (f != stdin) fclose(f);
    tsr_record_free(&rec), tsr_record_free(&hdr);
    fno_free(&m);
    free((double *)so.ts);
    return 0;
}
