// fno-train: trains the conditional score model of the stochastic closure
// (SPEC §3.2) on closure-cond records with the VE-SDE denoising loss.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "closure_score.h"
#include "progress.h"
#include "rng.h"
#include "vesde.h"

static int parse_widths(const char *s, int *w, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000 || n == max) return -1;
        w[n++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

// Data order of one epoch: keyed by (seed, epoch), so a resumed run sees the
// batches an uninterrupted one would.
static void epoch_order(long *perm, long n, uint64_t seed, long epoch)
{
    eddy_rng r;
    rng_init(&r, seed, (uint64_t)epoch, 0, 0x0de7);
    rng_permutation(&r, perm, n);
}

// cs_data_read in the shape cli_read_all calls.
static int read_data(void *d, tsr_reader *r, const char *name, eddy_err *e)
{
    return cs_data_read(d, r, name, e);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *resume = NULL, *log_path = NULL, *cond = "v+obs", *fuse = "40,20,20,128";
    const char *reduce = "sum";
    cs_arch arch;
    cs_arch_default(&arch);
    double sigma0 = VESDE_SIGMA0, t_min = 2e-5, t_max = 2, lr = 1e-3, gamma = 0.5, clip = 0;
    double u_scale = 0, v_scale = 0, t_focus = 0, focus_frac = 0.5;
    int precond = 0, residual = 0;
    long steps = 0, ckpt_every = 1000;
    int epochs = 1000, decay_epochs = 200, batch = 200, threads = 0, quiet = 0;
    long seed = 42;
    const cli_opt opts[] = {
        CLI_OPT_OUTPUT(&out, "checkpoint to write (required)"),
        {"cond", 0, OPT_STRING, &cond, "C", "conditioning: v (vorticity only) or v+obs"},
        {"width", 0, OPT_INT, &arch.width, "N", "channels of each FNO branch", 1, 4096},
        {"layers", 0, OPT_INT, &arch.layers, "N", "Fourier layers per branch", 1, 256},
        {"modes", 0, OPT_INT, &arch.modes, "N", "Fourier modes kept per axis", 1, 4096},
        {"emb-size", 0, OPT_INT, &arch.emb_size, "N", "Gaussian Fourier features of the noise level", 1, 65536},
        {"emb-scale", 0, OPT_DOUBLE, &arch.emb_scale, "X", "std of the Fourier feature frequencies", 0, CLI_INF},
        {"emb-hidden", 0, OPT_INT, &arch.emb_hidden, "N", "width of the embedding MLP", 1, 65536},
        {"fuse", 0, OPT_STRING, &fuse, "W,W,..", "hidden widths of the fusion MLP"},
        {"sigma0", 0, OPT_DOUBLE, &sigma0, "X", "VE-SDE base: g(t) = sigma0^t", 1e-300, CLI_INF},
        {"u-scale", 0, OPT_DOUBLE, &u_scale, "X", "the net sees U·X and Y·X (0: L^4, the reference's units)", 0, CLI_INF},
        {"v-scale", 0, OPT_DOUBLE, &v_scale, "X", "the net sees V·X (0: L^2, the reference's units)", 0, CLI_INF},
        {"t-min", 0, OPT_DOUBLE, &t_min, "T", "smallest training diffusion time", 0, 1000000.0},
        {"t-max", 0, OPT_DOUBLE, &t_max, "T", "largest training diffusion time (reference: 2)", 1e-300, 1000000.0},
        {"t-focus", 0, OPT_DOUBLE, &t_focus, "T", "with --focus-frac, draw t from U(t-min, T) instead (0: off)", 0, 1000000.0},
        {"focus-frac", 0, OPT_DOUBLE, &focus_frac, "F", "share of draws on (t-min, t-focus) when --t-focus is set", 0, 1},
        {"precond", 0, OPT_FLAG, &precond, NULL, "scale the net's noisy input by 1/sqrt(sigma_t^2 + sigma_data^2)"},
        {"residual", 0, OPT_FLAG, &residual, NULL, "v+obs: learn U - Y, the correction to the filled observations"},
        {"reduce", 0, OPT_STRING, &reduce, "R", "loss over grid points: sum (reference) or mean"},
        {"batch", 'b', OPT_INT, &batch, "N", "frames per step", 1, 16777216},
        {"epochs", 0, OPT_INT, &epochs, "N", "passes over the data (ignored with --steps)", 1, 1073741824},
        {"steps", 0, OPT_LONG, &steps, "N", "optimizer steps in total (0: from --epochs)", 0, CLI_BIG},
        CLI_OPT_LR(&lr),
        {"lr-decay-epochs", 0, OPT_INT, &decay_epochs, "N", "halve the rate every N epochs (0: never)", 0, 1073741824},
        {"lr-gamma", 0, OPT_DOUBLE, &gamma, "X", "factor of each learning-rate decay", 1e-300, 1},
        CLI_OPT_CLIP(&clip, "clip the gradient norm to X (0: no clipping)"),
        CLI_OPTS_CHECKPOINT(&ckpt_every, &resume, &log_path),
        CLI_OPT_SEED(&seed, "seed of initialisation, data order and noise"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    const cli_spec spec = {
        "fno-train", "[options] -o MODEL [COND...]",
        "train the conditional FNO score model of a stochastic closure (VE-SDE)",
        "Reads closure-cond records (channels U, V, Y; every frame one training\n"
        "example) from the files or stdin, and minimises the denoising score-matching\n"
        "loss  E ||sigma_t s(U_0 + sigma_t z, t, y) + z||^2,  t ~ U(t-min, t-max),\n"
        "summed over grid points and averaged over the batch (the reference's weighting\n"
        "lambda(t) = sigma_t^2).  sigma_t = sqrt((sigma0^2t - 1)/(2 ln sigma0)).\n"
        "The model: one FNO branch per input (noisy U_t with the noise-level embedding\n"
        "added after each layer, V, and with --cond v+obs the filled observations Y),\n"
        "fused by a pointwise MLP; score = output / sigma_t.  Every default is the\n"
        "reference code's, and so are the units the net sees by default: U and Y times\n"
        "L^4, V times L^2, which for L = 2 pi turns the seed's units back into the\n"
        "reference's unit square (where sigma0 = 26 and T = 0.1 were tuned; the scales\n"
        "are stored in the model and undone by ve-sample).  The learning rate decays by --lr-gamma every\n"
        "--lr-decay-epochs (torch StepLR).  Beyond the reference: --t-focus spends a\n"
        "share of the training draws on the times the accelerated sampler visits, and\n"
        "--precond scales the noisy input to unit variance (EDM's c_in, sigma_data\n"
        "the rms of the scaled training U, stored in the model), and --residual makes\n"
        "the diffusion model the correction U - Y to the filled observations (the\n"
        "samplers add Y back).  One difference: the embedding enters\n"
        "before each layer's activation (lib/fno.h), the reference adds it after.",
        "  closure-cond --term G train.tsr > cond.tsr\n"
        "  fno-train --steps 2000 --batch 32 --log loss.tsv -o G.model cond.tsr",
        opts};
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (!out) cli_die(EXIT_USAGE, "--output is required");
    if (strcmp(cond, "v") && strcmp(cond, "v+obs"))
        cli_die(EXIT_USAGE, "--cond must be v or v+obs, got '%s'", cond);
    arch.with_obs = !strcmp(cond, "v+obs");
    if (residual && !arch.with_obs) cli_die(EXIT_USAGE, "--residual needs --cond v+obs");
    if ((arch.nfuse = parse_widths(fuse, arch.fuse, FNO_MAX_MLP)) < 0)
        cli_die(EXIT_USAGE, "--fuse: expected comma-separated positive widths, got '%s'", fuse);
    if (!strcmp(reduce, "sum") == !strcmp(reduce, "mean"))
        cli_die(EXIT_USAGE, "--reduce must be sum or mean");
    if (batch < 1) cli_die(EXIT_USAGE, "--batch must be >= 1");
    if (!(sigma0 > 1)) cli_die(EXIT_USAGE, "--sigma0 must be > 1");
    if (!(t_min > 0 && t_max > t_min)) cli_die(EXIT_USAGE, "need 0 < --t-min < --t-max");
    if (!(t_focus >= 0) || (t_focus > 0 && !(t_focus > t_min && t_focus <= t_max)))
        cli_die(EXIT_USAGE, "--t-focus must be 0 or in (--t-min, --t-max]");
    if (!(focus_frac >= 0 && focus_frac <= 1)) cli_die(EXIT_USAGE, "--focus-frac must be in [0, 1]");
    if (!(lr > 0)) cli_die(EXIT_USAGE, "--lr must be > 0");
    if (!(clip >= 0)) cli_die(EXIT_USAGE, "--clip must be >= 0");
    if (ckpt_every < 1) cli_die(EXIT_USAGE, "--checkpoint-every must be >= 1");
    cli_threads(threads);

    eddy_err e;
    cs_data d = {0};
    tsr_record_init(&d.meta);
    cli_read_all(nops, ops, read_data, &d);
    if (d.n == 0) cli_die(EXIT_DATA, "no 'closure' records in the input (run closure-cond first)");
    if (batch > d.n) batch = (int)d.n;
    long per_epoch = d.n / batch;
    if (steps <= 0) steps = (long)epochs * per_epoch;

    double sigma_data = 0;
    fno m;
    adam opt;
    tsr_record hdr;
    tsr_record_init(&hdr);
    if (resume) {
        int has_opt = 0;
        cs_info ci;
        if (ckpt_load(resume, &m, &opt, &has_opt, &hdr, &e)) cli_die_path(EXIT_DATA, resume, e.msg);
        if (cs_header_check(&hdr, &m, &ci, &e)) cli_die(EXIT_DATA, "%s: %s", resume, e.msg);
        if (!has_opt) cli_die(EXIT_DATA, "%s: no optimizer state to resume from", resume);
        if (ci.with_obs != arch.with_obs)
            cli_die(EXIT_USAGE, "%s was trained with --cond %s", resume, ci.with_obs ? "v+obs" : "v");
        sigma0 = ci.sigma0, u_scale = ci.u_scale, v_scale = ci.v_scale, sigma_data = ci.sigma_data;
        residual = ci.residual;
        tsr_attr_double(&hdr, "closure.t_min", &t_min, &e);
        tsr_attr_double(&hdr, "closure.t_max", &t_max, &e);
        t_focus = 0;
        tsr_attr_double(&hdr, "closure.t_focus", &t_focus, &e);
        tsr_attr_double(&hdr, "closure.focus_frac", &focus_frac, &e);
    } else {
        fno_config cfg;
        arch.L = 2 * M_PI;
        tsr_attr_double(&d.meta, "L", &arch.L, &e);
        if (cs_config(&arch, &cfg, &e)) cli_die(EXIT_USAGE, "model: %s", e.msg);
        if (fno_create(&m, &cfg, (uint64_t)seed, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        adam_cfg ac;
        adam_cfg_default(&ac);
        ac.lr = lr;
        ac.decay_every = decay_epochs > 0 ? (long)decay_epochs * per_epoch : 0;
        ac.decay_gamma = gamma;
        if (adam_init(&opt, &ac, m.nparams, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_attrs_copy(&hdr, &d.meta);
        tsr_attr_del(&hdr, "history");
        tsr_attr_del(&hdr, "channels");
        tsr_attr_del(&hdr, "dims");
        tsr_attr_set(&hdr, "kind", CS_KIND);
        if (u_scale == 0) u_scale = pow(arch.L, 4);
        if (v_scale == 0) v_scale = pow(arch.L, 2);
        tsr_attr_set_double(&hdr, "closure.sigma0", sigma0);
        tsr_attr_set_double(&hdr, "closure.u_scale", u_scale);
        tsr_attr_set_double(&hdr, "closure.v_scale", v_scale);
        tsr_attr_set(&hdr, "closure.cond", cond);
        tsr_attr_set_double(&hdr, "closure.t_min", t_min);
        tsr_attr_set_double(&hdr, "closure.t_max", t_max);
        tsr_attr_set(&hdr, "closure.reduce", reduce);
        if (residual) tsr_attr_set(&hdr, "closure.residual", "1");
        if (t_focus > 0) {
            tsr_attr_set_double(&hdr, "closure.t_focus", t_focus);
            tsr_attr_set_double(&hdr, "closure.focus_frac", focus_frac);
        }
        tsr_attr_setf(&hdr, "closure.train_grid", "%dx%d", d.H, d.W);
        tsr_attr_setf(&hdr, "closure.seed", "%ld", seed);
    }
    if (!(u_scale > 0) || !(v_scale > 0)) cli_die(EXIT_USAGE, "--u-scale and --v-scale must be > 0");
    size_t nall = (size_t)d.n * d.H * d.W;
    cs_scale(d.U, nall, u_scale), cs_scale(d.Y, nall, u_scale), cs_scale(d.V, nall, v_scale);
    if (residual)
        for (size_t i = 0; i < nall; i++) d.U[i] -= d.Y[i];
    if (precond && !resume) {
        // The rms of the scaled training U (its mean is 0 up to sampling).
        double ss = 0;
        for (size_t i = 0; i < nall; i++) ss += (double)d.U[i] * d.U[i];
        sigma_data = sqrt(ss / (double)nall);
        if (!(sigma_data > 0)) cli_die(EXIT_DATA, "--precond: the training term is identically 0");
        tsr_attr_set_double(&hdr, "closure.sigma_data", sigma_data);
    }
    if (fno_grid_ok(&m.cfg, d.H, d.W, &e)) cli_die(EXIT_DATA, "training grid: %s", e.msg);
    tsr_history_append(&hdr, cli_cmdline());
    const char *term = tsr_attr_get(&d.meta, "term");
    const char *hterm = tsr_attr_get(&hdr, "term");
    if (term && hterm && strcmp(term, hterm))
        cli_die(EXIT_DATA, "data hold term %s, the model was trained on %s", term, hterm);

    FILE *logf = NULL;
    if (log_path) {
        logf = fopen(log_path, opt.t > 0 ? "a" : "w");
        if (!logf) cli_die(EXIT_USAGE, "%s: cannot open the log", log_path);
        if (opt.t == 0) fprintf(logf, "step\tepoch\tlr\tloss\tseconds\n");
    }
    cs_train_opts to = {.sigma0 = sigma0, .t_min = t_min, .t_max = t_max,
                        .t_focus = t_focus, .focus_frac = focus_frac, .sigma_data = sigma_data,
                        .reduce_mean = !strcmp(reduce, "mean"), .clip = clip,
                        .seed = (uint64_t)seed};
    long start = opt.t;
    long *perm = malloc((size_t)d.n * sizeof *perm);
    if (!perm) cli_die(EXIT_DATA, "out of memory");
    cs_batch bt = {0};
    progress p;
    progress_start(&p, "fno-train", (double)steps, quiet);
    double t0 = progress_now(), ema = NAN;
    long cur_epoch = -1;
    for (long s = opt.t; s < steps; s++) {
        long epoch = s / per_epoch, k = s % per_epoch;
        if (epoch != cur_epoch) epoch_order(perm, d.n, (uint64_t)seed, epoch), cur_epoch = epoch;
        double lr_now = adam_lr(&opt), loss;
        if (cs_train_step(&m, &opt, &d, perm + k * batch, batch, &to, s, &bt, &loss, &e))
            cli_die(EXIT_DATA, "step %ld: %s", s, e.msg);
        ema = isnan(ema) ? loss : 0.95 * ema + 0.05 * loss;
        if (logf) fprintf(logf, "%ld\t%ld\t%.6g\t%.6g\t%.3f\n", s + 1, epoch, lr_now, loss,
                          progress_now() - t0);
        char note[64];
        snprintf(note, sizeof note, "loss %.4g", ema);
        progress_update(&p, (double)(s + 1), note);
        if ((s + 1) % ckpt_every == 0 || s + 1 == steps) {
            if (logf) fflush(logf);
            if (ckpt_save(out, &m, &opt, &hdr, &e)) cli_die(EXIT_DATA, "%s: %s", out, e.msg);
        }
    }
    if (opt.t == start && ckpt_save(out, &m, &opt, &hdr, &e))   // nothing left to train
        cli_die(EXIT_DATA, "%s: %s", out, e.msg);
    char note[64];
    snprintf(note, sizeof note, "loss %.4g, %ld frames, %zu parameters", ema, d.n, m.nparams);
    progress_end(&p, note);
    if (logf) fclose(logf);
    free(perm);
    cs_batch_free(&bt);
    adam_free(&opt);
    fno_free(&m);
    tsr_record_free(&hdr);
    cs_data_free(&d);
    return 0;
}
