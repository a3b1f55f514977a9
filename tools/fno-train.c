// fno-train: trains the conditional score model of the stochastic closure
// (lib/closure_score.h) on closure-cond records with the VE-SDE denoising loss.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_dist.h"
#include "closure_score.h"
#include "model.h"
#include "train.h"
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

// cs_data_read in the shape cli_read_all calls.
static int read_data(void *d, tsr_reader *r, const char *name, eddy_err *e)
{
    return cs_data_read(d, r, name, e);
}

// Options (file scope so the table below can point at them).
static const char *out = NULL, *resume = NULL, *log_path = NULL, *cond = "v+obs", *fuse = "40,20,20,128";
static const char *reduce = "sum";
static cs_arch arch;
static double sigma0 = VESDE_SIGMA0, t_min = 2e-5, t_max = 2, lr = 1e-3, lr_gamma = 0.5, clip = 0;
static double u_scale = 0, v_scale = 0, t_focus = 0, focus_frac = 0.5;
static int precond = 0, residual = 0;
static long steps = 0, ckpt_every = 1000;
static int epochs = 1000, decay_epochs = 200, batch = 200, threads = 0, quiet = 0;
static long seed = 42;

    static const cli_opt opts[] = {
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
        {"lr-gamma", 0, OPT_DOUBLE, &lr_gamma, "X", "factor of each learning-rate decay", 1e-300, 1},
        CLI_OPT_CLIP(&clip, "clip the gradient norm to X (0: no clipping)"),
        CLI_OPTS_CHECKPOINT(&ckpt_every, &resume, &log_path),
        CLI_OPT_SEED(&seed, "seed of initialisation, data order and noise"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
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
        "before each layer's activation (lib/fno.h), the reference adds it after.\n"
        "Data parallel: under mpirun -np N the ranks share each batch (N at most\n"
        "--batch; unequal shares when it does not divide) and sum the gradients, so\n"
        "they take the step of one process to float rounding; rank 0 alone logs and\n"
        "writes the model, which resumes on any N.",
        "  closure-cond --term G train.tsr > cond.tsr\n"
        "  fno-train --steps 2000 --batch 32 --log loss.tsv -o G.model cond.tsr",
        opts};

// Checks the options; the model settings a new model is made with.
static cs_info configure(void)
{
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
    if (u_scale < 0 || v_scale < 0) cli_die(EXIT_USAGE, "--u-scale and --v-scale must be > 0");
    return (cs_info){.sigma0 = sigma0, .with_obs = arch.with_obs, .u_scale = u_scale,
                     .v_scale = v_scale, .residual = residual, .t_min = t_min, .t_max = t_max,
                     .t_focus = t_focus, .focus_frac = focus_frac,
                     .reduce_mean = !strcmp(reduce, "mean")};
}

// A new model and optimizer for data d, or the ones of --resume; info and hdr
// describe the model.
static void setup(const cs_data *d, long per_epoch, fno *m, adam *opt, tsr_record *hdr, cs_info *info)
{
    eddy_err e;
    if (resume) {
        int with_obs = info->with_obs;
        if (model_load(resume, CS_KIND, "closure score model", m, opt, hdr, &e) ||
            cs_header_check(hdr, m, info, &e))
            cli_die(EXIT_DATA, "%s: %s", resume, e.msg);
        if (info->with_obs != with_obs)
            cli_die(EXIT_USAGE, "%s was trained with --cond %s", resume, info->with_obs ? "v+obs" : "v");
        return;
    }
    fno_config cfg;
    arch.L = 2 * M_PI;
    tsr_attr_double(&d->meta, "L", &arch.L, &e);
    if (cs_config(&arch, &cfg, &e)) cli_die(EXIT_USAGE, "model: %s", e.msg);
    if (fno_create(m, &cfg, (uint64_t)seed, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    long decay = decay_epochs > 0 ? (long)decay_epochs * per_epoch : 0;
    if (train_adam(opt, m->nparams, lr, decay, lr_gamma, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    tsr_record_init(hdr);
    if (cs_header_make(hdr, &d->meta, info, arch.L, d->H, d->W, seed, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
}

int main(int argc, char **argv)
{
    cs_arch_default(&arch);
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    cs_info info = configure();
    cli_threads(threads);
    cli_dist_start();   // alone, or a rank of mpirun -np N

    eddy_err e;
    cs_data d = {0};
    tsr_record_init(&d.meta);
    cli_read_all(nops, ops, read_data, &d);
    if (d.n == 0) cli_die(EXIT_DATA, "no 'closure' records in the input (run closure-cond first)");
    if (batch > d.n) batch = (int)d.n;
    if (steps <= 0) steps = (long)epochs * (d.n / batch);
    fno m;
    adam opt;
    tsr_record hdr;
    setup(&d, d.n / batch, &m, &opt, &hdr, &info);
    size_t nall = (size_t)d.n * d.H * d.W;
    cs_units_to_net(&info, d.U, d.V, d.Y, nall);
    if (precond && !resume && cs_fit_sigma_data(&info, &hdr, d.U, nall, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (fno_grid_ok(&m.cfg, d.H, d.W, &e)) cli_die(EXIT_DATA, "training grid: %s", e.msg);
    tsr_history_append(&hdr, cli_cmdline());
    const char *term = tsr_attr_get(&d.meta, "term");
    if (resume && term && info.term && strcmp(term, info.term))
        cli_die(EXIT_DATA, "data hold term %s, the model was trained on %s", term, info.term);

    cs_objective ob = {.m = &m, .d = &d, .opts = cs_train_opts_of(&info)};
    model_ref ref = {&m, &hdr};
    train_model tm = {m.params, m.grads, m.nparams, cs_objective_grad, &ob, model_save, &ref};
    train_opts to = train_opts_cli(d.n, batch, steps, ckpt_every, clip, seed, out, log_path);
    cli_dist_train_opts("fno-train", &to);
    cli_train("fno-train", &tm, &opt, &to, quiet || to.rank, "frames");   // rank 0 alone reports
    cs_objective_free(&ob);
    adam_free(&opt);
    fno_free(&m);
    tsr_record_free(&hdr);
    cs_data_free(&d);
    cli_dist_end();
    return 0;
}
