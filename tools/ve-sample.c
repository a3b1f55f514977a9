// ve-sample: draws closure samples from a trained conditional score model by
// integrating the reverse VE-SDE (SPEC §3.2).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "closure_score.h"
#include "progress.h"
#include "vesde.h"

int main(int argc, char **argv)
{
    const char *model = NULL, *out = "-", *truth = NULL, *obs_out = NULL, *sampler = "em", *schedule = "karras";
    double T = 0, t_min = 1e-3, rho = 7;
    int steps = 0, K = 1, batch = 16, threads = 0, quiet = 0;
    long seed = 0;
    const cli_opt opts[] = {
        {"model", 'm', OPT_STRING, &model, "FILE", "checkpoint written by fno-train (required)"},
        {"samples", 'K', OPT_INT, &K, "K", "samples per condition", 1, 1073741824},
        {"sampler", 0, OPT_STRING, &sampler, "S", "em (reverse SDE) or heun (probability flow)"},
        {"schedule", 0, OPT_STRING, &schedule, "S", "karras (rho-schedule in t) or uniform"},
        {"T", 0, OPT_DOUBLE, &T, "T", "first diffusion time (0: 0.1 karras, 1 uniform)", 0, 1000000.0},
        {"steps", 'n', OPT_INT, &steps, "N", "reverse steps (0: 10 karras, 1000 uniform)", 0, 16777216},
        {"t-min", 0, OPT_DOUBLE, &t_min, "T", "karras: last time before 0", 1e-300, 1000000.0},
        {"rho", 0, OPT_DOUBLE, &rho, "X", "karras: exponent", 1e-300, 1000000.0},
        {"batch", 'b', OPT_INT, &batch, "N", "samples integrated together (changes only the rounding)", 1, 16777216},
        {"truth", 0, OPT_STRING, &truth, "FILE", "also write the true U of each condition here"},
        {"obs", 0, OPT_STRING, &obs_out, "FILE", "also write the filled observations Y here (the interpolation baseline)"},
        CLI_OPT_OUTPUT(&out, "output stream"),
        CLI_OPT_SEED(&seed, "seed; sample k of condition c uses (seed, c, k)"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    const cli_spec spec = {
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
        "--obs its filled observations Y (records 'Y', for relerr against --truth).",
        "  ve-sample -m G.model --truth truth.tsr test-cond.tsr > samples.tsr\n"
        "  relerr truth.tsr samples.tsr",
        opts};
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (!model) cli_die(EXIT_USAGE, "--model is required");
    if (nops > 1) cli_die(EXIT_USAGE, "one condition stream at most, got %d", nops);
    vesde_sampler skind;
    vesde_schedule sched;
    if (vesde_sampler_parse(sampler, &skind)) cli_die(EXIT_USAGE, "--sampler: em or heun, got '%s'", sampler);
    if (vesde_schedule_parse(schedule, &sched))
        cli_die(EXIT_USAGE, "--schedule: karras or uniform, got '%s'", schedule);
    if (T == 0) T = sched == VESDE_SCHED_KARRAS ? 0.1 : 1.0;
    if (steps == 0) steps = sched == VESDE_SCHED_KARRAS ? 10 : 1000;
    if (K < 1 || batch < 1 || steps < 1) cli_die(EXIT_USAGE, "--samples, --batch and --steps must be >= 1");
    if (steps > 1000000) cli_die(EXIT_USAGE, "--steps %d is absurd", steps);
    double *ts = malloc((size_t)(steps + 1) * sizeof *ts);
    eddy_err e;
    if (!ts || vesde_schedule_fill(sched, T, t_min, rho, steps, ts, &e)) cli_die(EXIT_USAGE, "schedule: %s", e.msg);
    cli_threads(threads);

    fno m;
    tsr_record hdr;
    cs_info ci;
    if (cs_model_load(model, &m, &hdr, &ci, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    double sigma0 = ci.sigma0;
    int with_obs = ci.with_obs;

    FILE *f;
    tsr_reader *r = cli_reader(nops ? ops[0] : "-", &f);
    tsr_writer *w = cli_writer(out, NULL), *wt = truth ? cli_writer(truth, NULL) : NULL;
    tsr_writer *wy = obs_out ? cli_writer(obs_out, NULL) : NULL;
    vesde_sample_opts so = {.sigma0 = sigma0, .ts = ts, .nsteps = steps, .seed = (uint64_t)seed,
                            .kind = skind};
    cs_ctx ctx = {.m = &m, .sigma0 = sigma0, .sigma_data = ci.sigma_data};
    tsr_record rec, o, tr;
    tsr_record_init(&rec), tsr_record_init(&o), tsr_record_init(&tr);
    progress p;
    progress_start(&p, "ve-sample", 0, quiet);
    long cbase = 0, done = 0;
    int got;
    while ((got = tsr_read(r, &rec, &e)) == 1) {
        long ri = tsr_reader_index(r) - 1;
        if (strcmp(rec.name, "closure")) continue;
        if (cs_record_check(&rec, &e)) cli_die(EXIT_DATA, "record %ld: %s", ri, e.msg);
        int nt = (int)rec.shape[0], H = (int)rec.shape[1], W = (int)rec.shape[2];
        if (fno_grid_ok(&m.cfg, H, W, &e)) cli_die(EXIT_DATA, "record %ld: grid %d×%d: %s", ri, H, W, e.msg);
        double L;
        if (tsr_attr_double(&rec, "L", &L, &e) == 0 && fabs(L - m.cfg.length[0]) > 1e-9 * L)
            cli_die(EXIT_DATA, "record %ld: domain length %g, the model was trained on %g", ri, L,
                    m.cfg.length[0]);
        const char *term = tsr_attr_get(&rec, "term"), *mterm = tsr_attr_get(&hdr, "term");
        if (term && mterm && strcmp(term, mterm))
            cli_die(EXIT_DATA, "record %ld: conditions for term %s, the model samples %s", ri, term, mterm);
        size_t hw = (size_t)H * W;
        float *U = malloc((size_t)nt * hw * sizeof *U), *V = malloc((size_t)nt * hw * sizeof *V),
              *Y = malloc((size_t)nt * hw * sizeof *Y);
        float *bv = malloc((size_t)batch * hw * sizeof *bv), *by = malloc((size_t)batch * hw * sizeof *by);
        uint64_t *cid = malloc((size_t)batch * sizeof *cid), *sid = malloc((size_t)batch * sizeof *sid);
        if (!U || !V || !Y || !bv || !by || !cid || !sid) cli_die(EXIT_DATA, "out of memory");
        cs_record_split(&rec, U, V, Y, &e);
        cs_scale(V, (size_t)nt * hw, ci.v_scale), cs_scale(Y, (size_t)nt * hw, ci.u_scale);
        uint64_t shp[3] = {(uint64_t)nt, (uint64_t)H, (uint64_t)W};
        tsr_record_free(&o);
        tsr_attrs_copy(&o, &rec);
        if (tsr_record_alloc(&o, "U", TSR_F4, 3, shp, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_attr_del(&o, "channels");
        tsr_attr_set(&o, "dims", "t,y,x");
        tsr_attr_set(&o, "sampler", sampler);
        tsr_attr_set(&o, "schedule", schedule);
        tsr_attr_setf(&o, "steps", "%d", steps);
        tsr_attr_set_double(&o, "T", T);
        tsr_attr_setf(&o, "nfe", "%ld", vesde_nfe(skind, steps));
        tsr_attr_setf(&o, "seed", "%ld", seed);
        tsr_attr_set(&o, "model", model);
        tsr_attr_set(&o, "cond", with_obs ? "v+obs" : "v");
        tsr_history_append(&o, cli_cmdline());
        // Members are integrated together, then written as K records.
        long total = (long)nt * K;
        float *dst = malloc((size_t)total * hw * sizeof *dst);
        if (!dst) cli_die(EXIT_DATA, "out of memory");
        for (long j0 = 0; j0 < total; j0 += batch) {
            int B = (int)(total - j0 < batch ? total - j0 : batch);
            for (int b = 0; b < B; b++) {
                long j = j0 + b, fr = j / K;
                cid[b] = (uint64_t)(cbase + fr), sid[b] = (uint64_t)(j % K);
                memcpy(bv + b * hw, V + fr * hw, hw * sizeof *bv);
                memcpy(by + b * hw, Y + fr * hw, hw * sizeof *by);
            }
            ctx.H = H, ctx.W = W, ctx.V = bv, ctx.Y = by;
            if (vesde_sample(&so, cs_score, &ctx, B, hw, cid, sid, dst + j0 * hw, &e))
                cli_die(EXIT_DATA, "record %ld: %s", ri, e.msg);
            if (ci.residual)
                for (size_t i = 0; i < (size_t)B * hw; i++) dst[j0 * hw + i] += by[i];
            cs_scale(dst + j0 * hw, (size_t)B * hw, 1 / ci.u_scale);
            for (size_t i = 0; i < (size_t)B * hw; i++)
                if (!isfinite(dst[j0 * hw + i]))
                    cli_die(EXIT_DATA, "record %ld: the sampler produced a non-finite value", ri);
            done += B;
            char note[48];
            snprintf(note, sizeof note, "%ld samples", done);
            progress_update(&p, (double)done, note);
        }
        for (int k = 0; k < K; k++) {
            float *od = o.data;
            for (int fr = 0; fr < nt; fr++)
                memcpy(od + fr * hw, dst + ((size_t)fr * K + k) * hw, hw * sizeof *od);
            tsr_attr_setf(&o, "member", "%d", k);
            if (tsr_write(w, &o, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        }
        free(dst);
        // The truth and the observations as they came in (Y unscaled again).
        cs_scale(Y, (size_t)nt * hw, 1 / ci.u_scale);
        for (int k = 0; k < 2; k++) {
            tsr_writer *ww = k ? wy : wt;
            if (!ww) continue;
            uint64_t ts3[3] = {(uint64_t)nt, (uint64_t)H, (uint64_t)W};
            tsr_record_free(&tr);
            tsr_attrs_copy(&tr, &rec);
            if (tsr_record_alloc(&tr, k ? "Y" : "U", TSR_F4, 3, ts3, &e)) cli_die(EXIT_DATA, "%s", e.msg);
            memcpy(tr.data, k ? Y : U, (size_t)nt * hw * sizeof *U);
            tsr_attr_del(&tr, "channels");
            tsr_attr_set(&tr, "dims", "t,y,x");
            tsr_history_append(&tr, cli_cmdline());
            if (tsr_write(ww, &tr, &e)) cli_die(EXIT_DATA, "%s: %s", k ? obs_out : truth, e.msg);
        }
        cbase += nt;
        free(U), free(V), free(Y), free(bv), free(by), free(cid), free(sid);
    }
    if (got < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (cbase == 0) cli_die(EXIT_DATA, "no 'closure' records in the input (run closure-cond first)");
    if (wt && tsr_writer_finish(wt, &e)) cli_die(EXIT_DATA, "%s: %s", truth, e.msg);
    if (wy && tsr_writer_finish(wy, &e)) cli_die(EXIT_DATA, "%s: %s", obs_out, e.msg);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    char note[64];
    snprintf(note, sizeof note, "%ld samples, %ld network evaluations each", done, vesde_nfe(skind, steps));
    progress_end(&p, note);
    tsr_reader_close(r);
    if (f != stdin) fclose(f);
    tsr_record_free(&rec), tsr_record_free(&o), tsr_record_free(&tr), tsr_record_free(&hdr);
    fno_free(&m);
    cs_ctx_free(&ctx);
    free(ts);
    return 0;
}
