// pd-train: trains the FNO of Predictor-Driven Diffusion (Yasuda & Bischoff,
// Alg. 1; lib/pdd_net.h) or of its DDPM baseline (their B.4) on spatiotemporal paths.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_dist.h"
#include "pdd_net.h"
#include "train.h"

// pdd_paths_read in the shape cli_read_all calls.
static int read_paths(void *d, tsr_reader *r, const char *name, eddy_err *e)
{
    return pdd_paths_read(d, r, name, e);
}

// Options (file scope so the table below can point at them).
static const char *out = NULL, *resume = NULL, *log_path = NULL, *objective = "pdd", *act = "silu";
static pdd_arch arch;
static double alpha = NAN, beta = NAN, gamma_ = 3, lr = 2e-4, lr_gamma = 0.5, clip = 0, dlam = 1e-3;
static long steps = 1000, ckpt_every = 500, seed = 42, decay_steps = 0;
static int batch = 8, window = 5, fd = 0, threads = 0, quiet = 0, max_batch = 256;

    static const cli_opt opts[] = {
        CLI_OPT_OUTPUT(&out, "model checkpoint to write (required)"),
        {"objective", 0, OPT_STRING, &objective, "O", "pdd, ddpm-gen (unconditional baseline) or ddpm-cond (simulation baseline)"},
        {"alpha", 0, OPT_DOUBLE, &alpha, "X", "RG diffusion alpha (default 0.1 in 1-D, 0.3 in 2-D)", -CLI_INF, 1000000.0},
        {"beta", 0, OPT_DOUBLE, &beta, "X", "RG noise beta (default sqrt 2 in 1-D, sqrt 6 in 2-D)", -CLI_INF, 1000000.0},
        {"gamma", 0, OPT_DOUBLE, &gamma_, "X", "VP rate of the DDPM baseline", 1e-300, 1000000.0},
        {"fd-laplacian", 0, OPT_FLAG, &fd, NULL, "RG symbol 4 sin^2(pi n/N)/h^2 (reference code) instead of |k|^2"},
        {"dlambda", 0, OPT_DOUBLE, &dlam, "X", "floor of lambda in Sigma (and the loss weight)", 1e-300, 1000000.0},
        {"window", 0, OPT_INT, &window, "N", "frames the predictor sees: current + N-1 previous", 1, 4096},
        {"width", 0, OPT_INT, &arch.width, "N", "FNO width", 1, 4096},
        {"layers", 0, OPT_INT, &arch.layers, "N", "Fourier layers", 1, 256},
        {"modes", 0, OPT_INT, &arch.modes, "N", "Fourier modes per axis (default 56 in 1-D, 16 in 2-D, capped by the grid)", 1, 4096},
        {"emb-size", 0, OPT_INT, &arch.emb_size, "N", "sinusoidal features of 1000*lambda", 1, 65536},
        {"emb-hidden", 0, OPT_INT, &arch.emb_hidden, "N", "width of the embedding MLP", 1, 65536},
        {"act", 0, OPT_STRING, &act, "A", "activation: silu (paper) or gelu"},
        {"batch", 'b', OPT_INT, &batch, "N", "paths per step (every window of each path is used)", 1, 16777216},
        {"steps", 0, OPT_LONG, &steps, "N", "optimizer steps in total", 1, CLI_BIG},
        CLI_OPT_LR(&lr),
        {"lr-decay-steps", 0, OPT_LONG, &decay_steps, "N", "multiply the rate by --lr-gamma every N steps (0: never, as the paper)", 0, CLI_BIG},
        {"lr-gamma", 0, OPT_DOUBLE, &lr_gamma, "X", "factor of each learning-rate decay", 1e-300, 1},
        CLI_OPT_CLIP(&clip, "clip the gradient norm (0: none, as the paper)"),
        {"max-batch", 0, OPT_INT, &max_batch, "N", "windows per FNO call (bounds memory)", 1, 16777216},
        CLI_OPTS_CHECKPOINT(&ckpt_every, &resume, &log_path),
        CLI_OPT_SEED(&seed, "seed of initialisation, data order, lambda and noise"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
        "pd-train", "[options] -o MODEL [PATHS...]",
        "train the Predictor-Driven Diffusion FNO (or its DDPM baseline) on paths",
        "Reads paths (records with a time axis: dims t,c,x / t,y,x / n,t,c,x ...) from\n"
        "the files or stdin, standardises each channel with the training set's mean\n"
        "and std (stored in the model), and trains an FNO conditioned on lambda by FiLM.\n"
        "pdd: lambda ~ U(0,1) per path, u_l = C_l u_0 + sqrt(Sigma_l) eps (lib/rg.h,\n"
        "k = 0 untouched), the window of the current and 4 previous frames (zeros\n"
        "before the start) predicts the increment; loss = mean (du - f)^2/(2 v_l),\n"
        "v_l = tr(Sigma_l)/D = sigma_l^2 dt.  ddpm-gen: VP process (gamma), the window\n"
        "of noisy frames predicts each frame's noise.  ddpm-cond: the clean window\n"
        "and the noisy standardised increment predict the increment's noise.\n"
        "Unlike the reference code lambda is continuous and k = 0 is not noised.\n"
        "pdd models also store the training spectrum E|u_k|^2 per channel and mode\n"
        "(standardised units, attribute pdd.spectrum) for pd-sample --gauss-below;\n"
        "resuming an older model adds it.\n"
        "Data parallel: under mpirun -np N the ranks share each batch (N at most\n"
        "--batch; unequal shares when it does not divide) and sum the gradients, so\n"
        "they take the step of one process to float rounding; rank 0 alone logs and\n"
        "writes the model, which resumes on any N.",
        "  pd-train --steps 30000 --batch 50 --log loss.tsv -o l96.model train.tsr\n"
        "  pd-train --objective ddpm-cond -o l96-ddpm.model train.tsr",
        opts};

// Checks the options; the objective they name.
static pdd_objective configure(void)
{
    if (!out) cli_die(EXIT_USAGE, "--output is required");
    pdd_objective obj;
    if (!strcmp(objective, "pdd")) obj = PDD_OBJ_PDD;
    else if (!strcmp(objective, "ddpm-gen")) obj = PDD_OBJ_DDPM_GEN;
    else if (!strcmp(objective, "ddpm-cond")) obj = PDD_OBJ_DDPM_COND;
    else cli_die(EXIT_USAGE, "--objective must be pdd, ddpm-gen or ddpm-cond, got '%s'", objective);
    if (!strcmp(act, "silu")) arch.act = FNO_SILU;
    else if (!strcmp(act, "gelu")) arch.act = FNO_GELU;
    else cli_die(EXIT_USAGE, "--act must be silu or gelu");
    if (batch < 1 || steps < 0 || ckpt_every < 1 || max_batch < 1)
        cli_die(EXIT_USAGE, "--batch, --checkpoint-every and --max-batch must be >= 1, --steps >= 0");
    if (window < 1 || window > 32) cli_die(EXIT_USAGE, "--window must be in 1..32");
    if (!(lr > 0) || !(clip >= 0) || !(gamma_ > 0) || !(dlam > 0 && dlam < 1))
        cli_die(EXIT_USAGE, "need --lr > 0, --clip >= 0, --gamma > 0, 0 < --dlambda < 1");
    if (decay_steps < 0 || !(lr_gamma > 0 && lr_gamma <= 1))
        cli_die(EXIT_USAGE, "need --lr-decay-steps >= 0 and 0 < --lr-gamma <= 1");
    return obj;
}

// A new model (its header in hdr) and optimizer for the paths d, or the ones of --resume.
static void setup(pdd_objective obj, pdd_paths *d, pdd_net *n, adam *opt, tsr_record *hdr)
{
    eddy_err e;
    if (resume) {
        if (pdd_net_load(resume, n, hdr, opt, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        if (n->obj != obj) cli_die(EXIT_USAGE, "%s was trained with --objective %s", resume, pdd_objective_name(n->obj));
        if (pdd_net_check_paths(n, d, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        if (d->T != n->g.T) cli_die(EXIT_DATA, "paths of %d frames, the model was trained on %d", d->T, n->g.T);
        return;
    }
    pdd_geom g = pdd_paths_geom(d, window);
    if (isnan(alpha)) alpha = g.dims == 1 ? 0.1 : 0.3;
    if (isnan(beta)) beta = g.dims == 1 ? sqrt(2) : sqrt(6);
    if (!(alpha > 0 && isfinite(alpha)) || !(beta > 0 && isfinite(beta))) cli_die(EXIT_USAGE, "--alpha and --beta must be > 0");
    pdd_process p = obj == PDD_OBJ_PDD ? pdd_process_rg(alpha, beta) : pdd_process_vp(gamma_);
    p.fd_laplacian = fd;
    p.dlam = dlam;
    pdd_arch_fit(&arch, &g);
    if (pdd_net_create(n, obj, &g, &p, &arch, (uint64_t)seed, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    n->dt = d->dt;
    pdd_net_fit_standardisation(n, d->u, d->P);
    if (train_adam(opt, n->m.nparams, lr, decay_steps, lr_gamma, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (pdd_net_header_make(hdr, n, &d->meta, seed, d->P, &e)) cli_die(EXIT_DATA, "%s", e.msg);
}

int main(int argc, char **argv)
{
    pdd_arch_default(&arch);
    arch.modes = 0;
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    pdd_objective obj = configure();
    cli_threads(threads);
    cli_dist_start();   // alone, or a rank of mpirun -np N

    eddy_err e;
    pdd_paths d = {0};
    tsr_record_init(&d.meta);
    cli_read_all(nops, ops, read_paths, &d);
    if (d.P == 0) cli_die(EXIT_DATA, "no paths in the input (records with a time axis)");
    if (d.T < 2) cli_die(EXIT_DATA, "paths of %d frames have no increment", d.T);
    if (batch > d.P) batch = (int)d.P;
    pdd_net n;
    adam opt;
    tsr_record hdr;
    setup(obj, &d, &n, &opt, &hdr);
    n.max_batch = max_batch;
    pdd_net_standardise(&n, d.u, d.P * d.T);
    if (obj == PDD_OBJ_PDD && !n.spec) {   // models before pdd.spectrum get it on resume
        if (pdd_net_fit_spectrum(&n, d.u, d.P, &e) || pdd_net_to_header(&n, &hdr, &e))
            cli_die(EXIT_DATA, "%s", e.msg);
    }
    tsr_history_append(&hdr, cli_cmdline());

    pdd_train_ctx ob = {&n, d.u};
    pdd_net_ref ref = {&n, &hdr};
    train_model tm = pdd_net_train_model(&n, &ob, &ref);
    train_opts to = train_opts_cli(d.P, batch, steps, ckpt_every, clip, seed, out, log_path);
    cli_dist_train_opts("pd-train", &to);
    cli_train("pd-train", &tm, &opt, &to, quiet || to.rank, "paths");   // rank 0 alone reports
    adam_free(&opt);
    pdd_net_free(&n);
    tsr_record_free(&hdr);
    pdd_paths_free(&d);
    cli_dist_end();
    return 0;
}
