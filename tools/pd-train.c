// pd-train: trains the predictor of Predictor-Driven Diffusion (Yasuda &
// Bischoff, Alg. 1; lib/pdd_net.h), a U-Net (their B.2) or an FNO (their D.5),
// or its DDPM baseline (their B.4) on spatiotemporal paths.
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
static const char *out = NULL, *resume = NULL, *log_path = NULL, *objective = "pdd", *act = NULL;
static const char *net = "unet", *fno_preset = NULL, *unet_channels = NULL;
static pdd_arch arch;
static int width = 0, layers = 0, modes = 0, emb_size = 0, emb_hidden = 0;
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
        {"arch", 0, OPT_STRING, &net, "A", "predictor network: unet (seed 001 B.2, the paper's) or fno (their D.5)"},
        {"unet-base", 0, OPT_INT, &arch.unet_base, "N", "U-Net channels after the stem (0: 32, B.2)", 0, 4096},
        {"unet-channels", 0, OPT_STRING, &unet_channels, "LIST", "U-Net channels after each halving, e.g. 64,128,192 (default: B.2's, 64,128,128,192 in 1-D, 64,128,192 in 2-D)"},
        {"unet-res", 0, OPT_INT, &arch.unet_nres, "N", "U-Net residual blocks per level and side (0: 2, DDPM's; B.2 is silent)", 0, UNET_MAX_RES},
        {"unet-groups", 0, OPT_INT, &arch.unet_groups, "N", "U-Net GroupNorm groups (0: 8; B.2 is silent)", 0, 4096},
        {"unet-heads", 0, OPT_INT, &arch.unet_heads, "N", "U-Net attention heads at the bottleneck (0: 4; B.2 is silent)", 0, 4096},
        {"fno-preset", 0, OPT_STRING, &fno_preset, "P", "FNO: d5 = seed 001 B.2's (their D.5): width 64, 8 layers and 56 modes in 1-D, 6 and 16 in 2-D"},
        {"width", 0, OPT_INT, &width, "N", "FNO width (0: 64)", 0, 4096},
        {"layers", 0, OPT_INT, &layers, "N", "FNO Fourier layers (0: 8)", 0, 256},
        {"modes", 0, OPT_INT, &modes, "N", "FNO Fourier modes per axis (0: 56 in 1-D, 16 in 2-D, capped by the grid)", 0, 4096},
        {"emb-size", 0, OPT_INT, &emb_size, "N", "sinusoidal features of 1000*lambda (0: 32)", 0, 65536},
        {"emb-hidden", 0, OPT_INT, &emb_hidden, "N", "width of the lambda embedding (0: 128)", 0, 65536},
        {"act", 0, OPT_STRING, &act, "A", "FNO activation: silu (paper) or gelu"},
        {"batch", 'b', OPT_INT, &batch, "N", "paths per step (every window of each path is used)", 1, 16777216},
        {"steps", 0, OPT_LONG, &steps, "N", "optimizer steps in total", 1, CLI_BIG},
        CLI_OPT_LR(&lr),
        {"lr-decay-steps", 0, OPT_LONG, &decay_steps, "N", "multiply the rate by --lr-gamma every N steps (0: never, as the paper)", 0, CLI_BIG},
        {"lr-gamma", 0, OPT_DOUBLE, &lr_gamma, "X", "factor of each learning-rate decay", 1e-300, 1},
        CLI_OPT_CLIP(&clip, "clip the gradient norm (0: none, as the paper)"),
        {"max-batch", 0, OPT_INT, &max_batch, "N", "windows per network call (bounds memory)", 1, 16777216},
        CLI_OPTS_CHECKPOINT(&ckpt_every, &resume, &log_path),
        CLI_OPT_SEED(&seed, "seed of initialisation, data order, lambda and noise"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_QUIET(&quiet),
        CLI_OPT_END};
    static const cli_spec spec = {
        "pd-train", "[options] -o MODEL [PATHS...]",
        "train the Predictor-Driven Diffusion predictor, U-Net or FNO (or its DDPM baseline), on paths",
        "Reads paths (records with a time axis: dims t,c,x / t,y,x / n,t,c,x ...) from\n"
        "the files or stdin, standardises each channel with the training set's mean\n"
        "and std (stored in the model), and trains a network conditioned on lambda by FiLM.\n"
        "unet (default, seed 001 B.2): 1-D paths take the Lorenz-96 U-Net (32 channels,\n"
        "then 4 halvings to 64,128,128,192), 2-D the Kolmogorov one (32, then 3 halvings\n"
        "to 64,128,192); self-attention at the bottleneck, Swish, FiLM.  Where B.2 is\n"
        "silent the common DDPM U-Net defaults: 2 residual blocks per level and side,\n"
        "GroupNorm with 8 groups, 4 attention heads, embedding of 32 sinusoidal\n"
        "features into 128, no dropout (formats/checkpoint.md).  The grid must be\n"
        "divisible by 2^halvings along each axis.  fno: today's FNO options, or\n"
        "--fno-preset d5 for the seed's.\n"
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
        "  pd-train --objective ddpm-cond -o l96-ddpm.model train.tsr\n"
        "  pd-train --arch fno --fno-preset d5 -o l96-fno.model train.tsr\n"
        "  pd-train --unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 -o tiny.model train.tsr",
        opts};

// The network options into arch: those of the other network are an error.
static void configure_arch(void)
{
    if (!strcmp(net, "unet")) arch.kind = PDD_ARCH_UNET;
    else if (!strcmp(net, "fno")) arch.kind = PDD_ARCH_FNO;
    else cli_die(EXIT_USAGE, "--arch must be unet or fno, got '%s'", net);
    if (width < 0 || layers < 0 || modes < 0 || emb_size < 0 || emb_hidden < 0 || arch.unet_base < 0 ||
        arch.unet_nres < 0 || arch.unet_groups < 0 || arch.unet_heads < 0)
        cli_die(EXIT_USAGE, "network sizes must be >= 0 (0: the default)");
    if (emb_size % 2) cli_die(EXIT_USAGE, "--emb-size must be even");
    arch.unet_emb_size = emb_size, arch.unet_emb_hidden = emb_hidden;
    if (arch.kind == PDD_ARCH_UNET) {
        const char *fno_opt = width ? "--width" : layers ? "--layers" : modes ? "--modes" : act ? "--act"
                            : fno_preset ? "--fno-preset" : NULL;
        if (fno_opt) cli_die(EXIT_USAGE, "%s is an FNO option: add --arch fno", fno_opt);
        if (unet_channels) {
            const char *s = unet_channels;
            while (*s) {
                char *end;
                long c = strtol(s, &end, 10);
                if (end == s || c < 1 || c > 4096 || arch.unet_levels >= UNET_MAX_LEVELS || (*end && *end != ','))
                    cli_die(EXIT_USAGE, "--unet-channels: need 1..%d channel counts in 1..4096 separated by commas, got '%s'",
                            UNET_MAX_LEVELS, unet_channels);
                arch.unet_ch[arch.unet_levels++] = (int)c;
                s = *end ? end + 1 : end;
            }
            if (!arch.unet_levels) cli_die(EXIT_USAGE, "--unet-channels: empty list");
        }
        return;
    }
    const char *unet_opt = arch.unet_base ? "--unet-base" : unet_channels ? "--unet-channels"
                         : arch.unet_nres ? "--unet-res" : arch.unet_groups ? "--unet-groups"
                         : arch.unet_heads ? "--unet-heads" : NULL;
    if (unet_opt) cli_die(EXIT_USAGE, "%s is a U-Net option: not with --arch fno", unet_opt);
    if (fno_preset && strcmp(fno_preset, "d5")) cli_die(EXIT_USAGE, "--fno-preset must be d5, got '%s'", fno_preset);
    if (!act || !strcmp(act, "silu")) arch.act = FNO_SILU;
    else if (!strcmp(act, "gelu")) arch.act = FNO_GELU;
    else cli_die(EXIT_USAGE, "--act must be silu or gelu");
}

// The FNO sizes of the options on top of the defaults or the D.5 preset of dimension dims.
static void fno_sizes(int dims)
{
    int a = arch.act;
    if (fno_preset) pdd_arch_fno_d5(&arch, dims);
    else pdd_arch_default(&arch), arch.modes = 0;
    arch.act = a;
    if (width) arch.width = width;
    if (layers) arch.layers = layers;
    if (modes) arch.modes = modes;
    if (emb_size) arch.emb_size = emb_size;
    if (emb_hidden) arch.emb_hidden = emb_hidden;
}

// Checks the options; the objective they name.
static pdd_objective configure(void)
{
    if (!out) cli_die(EXIT_USAGE, "--output is required");
    pdd_objective obj;
    if (!strcmp(objective, "pdd")) obj = PDD_OBJ_PDD;
    else if (!strcmp(objective, "ddpm-gen")) obj = PDD_OBJ_DDPM_GEN;
    else if (!strcmp(objective, "ddpm-cond")) obj = PDD_OBJ_DDPM_COND;
    else cli_die(EXIT_USAGE, "--objective must be pdd, ddpm-gen or ddpm-cond, got '%s'", objective);
    configure_arch();
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
        if (n->arch != arch.kind)
            cli_die(EXIT_USAGE, "%s is a%s model; resume it with --arch %s", resume,
                    n->arch == PDD_ARCH_UNET ? " U-Net" : "n FNO", n->arch == PDD_ARCH_UNET ? "unet" : "fno");
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
    if (arch.kind == PDD_ARCH_FNO) {
        fno_sizes(g.dims);
        pdd_arch_fit(&arch, &g);
    }
    if (pdd_net_create(n, obj, &g, &p, &arch, (uint64_t)seed, &e)) cli_die(EXIT_USAGE, "%s", e.msg);
    n->dt = d->dt;
    pdd_net_fit_standardisation(n, d->u, d->P);
    if (train_adam(opt, n->arch == PDD_ARCH_UNET ? n->u.nparams : n->m.nparams, lr, decay_steps, lr_gamma, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (pdd_net_header_make(hdr, n, &d->meta, seed, d->P, &e)) cli_die(EXIT_DATA, "%s", e.msg);
}

int main(int argc, char **argv)
{
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
