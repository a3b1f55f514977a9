// closure-run: the a-posteriori test of a stochastic closure (research/closure.md
// §7): the coarse solver with one term removed and replaced by samples of the
// score model, against the full system on the same grid, and the same run with
// no closure at all.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "closure_obs.h"
#include "closure_score.h"
#include "metrics.h"
#include "ns2d.h"
#include "progress.h"
#include "vesde.h"

static void die_ns(const char *what, eddy_err *e) { cli_die(EXIT_DATA, "%s: %s", what, e->msg); }

int main(int argc, char **argv)
{
    const char *model = NULL, *term = "G", *init = NULL, *vname = "omega", *fill = NULL;
    const char *frames_out = NULL, *sampler = "em", *schedule = "karras";
    ns2d_params p;
    ns2d_params_default(&p);
    // The closure preset (SPEC §1.1) in the seed's units, L = 2π: the
    // reference's unit-square constants mapped by x → 2πx, t → 4π²t.
    const double s2 = 4 * M_PI * M_PI;
    p.n = 64, p.L = 2 * M_PI, p.nu = 1e-3, p.mu = 0, p.dt = 1e-3 * s2, p.scheme = NS2D_CN;
    p.forcing = NS2D_FORCE_CLOSURE, p.kf = 1, p.famp = 0.1 / (s2 * s2);
    p.beta = 5e-5 * sqrt(10.0) / s2, p.noise_a = 0.005 * s2, p.cfl_max = 2;
    double spinup = 20 * s2, T = 0, t_min = 1e-3, rho = 7;
    long nsteps = 2000, every = 5, report = 500, seed = 0, sample_id = 0;
    int obs_n = 0, box = 0, frame = -1, threads = 0, quiet = 0, steps_s = 0;
    const cli_opt opts[] = {
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
    const cli_spec spec = {
        "closure-run", "[options] -m MODEL",
        "coupled (a-posteriori) run of a stochastic closure against the full system",
        "Runs three solvers side by side on the same grid from the same vorticity:\n"
        "the reference (the full equation, with its stochastic forcing), the closure run\n"
        "(the chosen term removed, the stochastic forcing off, and a fresh sample of the\n"
        "term added every K steps - conditioned on the closure run's own vorticity and,\n"
        "for a v+obs model, on observations of the true term taken from the reference\n"
        "at that step - held constant in between), and the same run with no closure.\n"
        "Defaults are the closure preset (SPEC 1.1, L = 2 pi units); with --init the\n"
        "constants L nu mu dt kf famp beta noise_a come from the record's attributes\n"
        "(as ns-gen writes them) where present.  Writes TSV to\n"
        "stdout: step, t, rel. L2 error of the vorticity with and without closure, and\n"
        "the rel. L2 error of the latest sample against the true term.",
        "  closure-run -m G.model --steps 2000 --every 5 > coupled.tsv",
        opts};
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops) cli_die(EXIT_USAGE, "no operands expected");
    if (!model) cli_die(EXIT_USAGE, "--model is required");
    int isG = !strcmp(term, "G");
    if (!isG && strcmp(term, "H")) cli_die(EXIT_USAGE, "--term must be G or H, got '%s'", term);
    if (nsteps < 1 || every < 1 || report < 1) cli_die(EXIT_USAGE, "--steps, --every, --report must be >= 1");
    vesde_sampler sk;
    vesde_schedule sc;
    if (vesde_sampler_parse(sampler, &sk)) cli_die(EXIT_USAGE, "--sampler: em or heun");
    if (vesde_schedule_parse(schedule, &sc)) cli_die(EXIT_USAGE, "--schedule: karras or uniform");
    if (T == 0) T = sc == VESDE_SCHED_KARRAS ? 0.1 : 1.0;
    if (steps_s == 0) steps_s = sc == VESDE_SCHED_KARRAS ? 10 : 1000;
    if (steps_s < 1 || steps_s > 1000000) cli_die(EXIT_USAGE, "--sample-steps out of range");
    double *ts = malloc((size_t)(steps_s + 1) * sizeof *ts);
    eddy_err e;
    if (!ts || vesde_schedule_fill(sc, T, t_min, rho, steps_s, ts, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    cli_threads(threads);
    p.seed = (uint64_t)seed, p.sample = (uint64_t)sample_id;

    fno m;
    tsr_record hdr;
    cs_info ci;
    if (cs_model_load(model, &m, &hdr, &ci, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    double sigma0 = ci.sigma0;
    int with_obs = ci.with_obs;
    const char *mterm = tsr_attr_get(&hdr, "term");
    if (mterm && strcmp(mterm, term)) cli_die(EXIT_USAGE, "%s samples term %s, not %s", model, mterm, term);
    if (fno_grid_ok(&m.cfg, p.n, p.n, &e)) cli_die(EXIT_DATA, "grid %d: %s", p.n, e.msg);
    // Observations as the model was trained with them, unless told otherwise.
    long mobs = 5;
    tsr_attr_long(&hdr, "obs_n", &mobs, &e);
    if (obs_n == 0) obs_n = (int)mobs;
    if (!fill) fill = tsr_attr_get(&hdr, "obs_fill") ? tsr_attr_get(&hdr, "obs_fill") : "bicubic";
    if (!strcmp(fill, "coarse"))
        cli_die(EXIT_USAGE, "%s: its Y is the coarse term (closure-cond --y-coarse), which closure-run does not build; "
                "couple a V-only or observation model", model);
    obs_fill_kind fk;
    if (obs_fill_parse(fill, &fk)) cli_die(EXIT_USAGE, "--fill: bicubic or box, got '%s'", fill);
    if (obs_n < 1 || obs_n > p.n) cli_die(EXIT_USAGE, "--obs-n must be in 1..%d", p.n);

    int n = p.n;
    size_t nn = (size_t)n * n;
    double *w0 = calloc(nn, sizeof *w0);
    tsr_record rec;
    tsr_record_init(&rec);
    if (init) {
        FILE *f;
        tsr_reader *r = cli_reader(init, &f);
        int got, found = 0;
        while (!found && (got = tsr_read(r, &rec, &e)) == 1) {
            if (strcmp(rec.name, vname)) continue;
            if (rec.rank < 2 || rec.shape[rec.rank - 1] != (uint64_t)n || rec.shape[rec.rank - 2] != (uint64_t)n)
                continue;     // another output grid of the same sample
            // The run continues the physics that made the state (ns-gen's attributes).
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
    }
    if (fabs(m.cfg.length[0] - p.L) > 1e-9 * p.L)
        cli_die(EXIT_DATA, "the model was trained on L = %g, the run has L = %g", m.cfg.length[0], p.L);
    ns2d *ref = ns2d_create(&p, &e);
    if (!ref) die_ns("reference solver", &e);
    if (init) {
        ns2d_set_omega(ref, w0);
    } else {
        if (ns2d_init_grf(ref, 2.5, 7, pow(7, 1.5), &e)) die_ns("initial state", &e);
        if (ns2d_advance(ref, lround(spinup / p.dt), &e)) die_ns("spin-up", &e);
        ns2d_set_time(ref, 0, 0);
    }
    ns2d_get_omega(ref, w0);
    ns2d_params pc = p;
    pc.beta = 0;     // the sampled term carries the noise
    ns2d *clo = ns2d_create(&pc, &e), *noc = ns2d_create(&pc, &e);
    if (!clo || !noc) die_ns("closure solver", &e);
    ns2d_set_omega(clo, w0), ns2d_set_omega(noc, w0);
    int drop = isG ? NS2D_DROP_VISC : NS2D_DROP_ADV;
    ns2d_set_drop(clo, drop), ns2d_set_drop(noc, drop);

    double *wr = malloc(nn * sizeof *wr), *wc = malloc(nn * sizeof *wc), *wn = malloc(nn * sizeof *wn);
    double *Ut = malloc(nn * sizeof *Ut), *ext = malloc(nn * sizeof *ext);
    float *V = malloc(nn * sizeof *V), *Y = calloc(nn, sizeof *Y), *Us = malloc(nn * sizeof *Us);
    float *uf = malloc(nn * sizeof *uf), *obs = malloc((size_t)obs_n * obs_n * sizeof *obs);
    long nrep = nsteps / report + 1;
    float *fr = frames_out ? malloc((size_t)nrep * 3 * nn * sizeof *fr) : NULL;
    if (!wr || !wc || !wn || !Ut || !ext || !V || !Y || !Us || !uf || !obs || (frames_out && !fr))
        cli_die(EXIT_DATA, "out of memory");
    cs_ctx ctx = {.m = &m, .sigma0 = sigma0, .sigma_data = ci.sigma_data, .H = n, .W = n, .V = V, .Y = Y};
    vesde_sample_opts so = {.sigma0 = sigma0, .ts = ts, .nsteps = steps_s, .seed = (uint64_t)seed, .kind = sk};
    printf("step\tt\terr_closure\terr_noclosure\terr_term\n");
    progress pg;
    progress_start(&pg, "closure-run", (double)nsteps, quiet);
    double term_err = NAN;
    long irep = 0;
    for (long s = 0; s <= nsteps; s++) {
        if (s % report == 0 || s == nsteps) {
            ns2d_get_omega(ref, wr), ns2d_get_omega(clo, wc), ns2d_get_omega(noc, wn);
            printf("%ld\t%.6g\t%.6g\t%.6g\t%.6g\n", s, ns2d_time(ref), met_rel_l2(wr, wc, nn),
                   met_rel_l2(wr, wn, nn), term_err);
            fflush(stdout);
            if (fr && irep < nrep && s % report == 0) {
                for (size_t i = 0; i < nn; i++) {
                    fr[(irep * 3 + 0) * nn + i] = (float)wr[i];
                    fr[(irep * 3 + 1) * nn + i] = (float)wc[i];
                    fr[(irep * 3 + 2) * nn + i] = (float)wn[i];
                }
                irep++;
            }
        }
        if (s == nsteps) break;
        if (s % every == 0) {
            ns2d_closure_terms(ref, isG ? Ut : NULL, isG ? NULL : Ut);
            ns2d_get_omega(clo, wc);
            for (size_t i = 0; i < nn; i++)
                V[i] = (float)(wc[i] * ci.v_scale), uf[i] = (float)(Ut[i] * ci.u_scale);
            if (with_obs && (obs_sample(uf, n, obs_n, obs, &e) || obs_fill(obs, obs_n, n, fk, box, Y, &e)))
                cli_die(EXIT_DATA, "observations: %s", e.msg);
            uint64_t cid = (uint64_t)s, sid = (uint64_t)sample_id;
            if (vesde_sample(&so, cs_score, &ctx, 1, nn, &cid, &sid, Us, &e))
                cli_die(EXIT_DATA, "step %ld: %s", s, e.msg);
            for (size_t i = 0; i < nn; i++) {
                if (!isfinite(Us[i])) cli_die(EXIT_DATA, "step %ld: non-finite closure sample", s);
                ext[i] = (Us[i] + (ci.residual ? Y[i] : 0.0f)) / ci.u_scale;
            }
            term_err = met_rel_l2(Ut, ext, nn);
            ns2d_set_external(clo, ext);
        }
        if (ns2d_advance(ref, 1, &e)) die_ns("reference", &e);
        if (ns2d_advance(clo, 1, &e)) die_ns("closure run", &e);
        if (ns2d_advance(noc, 1, &e)) die_ns("no-closure run", &e);
        progress_update(&pg, (double)(s + 1), NULL);
    }
    progress_end(&pg, NULL);
    if (fr) {
        tsr_writer *w = cli_writer(frames_out, NULL);
        const char *names[3] = {"omega_ref", "omega_closure", "omega_noclosure"};
        for (int k = 0; k < 3; k++) {
            tsr_record o;
            tsr_record_init(&o);
            uint64_t shp[3] = {(uint64_t)irep, (uint64_t)n, (uint64_t)n};
            if (tsr_record_alloc(&o, names[k], TSR_F4, 3, shp, &e)) cli_die(EXIT_DATA, "%s", e.msg);
            float *d = o.data;
            for (long r = 0; r < irep; r++) memcpy(d + r * nn, fr + (r * 3 + k) * nn, nn * sizeof *d);
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
    ns2d_free(ref), ns2d_free(clo), ns2d_free(noc);
    cs_ctx_free(&ctx);
    fno_free(&m);
    tsr_record_free(&hdr);
    free(w0), free(wr), free(wc), free(wn), free(Ut), free(ext), free(V), free(Y), free(Us), free(uf),
        free(obs), free(fr), free(ts);
    return 0;
}
