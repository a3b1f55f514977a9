// Predictor-Driven Diffusion maths (lib/pdd) against independent truths:
// windows built by hand, the path score against finite differences of the
// path log-density of a known linear predictor, the loss weight against a
// direct sum over the full spectrum and the reference code's table, and the
// reverse-λ sampler recovering a known Gaussian law from its exact score
// (computed here by a naive DFT, independent of FFTW).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pdd.h"
#include "pdd_net.h"
#include "rng.h"

// ---------------------------------------------------------------- windows

static void test_windows_start(void)
{
    pdd_geom g = {.T = 7, .C = 2, .dims = 1, .n = {3, 0}, .L = 2 * M_PI, .W = 5};
    int B = 2, S = 3, T = 7, C = 2, W = 5, nw = 6;
    double u[2 * 7 * 2 * 3], win[2 * 6 * 10 * 3];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                for (int x = 0; x < S; x++)
                    u[((b * T + t) * C + c) * S + x] = 1000 * b + 100 * t + 10 * c + x + 1;
    pdd_windows(&g, B, nw, u, win);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < nw; n++)
            for (int c = 0; c < C; c++)
                for (int w = 0; w < W; w++)
                    for (int x = 0; x < S; x++) {
                        int t = n - 4 + w;
                        double want = t < 0 ? 0 : 1000 * b + 100 * t + 10 * c + x + 1;
                        if (win[(((b * nw + n) * C + c) * W + w) * S + x] != want) bad++;
                    }
    CHECK(bad == 0, "%d window entries wrong", bad);
    // Frame 0's window: only its last slot (the current frame) is non-zero.
    CHECK(win[(0 * W + 3) * S] == 0 && win[(0 * W + 4) * S] == 1, "frame 0 window");

    // The adjoint: <windows(u), g> = <u, windows_adjoint(g)>.
    eddy_rng r;
    rng_init(&r, 1, 2, 3, 4);
    double gw[2 * 6 * 10 * 3], gu[2 * 7 * 2 * 3] = {0};
    rng_normal_fill(&r, gw, sizeof gw / sizeof *gw);
    rng_normal_fill(&r, u, sizeof u / sizeof *u);
    pdd_windows(&g, B, nw, u, win);
    pdd_windows_adjoint(&g, B, nw, gw, gu);
    double lhs = 0, rhs = 0;
    for (size_t i = 0; i < sizeof gw / sizeof *gw; i++) lhs += win[i] * gw[i];
    for (size_t i = 0; i < sizeof u / sizeof *u; i++) rhs += u[i] * gu[i];
    CHECK_CLOSE(lhs, rhs, 1e-12 * fabs(lhs) + 1e-12, "adjoint identity");
}

// ---------------------------------------------------------------- a linear predictor
// f_c(x) = Σ_{c', w} A[c][c'][w] u_{c'}(x + w)  (periodic shift by w points)

typedef struct {
    pdd_geom g;
    double A[2][2][5];
    int calls;
} linpred;

static int lin_forward(void *ctx, int nb, const double *win, double lam, double *out, eddy_err *e)
{
    (void)lam; (void)e;
    linpred *p = ctx;
    int C = p->g.C, W = p->g.W, S = p->g.n[0];
    for (int i = 0; i < nb; i++)
        for (int c = 0; c < C; c++)
            for (int x = 0; x < S; x++) {
                double acc = 0;
                for (int c2 = 0; c2 < C; c2++)
                    for (int w = 0; w < W; w++)
                        acc += p->A[c][c2][w] * win[((i * C + c2) * W + w) * S + (x + w) % S];
                out[(i * C + c) * S + x] = acc;
            }
    p->calls++;
    return 0;
}

static int lin_input_grad(void *ctx, int nb, const double *gout, double *gwin, eddy_err *e)
{
    (void)e;
    linpred *p = ctx;
    int C = p->g.C, W = p->g.W, S = p->g.n[0];
    memset(gwin, 0, (size_t)nb * C * W * S * sizeof *gwin);
    for (int i = 0; i < nb; i++)
        for (int c = 0; c < C; c++)
            for (int x = 0; x < S; x++)
                for (int c2 = 0; c2 < C; c2++)
                    for (int w = 0; w < W; w++)
                        gwin[((i * C + c2) * W + w) * S + (x + w) % S] +=
                            p->A[c][c2][w] * gout[(i * C + c) * S + x];
    return 0;
}

static void lin_init(linpred *p, int T)
{
    memset(p, 0, sizeof *p);
    p->g = (pdd_geom){.T = T, .C = 2, .dims = 1, .n = {8, 0}, .L = 2 * M_PI, .W = 5};
    eddy_rng r;
    rng_init(&r, 7, 0, 0, 0);
    for (int c = 0; c < 2; c++)
        for (int c2 = 0; c2 < 2; c2++)
            for (int w = 0; w < 5; w++) p->A[c][c2][w] = 0.3 * rng_normal(&r);
}

// The path log-density written straight from its definition; *vp is v.
static double direct_logp(const linpred *p, const double *u, const void *vp)
{
    double v = *(const double *)vp;
    int T = p->g.T, C = p->g.C, S = p->g.n[0];
    double acc = 0;
    for (int n = 0; n + 1 < T; n++)
        for (int c = 0; c < C; c++)
            for (int x = 0; x < S; x++) {
                double f = 0;
                for (int c2 = 0; c2 < C; c2++)
                    for (int w = 0; w < 5; w++) {
                        int t = n - 4 + w;
                        if (t >= 0) f += p->A[c][c2][w] * u[(t * C + c2) * S + (x + w) % S];
                    }
                double r = u[((n + 1) * C + c) * S + x] - u[(n * C + c) * S + x] - f;
                acc += r * r;
            }
    return -acc / (2 * v);
}

typedef double (*logp_fn)(const linpred *p, const double *u, const void *arg);

// Checks the B log-densities logp against f and returns the largest
// |score - central difference of f| over every value of u (B paths of N,
// perturbed in place and restored); *maxs gets the largest |score|.
static double score_fd_error(const linpred *p, logp_fn f, const void *arg, int B, int N, double *u,
                             const double *s, const double *logp, const char *what, double *maxs)
{
    double maxerr = 0;
    *maxs = 0;
    for (int b = 0; b < B; b++) {
        double *ub = u + b * N;
        CHECK_CLOSE(logp[b], f(p, ub, arg), 1e-10 * fabs(logp[b]), what);
        for (int i = 0; i < N; i++) {
            double h = 1e-4, keep = ub[i];
            ub[i] = keep + h;
            double lp = f(p, ub, arg);
            ub[i] = keep - h;
            double lm = f(p, ub, arg);
            ub[i] = keep;
            maxerr = fmax(maxerr, fabs((lp - lm) / (2 * h) - s[b * N + i]));
            *maxs = fmax(*maxs, fabs(s[b * N + i]));
        }
    }
    return maxerr;
}

static void test_path_score_fd(void)
{
    linpred p;
    lin_init(&p, 6);
    pdd_predictor pr = {&p, lin_forward, lin_input_grad, 0};
    int B = 2, N = 6 * 2 * 8;
    double u[2 * 96], s[2 * 96], logp[2], v = 0.37;
    eddy_rng r;
    rng_init(&r, 11, 0, 0, 0);
    rng_normal_fill(&r, u, 2 * 96);
    eddy_err e;
    CHECK(pdd_path_score(&p.g, &pr, B, u, 0.1, v, s, logp, &e) == 0, "%s", e.msg);
    CHECK(p.calls == 1, "one batched forward, not %d", p.calls);
    // In chunks of 3 windows (bounded activation memory): the same score.
    double s3[2 * 96], l3[2];
    pdd_predictor pr3 = {&p, lin_forward, lin_input_grad, 3};
    CHECK(pdd_path_score(&p.g, &pr3, B, u, 0.1, v, s3, l3, &e) == 0, "%s", e.msg);
    double d3 = 0;
    for (int i = 0; i < 2 * 96; i++) d3 = fmax(d3, fabs(s3[i] - s[i]));
    CHECK(d3 < 1e-12 && fabs(l3[1] - logp[1]) < 1e-9, "chunked score differs by %g", d3);
    double maxs, maxerr = score_fd_error(&p, direct_logp, &v, B, N, u, s, logp, "log-density", &maxs);
    NOTE("max |score - FD| = %.3g (max |score| %.3g)", maxerr, maxs);
    CHECK(maxerr < 1e-7 * maxs, "score differs from finite differences by %g", maxerr);
    CHECK(pdd_path_score(&p.g, &pr, B, u, 0.1, 0, s, logp, &e) == -1, "v = 0 refused");
}

// ln p with W diagonal in Fourier: -½ Σ r·Wr, Wr by a naive DFT (S = 8).
static double direct_logp_w(const linpred *p, const double *u, const void *wmp)
{
    const double *wm = wmp;
    int T = p->g.T, C = p->g.C, S = p->g.n[0];
    double acc = 0, r[8], wr[8];
    for (int n = 0; n + 1 < T; n++)
        for (int c = 0; c < C; c++) {
            for (int x = 0; x < S; x++) {
                double f = 0;
                for (int c2 = 0; c2 < C; c2++)
                    for (int w = 0; w < 5; w++) {
                        int t = n - 4 + w;
                        if (t >= 0) f += p->A[c][c2][w] * u[(t * C + c2) * S + (x + w) % S];
                    }
                r[x] = u[((n + 1) * C + c) * S + x] - u[(n * C + c) * S + x] - f;
            }
            for (int x = 0; x < S; x++) {
                double a = 0;
                for (int k = 0; k < S; k++) {
                    double re = 0, im = 0;
                    for (int y = 0; y < S; y++)
                        re += r[y] * cos(2 * M_PI * k * y / S), im -= r[y] * sin(2 * M_PI * k * y / S);
                    double wk = wm[k <= S / 2 ? k : S - k];
                    a += wk * (re * cos(2 * M_PI * k * x / S) - im * sin(2 * M_PI * k * x / S));
                }
                wr[x] = a / S;
            }
            for (int x = 0; x < S; x++) acc += r[x] * wr[x];
        }
    return -acc / 2;
}

// The coloured path score against finite differences of its log-density, and
// W = 1/v on every mode reproducing the white score.
static void test_path_score_coloured(void)
{
    linpred p;
    lin_init(&p, 6);
    pdd_predictor pr = {&p, lin_forward, lin_input_grad, 4};
    int B = 2, N = 6 * 2 * 8;
    double u[2 * 96], s[2 * 96], s1[2 * 96], logp[2], l1[2];
    eddy_rng r;
    rng_init(&r, 12, 0, 0, 0);
    rng_normal_fill(&r, u, 2 * 96);
    eddy_err e;
    rg_grid gr = {.ndim = 1, .n = {8, 0}, .L = {2 * M_PI, 2 * M_PI}, .lap = RG_LAP_SPECTRAL};
    rg_op *op = rg_op_new(&gr, &e);
    CHECK(op != NULL && rg_nmodes(op) == 5, "rg operator on 8 points");
    if (!op) return;
    double wm[5] = {2.0, 3.5, 1.25, 0.4, 7.0}, flat[5];
    for (int m = 0; m < 5; m++) flat[m] = 1 / 0.37;
    CHECK(pdd_path_score_w(&p.g, &pr, B, u, 0.1, 0, op, wm, s, logp, &e) == 0, "%s", e.msg);
    double maxs, maxerr = score_fd_error(&p, direct_logp_w, wm, B, N, u, s, logp, "coloured log-density", &maxs);
    NOTE("coloured: max |score - FD| = %.3g (max |score| %.3g)", maxerr, maxs);
    CHECK(maxerr < 1e-7 * maxs, "coloured score differs from finite differences by %g", maxerr);
    CHECK(pdd_path_score_w(&p.g, &pr, B, u, 0.1, 0, op, flat, s1, l1, &e) == 0, "%s", e.msg);
    CHECK(pdd_path_score(&p.g, &pr, B, u, 0.1, 0.37, s, logp, &e) == 0, "%s", e.msg);
    double d = 0;
    for (int i = 0; i < 2 * 96; i++) d = fmax(d, fabs(s1[i] - s[i]));
    CHECK(d < 1e-10 * maxs && fabs(l1[0] - logp[0]) < 1e-9 * fabs(logp[0]), "flat W = 1/v is the white score (%g)", d);
    rg_op_free(op);
}

static void test_simulate(void)
{
    linpred p;
    lin_init(&p, 9);
    pdd_predictor pr = {&p, lin_forward, lin_input_grad, 0};
    int T = 9, C = 2, S = 8, F = C * S, B = 3;
    double u[3 * 9 * 16], want[9 * 16];
    eddy_rng r;
    rng_init(&r, 5, 0, 0, 0);
    rng_normal_fill(&r, u, sizeof u / sizeof *u);
    memcpy(want, u, sizeof want);
    eddy_err e;
    CHECK(pdd_simulate(&p.g, &pr, B, u, 2, 0.0, 0.0, NULL, NULL, 1, 0, &e) == 0, "%s", e.msg);
    // Direct rollout of path 0 from its first 2 frames.
    for (int n = 1; n + 1 < T; n++)
        for (int c = 0; c < C; c++)
            for (int x = 0; x < S; x++) {
                double f = 0;
                for (int c2 = 0; c2 < C; c2++)
                    for (int w = 0; w < 5; w++) {
                        int t = n - 4 + w;
                        if (t >= 0) f += p.A[c][c2][w] * want[(t * C + c2) * S + (x + w) % S];
                    }
                want[((n + 1) * C + c) * S + x] = want[(n * C + c) * S + x] + f;
            }
    double err = 0;
    for (int i = 0; i < T * F; i++) err = fmax(err, fabs(u[i] - want[i]));
    CHECK(err < 1e-12, "deterministic rollout differs by %g", err);

    // With noise: path 1 alone (sample0 = 1) equals path 1 of the batch.
    double ub[3 * 9 * 16], u1[9 * 16];
    rng_init(&r, 5, 0, 0, 0);
    rng_normal_fill(&r, ub, sizeof ub / sizeof *ub);
    memcpy(u1, ub + T * F, sizeof u1);
    CHECK(pdd_simulate(&p.g, &pr, B, ub, 5, 0.2, 0.01, NULL, NULL, 42, 0, &e) == 0, "%s", e.msg);
    CHECK(pdd_simulate(&p.g, &pr, 1, u1, 5, 0.2, 0.01, NULL, NULL, 42, 1, &e) == 0, "%s", e.msg);
    CHECK(memcmp(u1, ub + T * F, sizeof u1) == 0, "noise depends on the batch");
    CHECK(memcmp(u1 + 5 * F, u + T * F + 5 * F, 4 * F * sizeof *u) != 0, "noise had no effect");
    CHECK(pdd_simulate(&p.g, &pr, 1, u1, 0, 0.2, 0.01, NULL, NULL, 42, 1, &e) == -1, "0 given frames refused");
}

// Coloured rollout noise: with a zero predictor every increment is the noise,
// whose DFT (computed here directly) must have variance N sd(k)^2 per mode.
static void test_simulate_coloured(void)
{
    enum { T = 401, B = 4, C = 2, S = 8, M = 5 };
    linpred p;
    lin_init(&p, T);
    memset(p.A, 0, sizeof p.A);
    pdd_predictor pr = {&p, lin_forward, lin_input_grad, 0};
    eddy_err e;
    rg_grid gr = {.ndim = 1, .n = {S, 0}, .L = {2 * M_PI, 2 * M_PI}, .lap = RG_LAP_SPECTRAL};
    rg_op *op = rg_op_new(&gr, &e);
    CHECK(op != NULL, "%s", e.msg);
    if (!op) return;
    double sd[M] = {0, 1, 0.5, 2, 0.25};
    double *u = calloc((size_t)B * T * C * S, sizeof *u);
    CHECK(pdd_simulate(&p.g, &pr, B, u, 1, 0.2, 123.0, op, sd, 9, 0, &e) == 0, "%s", e.msg);
    CHECK(pdd_simulate(&p.g, &pr, B, u, 1, 0.2, 0.0, NULL, sd, 9, 0, &e) == -1, "coloured noise without an operator refused");
    double var[M] = {0};
    long n = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t + 1 < T; t++)
            for (int c = 0; c < C; c++, n++) {
                const double *a = u + ((long)(b * T + t) * C + c) * S, *z = a + C * S;
                for (int k = 0; k < M; k++) {
                    double re = 0, im = 0;
                    for (int x = 0; x < S; x++) {
                        re += (z[x] - a[x]) * cos(2 * M_PI * k * x / S);
                        im -= (z[x] - a[x]) * sin(2 * M_PI * k * x / S);
                    }
                    var[k] += (re * re + im * im) / S;
                }
            }
    CHECK(var[0] < 1e-20 * n, "the mean mode took noise (%g)", var[0] / n);
    for (int k = 1; k < M; k++) {
        double got = var[k] / n / (sd[k] * sd[k]), tol = 5 * sqrt(2.0 / n);
        NOTE("mode %d: increment variance / sd^2 = %.4f (tolerance %.3f)", k, got, tol);
        CHECK(fabs(got - 1) < tol, "mode %d: increment variance %.4f x sd^2", k, got);
    }
    free(u);
    rg_op_free(op);
}

// ---------------------------------------------------------------- loss and weights

static void test_loss_weights(void)
{
    // v_λ against a direct sum over the full (two-sided) spectrum.
    pdd_geom g = {.T = 4, .C = 2, .dims = 1, .n = {128, 0}, .L = 2 * M_PI, .W = 5};
    pdd_process p = pdd_process_rg(0.1, sqrt(2));
    eddy_err e;
    rg_grid rgg;
    pdd_rg_grid(&g, &p, &rgg);
    rg_op *op = rg_op_new(&rgg, &e);
    CHECK(op != NULL, "%s", e.msg);
    if (!op) return;
    double lams[] = {0.001, 0.01, 0.2, 0.999};
    for (int i = 0; i < 4; i++) {
        double sum = 0;
        for (int q = 0; q < 128; q++) {
            int k = q <= 64 ? q : q - 128;
            if (k == 0) continue;
            double a = 0.1 * k * k;
            sum += 2 * (1 - exp(-2 * a * lams[i])) / (2 * a);
        }
        CHECK_REL(pdd_point_var(op, &p, lams[i]), sum / 128, 1e-12, "v_lambda, spectral");
    }
    CHECK(pdd_point_var(op, &p, 0) == pdd_point_var(op, &p, 1e-3), "floor at dlam");
    CHECK(pdd_point_var(op, &p, 0.5) > pdd_point_var(op, &p, 0.2), "increasing in lambda");
    rg_op_free(op);

    // The PDD reference code (its printed var_t table) uses the FD symbol and a
    // Brownian k = 0 mode (variance β²λ/D more); its var_t must be ours plus that.
    p.fd_laplacian = 1;
    pdd_rg_grid(&g, &p, &rgg);
    op = rg_op_new(&rgg, &e);
    double l96[][2] = {{0.001, 0.00185}, {0.01, 0.0113}, {0.1, 0.0389}, {0.2, 0.0552}, {0.999, 0.124}};
    for (int i = 0; i < 5; i++)
        CHECK_REL(pdd_point_var(op, &p, l96[i][0]) + 2 * l96[i][0] / 128, l96[i][1], 6e-3,
                  "L96 var_t of the reference");
    rg_op_free(op);
    pdd_geom g2 = {.T = 4, .C = 1, .dims = 2, .n = {40, 40}, .L = 2 * M_PI, .W = 5};
    pdd_process pk = pdd_process_rg(0.3, sqrt(2));
    pk.fd_laplacian = 1;
    pdd_rg_grid(&g2, &pk, &rgg);
    op = rg_op_new(&rgg, &e);
    double kf[][2] = {{0.001, 0.00191}, {0.01, 0.0132}, {0.1, 0.0319}, {0.2, 0.0366}, {0.999, 0.0473}};
    for (int i = 0; i < 5; i++)
        CHECK_REL(pdd_point_var(op, &pk, kf[i][0]) + 2 * kf[i][0] / 1600, kf[i][1], 6e-3,
                  "KF var_t of the reference");
    rg_op_free(op);
    pdd_process vp = pdd_process_vp(3);
    CHECK_CLOSE(pdd_point_var(NULL, &vp, 0.5), 1 - exp(-3.0), 1e-14, "VP variance");

    // The training losses and their gradients (lib/pdd.h pdd_window_loss, the
    // one pd-train minimises): known residuals, and finite differences.
    int nw = 6, F = 2 * 128;
    double *t = malloc(sizeof(double) * nw * F), *f = malloc(sizeof(double) * nw * F);
    double *gf = malloc(sizeof(double) * nw * F), v[6] = {0.5, 0.5, 0.5, 0.02, 0.02, 0.02};
    for (int i = 0; i < nw * F; i++) t[i] = 1, f[i] = 0.5;          // residual 0.5 everywhere
    double count = (double)nw * F;
    double L = pdd_window_loss(nw, F, t, f, v, count, gf);
    double want = (0.25 / (2 * 0.5) + 0.25 / (2 * 0.02)) / 2;
    CHECK_REL(L, want, 1e-12, "PDD loss with known residuals");
    CHECK_REL(pdd_window_loss(nw, F, t, f, NULL, count, NULL), 0.25, 1e-12, "DDPM loss");
    eddy_rng r;
    rng_init(&r, 3, 0, 0, 0);
    rng_normal_fill(&r, f, nw * F);
    int idx[] = {0, 17, 3 * F - 1, 3 * F + 5};
    for (int k = 0; k < 2; k++) {
        const double *vk = k ? NULL : v;
        pdd_window_loss(nw, F, t, f, vk, count, gf);
        for (int i = 0; i < 4; i++) {
            double keep = f[idx[i]], h = 1e-5;
            f[idx[i]] = keep + h;
            double lp = pdd_window_loss(nw, F, t, f, vk, count, NULL);
            f[idx[i]] = keep - h;
            double lm = pdd_window_loss(nw, F, t, f, vk, count, NULL);
            f[idx[i]] = keep;
            CHECK_REL(gf[idx[i]], (lp - lm) / (2 * h), 1e-5, k ? "DDPM loss gradient" : "PDD loss gradient");
        }
    }
    free(t); free(f); free(gf);
}

static void test_grids(void)
{
    double l[1001], r[31];
    eddy_err e;
    CHECK(pdd_grid_uniform(1, 0, 1000, l, &e) == 0, "%s", e.msg);
    CHECK(l[0] == 1 && l[1000] == 0 && fabs(l[1] - 0.999) < 1e-15, "uniform grid");
    CHECK(pdd_grid_rho(1, 1e-3, 0, 30, 7, r, &e) == 0, "%s", e.msg);
    CHECK(r[0] == 1 && r[29] == 1e-3 && r[30] == 0, "rho grid ends");
    int mono = 1;
    for (int i = 0; i < 30; i++) mono &= r[i] > r[i + 1];
    CHECK(mono, "rho grid decreasing");
    CHECK(r[0] - r[1] > r[28] - r[29], "rho grid refines toward 0");
    CHECK(pdd_grid_uniform(0.2, 0.3, 10, l, &e) == -1, "bad grid refused");
}

// ---------------------------------------------------------------- Gaussian law, exact score
// Frames are i.i.d. stationary Gaussian fields of per-mode variance P(k)
// (unitary DFT).  At λ the law is Gaussian with per-mode variance
// V = C²P + Σ, so the exact score is the circulant -K u with symbol 1/V.

enum { GN = 16, GT = 2, GB = 1000 };

typedef struct {
    pdd_process p;
    double pscale;        // the score believes P·pscale (1 = exact)
    double kern[GN];
} gauss;

static double gP(int q) { return 1.0 / (1 + 0.1 * q * q); }

static double gV(const gauss *G, int q, double lam)
{
    double k2 = (double)q * q;
    double c = pdd_proc_c(&G->p, k2, lam);
    return c * c * gP(q) * G->pscale + pdd_proc_sigma(&G->p, k2, lam);
}

static int gauss_score(void *ctx, int B, const double *u, double lam, double *s, eddy_err *e)
{
    (void)e;
    gauss *G = ctx;
    for (int d = 0; d < GN; d++) {
        double acc = 0;
        for (int q = 0; q < GN; q++) {
            int k = q <= GN / 2 ? q : q - GN;
            acc += cos(2 * M_PI * q * d / GN) / gV(G, abs(k), lam);
        }
        G->kern[d] = acc / GN;
    }
    for (int f = 0; f < B * GT; f++)
        for (int x = 0; x < GN; x++) {
            double acc = 0;
            for (int d = 0; d < GN; d++) acc += G->kern[d] * u[f * GN + (x - d + GN) % GN];
            s[f * GN + x] = -acc;
        }
    return 0;
}

// Fields with per-mode variance V(q) at λ, by naive DFT synthesis.
static void gauss_draw(const gauss *G, double lam, double *u, uint64_t seed)
{
    eddy_rng r;
    rng_init(&r, seed, 0, 0, 99);
    for (int f = 0; f < GB * GT; f++) {
        double re[GN / 2 + 1], im[GN / 2 + 1];
        for (int q = 0; q <= GN / 2; q++) {
            double sd = sqrt(gV(G, q, lam));
            int real = q == 0 || q == GN / 2;
            re[q] = sd * rng_normal(&r) * (real ? 1 : M_SQRT1_2);
            im[q] = real ? 0 : sd * rng_normal(&r) * M_SQRT1_2;
        }
        for (int x = 0; x < GN; x++) {
            double acc = re[0] + re[GN / 2] * (x % 2 ? -1 : 1);
            for (int q = 1; q < GN / 2; q++) {
                double a = 2 * M_PI * q * x / GN;
                acc += 2 * (re[q] * cos(a) - im[q] * sin(a));
            }
            u[f * GN + x] = acc / sqrt(GN);
        }
    }
}

// Mean over fields of |û_q|² (unitary), divided by P(q).
static void gauss_ratio(const double *u, double *ratio)
{
    for (int q = 0; q <= GN / 2; q++) {
        double acc = 0;
        for (int f = 0; f < GB * GT; f++) {
            double re = 0, im = 0;
            for (int x = 0; x < GN; x++) {
                re += u[f * GN + x] * cos(2 * M_PI * q * x / GN);
                im -= u[f * GN + x] * sin(2 * M_PI * q * x / GN);
            }
            acc += (re * re + im * im) / GN;
        }
        ratio[q] = acc / (GB * GT) / gP(q);
    }
}

// Runs the sampler from the exact law at lmax to λ = 0; returns the worst
// per-mode |ratio - 1| and the mean ratio over k ≠ 0.
static void gauss_run(gauss *G, pdd_pc_opts o, const double *lams, int nlam, double *worst,
                      double *mean, long *nfe, int spectrum)
{
    pdd_geom g = {.T = GT, .C = 1, .dims = 1, .n = {GN, 0}, .L = 2 * M_PI, .W = 1};
    eddy_err e;
    pdd_sampler *s = pdd_sampler_new(&g, &G->p, GB, &e);
    CHECK(s != NULL, "%s", e.msg);
    if (!s) return;
    if (spectrum) {
        double P[GN / 2 + 1];
        for (int q = 0; q <= GN / 2; q++) P[q] = gP(q);
        CHECK(pdd_sampler_set_spectrum(s, P, &e) == 0, "%s", e.msg);
    }
    double *u = malloc(sizeof(double) * GB * GT * GN), ratio[GN / 2 + 1];
    double ps = G->pscale;
    G->pscale = 1;
    gauss_draw(G, lams[0], u, 5);
    G->pscale = ps;
    *nfe = 0;
    CHECK(pdd_reverse(s, &o, lams, nlam, gauss_score, G, GB, u, nfe, &e) == 0, "%s", e.msg);
    gauss_ratio(u, ratio);
    *worst = 0, *mean = 0;
    for (int q = 1; q <= GN / 2; q++) {
        *worst = fmax(*worst, fabs(ratio[q] - 1));
        *mean += ratio[q] / (GN / 2);
    }
    NOTE("ratios k=1..%d: %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.3f (nfe %ld)", GN / 2, ratio[1],
         ratio[2], ratio[3], ratio[4], ratio[5], ratio[6], ratio[7], ratio[8], *nfe);
    if (G->p.kind == PDD_PROC_RG) CHECK_REL(ratio[0], 1, 0.25, "k = 0 mode left at its law");
    free(u);
    pdd_sampler_free(s);
}

static void test_reverse_gaussian(void)
{
    // Per-mode estimates from 500 fields: std ≈ 4.5 % (complex modes), so
    // 20 % per mode and 6 % on the mean of 8 modes are > 4 standard errors.
    double lams[1001], rho[41], worst, mean;
    long nfe;
    eddy_err e;
    pdd_grid_uniform(1, 0, 1000, lams, &e);
    pdd_grid_rho(1, 1e-3, 0, 40, 7, rho, &e);
    pdd_pc_opts o = pdd_pc_defaults();
    o.extrapolate = 0;      // i.i.d. frames: no temporal boundary to patch
    o.final_noise = 0;
    o.seed = 9;

    gauss G = {.p = pdd_process_rg(0.3, sqrt(2)), .pscale = 1};
    NOTE("RG, paper ETD, 1000 steps, no corrector");
    o.ncorr = 0;
    gauss_run(&G, o, lams, 1001, &worst, &mean, &nfe, 0);
    CHECK(worst < 0.2 && fabs(mean - 1) < 0.06, "ETD law: worst %.3f mean %.3f", worst, mean);
    CHECK(nfe == 1000, "nfe %ld", nfe);

    NOTE("RG, exact step with the data spectrum, rho schedule 40 steps, no corrector");
    o.step = PDD_STEP_EXACT;
    gauss_run(&G, o, rho, 41, &worst, &mean, &nfe, 1);
    CHECK(worst < 0.2 && fabs(mean - 1) < 0.06, "exact-step law: worst %.3f mean %.3f", worst, mean);
    CHECK(nfe == 40, "nfe %ld", nfe);
    NOTE("the same without the spectrum (beta-tilde variance): under-dispersed");
    gauss_run(&G, o, rho, 41, &worst, &mean, &nfe, 0);
    CHECK(mean < 0.95, "beta-tilde variance at 40 steps should under-disperse: mean %.3f", mean);

    // The corrector is unadjusted Langevin: its stationary variance exceeds
    // the law's by about 1/(1 - χ/2V), so κ = 0.3 visibly over-disperses the
    // smallest-variance modes; at κ = 0.05 the bias is < 1 %.
    NOTE("RG, exact step, rho schedule 40 steps, 2 correctors kappa 0.05");
    o.ncorr = 2;
    o.kappa = 0.05;
    gauss_run(&G, o, rho, 41, &worst, &mean, &nfe, 0);
    CHECK(worst < 0.2 && fabs(mean - 1) < 0.06, "exact-step + corrector law: worst %.3f mean %.3f", worst, mean);
    CHECK(nfe == 120, "nfe %ld", nfe);

    NOTE("control: a score that believes 2P must miss the law");
    G.pscale = 2;
    gauss_run(&G, o, rho, 41, &worst, &mean, &nfe, 0);
    CHECK(mean > 1.5, "wrong score went unnoticed: mean %.3f", mean);

    NOTE("VP (gamma 3), paper ETD, 1000 steps, 1 corrector kappa 0.05");
    gauss V = {.p = pdd_process_vp(3), .pscale = 1};
    o.step = PDD_STEP_ETD;
    o.ncorr = 1;
    gauss_run(&V, o, lams, 1001, &worst, &mean, &nfe, 0);
    CHECK(worst < 0.2 && fabs(mean - 1) < 0.06, "VP law: worst %.3f mean %.3f", worst, mean);
    CHECK(nfe == 2000, "nfe %ld", nfe);
}

// A score pointing away from the data: s = +a·u.  Every sampler must diverge.
static int anti_score(void *ctx, int B, const double *u, double lam, double *s, eddy_err *e)
{
    (void)lam; (void)e;
    for (long i = 0; i < (long)B * 4 * 16; i++) s[i] = *(const double *)ctx * u[i];
    return 0;
}

static int count_steps(void *ctx, int step, double lam, int B, const double *rms, const double *srms,
                       const double *clamped)
{
    (void)lam; (void)B; (void)rms; (void)srms; (void)clamped;
    *(int *)ctx = step + 1;
    return 0;
}

static void test_reverse_divergence(void)
{
    pdd_geom g = {.T = 4, .C = 1, .dims = 1, .n = {16, 0}, .L = 2 * M_PI, .W = 1};
    pdd_process p = pdd_process_rg(0.1, sqrt(2));
    eddy_err e;
    pdd_sampler *smp = pdd_sampler_new(&g, &p, 2, &e);
    double u[2 * 4 * 16], lams[11], a = 50;
    pdd_grid_uniform(1, 0.001, 10, lams, &e);
    pdd_pc_opts o = pdd_pc_defaults();
    o.ncorr = 0, o.sample0 = 4, o.blowup = 20;
    pdd_prior_sample(smp, 2, 1, 1, 4, u, &e);
    int rc = pdd_reverse(smp, &o, lams, 11, anti_score, &a, 2, u, NULL, &e);
    CHECK(rc == -1 && strstr(e.msg, "sample 4 diverged at lambda") && strstr(e.msg, "limit 20"),
          "blow-up reported: %s", rc ? e.msg : "no error");
    // With a clamp the values stay bounded, and saturation is the error.
    o.blowup = 0, o.clamp = 3, o.max_clamped = 0.01;
    pdd_prior_sample(smp, 2, 1, 1, 4, u, &e);
    rc = pdd_reverse(smp, &o, lams, 11, anti_score, &a, 2, u, NULL, &e);
    CHECK(rc == -1 && strstr(e.msg, "beyond the clamp +-3"), "saturation reported: %s", rc ? e.msg : "no error");
    // Allowed saturation: the run completes, bounded, and the monitor sees every step.
    o.max_clamped = 1;
    int steps = 0;
    o.monitor = count_steps, o.monitor_ctx = &steps;
    pdd_prior_sample(smp, 2, 1, 1, 4, u, &e);
    rc = pdd_reverse(smp, &o, lams, 11, anti_score, &a, 2, u, NULL, &e);
    double mx = 0;
    for (int i = 0; i < 2 * 4 * 16; i++) mx = fmax(mx, fabs(u[i]));
    CHECK(rc == 0 && mx <= 3 && steps == 10, "clamped run: rc %d, max %g, %d steps", rc, mx, steps);
    // A non-finite score is caught even with every limit off.
    o.clamp = 0, o.monitor = NULL;
    double inf = INFINITY;
    pdd_prior_sample(smp, 2, 1, 1, 4, u, &e);
    rc = pdd_reverse(smp, &o, lams, 11, anti_score, &inf, 2, u, NULL, &e);
    CHECK(rc == -1 && strstr(e.msg, "diverged"), "non-finite reported: %s", rc ? e.msg : "no error");
    pdd_sampler_free(smp);
}

// pdd_net: the training spectrum against a naive DFT, and the Gaussian
// fallback of the score: with every mode below the threshold the score is
// exactly -u/(C²P + Σ) per mode (the network's only at the frozen k = 0).
static void test_net_spectrum_fallback(void)
{
    enum { N = 8, T = 6, C = 2 };
    pdd_geom g = {.T = T, .C = C, .dims = 1, .n = {N, 0}, .L = 2 * M_PI, .W = 5};
    pdd_process p = pdd_process_rg(0.1, sqrt(2));
    pdd_arch a;
    pdd_arch_default(&a);
    a.width = 4, a.layers = 1, a.modes = 3, a.emb_size = 8, a.emb_hidden = 8;
    pdd_net n;
    eddy_err e;
    CHECK(pdd_net_create(&n, PDD_OBJ_PDD, &g, &p, &a, 5, &e) == 0, "%s", e.msg);
    double u[2 * T * C * N], s[2 * T * C * N], s0[2 * T * C * N];
    eddy_rng r;
    rng_init(&r, 21, 0, 0, 0);
    rng_normal_fill(&r, u, 2 * T * C * N);
    CHECK(pdd_net_fit_spectrum(&n, u, 2, &e) == 0, "%s", e.msg);
    double err = 0;
    for (int c = 0; c < C; c++)
        for (int k = 0; k <= N / 2; k++) {
            double acc = 0;
            for (int f = 0; f < 2 * T; f++) {
                double re = 0, im = 0;
                for (int x = 0; x < N; x++) {
                    re += u[(f * C + c) * N + x] * cos(2 * M_PI * k * x / N);
                    im -= u[(f * C + c) * N + x] * sin(2 * M_PI * k * x / N);
                }
                acc += (re * re + im * im) / N;
            }
            err = fmax(err, fabs(n.spec[c * (N / 2 + 1) + k] - acc / (2 * T)));
        }
    CHECK(err < 1e-12, "spectrum differs from the naive DFT by %g", err);
    pdd_score_ctx sc = {&n, g, 1, 0};
    double lam = 0.3;
    CHECK(pdd_net_score(&sc, 2, u, lam, s0, &e) == 0, "%s", e.msg);
    sc.gauss_below = 1e300;
    CHECK(pdd_net_score(&sc, 2, u, lam, s, &e) == 0, "%s", e.msg);
    // Per field: the k != 0 part of s must be -Σ_k û_k/(C²P + Σ) e^{ikx}/N; the mean
    // of s must be the network score's mean.
    double worst = 0, scale = 0;
    for (int f = 0; f < 2 * T * C; f++) {
        int c = f % C;
        double m0 = 0, m1 = 0;
        for (int x = 0; x < N; x++) m0 += s0[f * N + x] / N, m1 += s[f * N + x] / N;
        worst = fmax(worst, fabs(m0 - m1));
        for (int x = 0; x < N; x++) {
            double want = m0;
            for (int k = 1; k < N; k++) {
                int q = k <= N / 2 ? k : N - k;
                double cl = pdd_proc_c(&p, q * q, lam), sg = pdd_proc_sigma(&p, q * q, lam);
                double gk = -1 / (cl * cl * n.spec[c * (N / 2 + 1) + q] + sg), re = 0, im = 0;
                for (int y = 0; y < N; y++)
                    re += u[f * N + y] * cos(2 * M_PI * k * y / N), im -= u[f * N + y] * sin(2 * M_PI * k * y / N);
                want += gk * (re * cos(2 * M_PI * k * x / N) - im * sin(2 * M_PI * k * x / N)) / N;
            }
            worst = fmax(worst, fabs(s[f * N + x] - want));
            scale = fmax(scale, fabs(want));
        }
    }
    CHECK(worst < 1e-9 * scale, "fallback score differs from -u/(C^2 P + Sigma) by %g (scale %g)", worst, scale);
    pdd_net_free(&n);
}

// pdd_net: the path score through the whole network (the predictor's input
// gradient, lib/pdd.h pdd_path_score) against centred finite differences of
// the path log-density along random directions, for a tiny U-Net (1-D and
// 2-D) and a tiny FNO.  The networks are float32: h and the tolerance are
// set for that (a wrong or missing input gradient is off by O(1)).
static void net_path_score_fd(pdd_arch_kind kind, int dims)
{
    pdd_geom g = {.T = 6, .C = dims == 1 ? 2 : 1, .dims = dims, .n = {dims == 1 ? 16 : 8, dims == 1 ? 0 : 8},
                  .L = 2 * M_PI, .W = 5};
    pdd_process p = pdd_process_rg(dims == 1 ? 0.1 : 0.3, sqrt(2));
    pdd_arch a;
    pdd_arch_default(&a);
    a.kind = kind;
    a.width = 4, a.layers = 1, a.modes = 3, a.emb_size = 8, a.emb_hidden = 8;
    a.unet_base = 4, a.unet_levels = 2, a.unet_ch[0] = 4, a.unet_ch[1] = 8, a.unet_nres = 1;
    a.unet_groups = 2, a.unet_heads = 2, a.unet_emb_size = 8, a.unet_emb_hidden = 8;
    pdd_net n;
    eddy_err e;
    const char *what = kind == PDD_ARCH_UNET ? (dims == 1 ? "U-Net 1-D" : "U-Net 2-D") : "FNO 1-D";
    CHECK(pdd_net_create(&n, PDD_OBJ_PDD, &g, &p, &a, 5, &e) == 0, "%s: %s", what, e.msg);
    CHECK(n.arch == kind, "%s: architecture %d", what, (int)n.arch);
    enum { B = 2 };
    long len = (long)B * g.T * g.C * pdd_geom_points(&g);
    double *u = malloc(len * sizeof *u), *s = malloc(len * sizeof *s), *d = malloc(len * sizeof *d);
    double *w = malloc(len * sizeof *w), *junk = malloc(len * sizeof *junk), lp[B], lm[B], l0[B];
    eddy_rng r;
    rng_init(&r, 31, 0, 0, 0);
    rng_normal_fill(&r, u, len);
    pdd_predictor pr = pdd_net_predictor(&n);
    double lam = 0.2, v = pdd_point_var(n.op, &p, lam);
    CHECK(pdd_path_score(&g, &pr, B, u, lam, v, s, l0, &e) == 0, "%s: %s", what, e.msg);
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        rng_normal_fill(&r, d, len);
        double h = 1e-3, ds = 0;
        for (long i = 0; i < len; i++) ds += s[i] * d[i], w[i] = u[i] + h * d[i];
        CHECK(pdd_path_score(&g, &pr, B, w, lam, v, junk, lp, &e) == 0, "%s", e.msg);
        for (long i = 0; i < len; i++) w[i] = u[i] - h * d[i];
        CHECK(pdd_path_score(&g, &pr, B, w, lam, v, junk, lm, &e) == 0, "%s", e.msg);
        double fd = 0;
        for (int b = 0; b < B; b++) fd += (lp[b] - lm[b]) / (2 * h);
        worst = fmax(worst, fabs(fd - ds) / fabs(ds));
    }
    CHECK(worst < 2e-3, "%s: path score against finite differences of log p: relative error %g", what, worst);
    free(u), free(s), free(d), free(w), free(junk);
    pdd_net_free(&n);
}

static void test_net_path_score_fd(void)
{
    net_path_score_fd(PDD_ARCH_UNET, 1);
    net_path_score_fd(PDD_ARCH_UNET, 2);
    net_path_score_fd(PDD_ARCH_FNO, 1);
}

static void test_prior(void)
{
    // N(0, Σ_λ) per mode, with k = 0 empty.
    pdd_geom g = {.T = GT, .C = 1, .dims = 1, .n = {GN, 0}, .L = 2 * M_PI, .W = 1};
    pdd_process p = pdd_process_rg(0.3, sqrt(2));
    eddy_err e;
    pdd_sampler *s = pdd_sampler_new(&g, &p, GB, &e);
    double *u = malloc(sizeof(double) * GB * GT * GN), ratio[GN / 2 + 1];
    CHECK(pdd_prior_sample(s, GB, 0.5, 3, 0, u, &e) == 0, "%s", e.msg);
    gauss_ratio(u, ratio);
    CHECK(ratio[0] < 1e-20, "k = 0 carries %g", ratio[0]);
    for (int q = 1; q <= GN / 2; q++)
        CHECK_REL(ratio[q] * gP(q), pdd_proc_sigma(&p, q * q, 0.5), 0.2, "prior variance");
    // Keyed by sample: path 3 of a batch = path 0 of a batch starting at 3.
    double one[GT * GN];
    pdd_prior_sample(s, 1, 0.5, 3, 3, one, &e);
    CHECK(memcmp(one, u + 3 * GT * GN, sizeof one) == 0, "prior keyed by sample index");
    free(u);
    pdd_sampler_free(s);
}

int main(void)
{
    RUN(test_windows_start);
    RUN(test_path_score_fd);
    RUN(test_path_score_coloured);
    RUN(test_simulate);
    RUN(test_simulate_coloured);
    RUN(test_loss_weights);
    RUN(test_grids);
    RUN(test_prior);
    RUN(test_reverse_divergence);
    RUN(test_net_spectrum_fallback);
    RUN(test_net_path_score_fd);
    RUN(test_reverse_gaussian);
    return check_done();
}
