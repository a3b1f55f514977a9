// The 2-D vorticity solver against exact solutions, budgets, convergence
// order, the change of units of lib/ns2d.h and the closure coupling hooks.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ns2d.h"

static ns2d *make(ns2d_params p)
{
    eddy_err e;
    ns2d *s = ns2d_create(&p, &e);
    if (!s) {
        printf("#   ns2d_create: %s\n", e.msg);
        exit(1);
    }
    return s;
}

static double *grid(int n) { return calloc((size_t)n * n, sizeof(double)); }

static double max_abs_diff(const double *a, const double *b, size_t m)
{
    double d = 0;
    for (size_t q = 0; q < m; q++) d = fmax(d, fabs(a[q] - b[q]));
    return d;
}

static double max_abs(const double *a, size_t m)
{
    double d = 0;
    for (size_t q = 0; q < m; q++) d = fmax(d, fabs(a[q]));
    return d;
}

static ns2d_params base(int n)
{
    ns2d_params p;
    ns2d_params_default(&p);
    p.n = n;
    p.forcing = NS2D_FORCE_NONE;
    p.seed = 7;
    return p;
}

// A single Fourier mode has u ⟂ ∇ω, so it decays exactly as exp(−(μ+ν|k|²)t).
static void test_single_mode_decay(void)
{
    int n = 32;
    for (int scheme = 0; scheme < 2; scheme++) {
        ns2d_params p = base(n);
        p.L = 3.0; p.nu = 0.01; p.mu = 0.1; p.dt = 0.01;
        p.scheme = scheme ? NS2D_CN : NS2D_RK2;
        ns2d *s = make(p);
        double *w = grid(n), *ex = grid(n);
        double kx = 2 * M_PI * 2 / p.L, ky = 2 * M_PI * 3 / p.L, h = p.L / n;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++) w[j * n + i] = 1.7 * cos(kx * i * h + ky * j * h + 0.3);
        ns2d_set_omega(s, w);
        int nsteps = 100;
        eddy_err e;
        CHECK(ns2d_advance(s, nsteps, &e) == 0, "advance: %s", e.msg);
        double lam = p.mu + p.nu * (kx * kx + ky * ky), z = lam * p.dt;
        double exact = exp(-lam * nsteps * p.dt);
        // The scheme's own amplification factor per step, known exactly.
        double hv = 0.5 * p.nu * (kx * kx + ky * ky) * p.dt;
        double g = scheme ? (1 - p.mu * p.dt - hv) / (1 + hv) : 1 - z + 0.5 * z * z;
        double amp = pow(g, nsteps);
        ns2d_get_omega(s, ex);
        for (size_t q = 0; q < (size_t)n * n; q++) ex[q] -= w[q] * amp;
        CHECK_CLOSE(max_abs(ex, (size_t)n * n) / 1.7, 0, 1e-13, scheme ? "CN vs its amplification" : "RK2 vs its amplification");
        // The amplification against the exact exponential: RK2 errs by n z³/6, CN/Euler by O(n z² ...).
        if (!scheme) CHECK_CLOSE(amp / exact - 1, 0, 1.2 * nsteps * z * z * z / 6, "RK2 vs exp");
        else CHECK_REL(amp, exact, 0.01, "CN/Euler vs exp (first order in mu)");
        NOTE("%s: amplification %.15g exact %.15g", scheme ? "CN" : "RK2", amp, exact);
        free(w); free(ex);
        ns2d_free(s);
    }
}

// u·∇ω of ω = a cos(k1·x) + b sin(k2·x) + c cos(k3·x), from analytic derivatives.
static void test_advection_analytic(void)
{
    int n = 48;
    ns2d_params p = base(n);
    p.L = 2.5;
    ns2d *s = make(p);
    double *w = grid(n), *out = grid(n), *ex = grid(n);
    const double amp[3] = {1.0, 0.7, -1.3};
    const int nk[3][2] = {{1, 0}, {2, -3}, {0, 4}};   // (n_x, n_y), all ≤ n/6 so no product is truncated
    double h = p.L / n, c = 2 * M_PI / p.L;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double x = i * h, y = j * h;
            double om = 0, ox = 0, oy = 0, px = 0, py = 0;
            for (int m = 0; m < 3; m++) {
                double kx = c * nk[m][0], ky = c * nk[m][1], k2 = kx * kx + ky * ky, ph = kx * x + ky * y;
                // mode m: a cos(ph) for m != 1, a sin(ph) for m == 1; ψ = ω/|k|².
                double f = m == 1 ? sin(ph) : cos(ph), df = m == 1 ? cos(ph) : -sin(ph);
                om += amp[m] * f;
                ox += amp[m] * kx * df;
                oy += amp[m] * ky * df;
                px += amp[m] * kx * df / k2;
                py += amp[m] * ky * df / k2;
            }
            w[j * n + i] = om;
            ex[j * n + i] = py * ox + (-px) * oy;   // u = ψ_y, v = −ψ_x
        }
    ns2d_advection(s, w, out);
    double d = max_abs_diff(out, ex, (size_t)n * n), m = max_abs(ex, (size_t)n * n);
    NOTE("max |u·∇ω| %.3f, max error %.3g", m, d);
    CHECK(m > 1, "the test field has a non-trivial advection (max %g)", m);
    CHECK_CLOSE(d / m, 0, 1e-13, "advection vs analytic");
    free(w); free(out); free(ex);
    ns2d_free(s);
}

// Laminar Kolmogorov flow: ω* = −A/(μ+νk²) cos(ky) is steady; from rest the
// flow follows ω*(1 − e^{−(μ+νk²)t}).
static void test_laminar_kolmogorov(void)
{
    int n = 32;
    ns2d_params p = base(n);
    p.forcing = NS2D_FORCE_KOLMOGOROV; p.kf = 4; p.famp = 4; p.mu = 0.1; p.nu = 1e-3; p.dt = 1e-3;
    ns2d *s = make(p);
    double k = 4, lam = p.mu + p.nu * k * k, A = -p.famp / lam, h = p.L / n;
    double *w = grid(n), *ex = grid(n);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) ex[j * n + i] = A * cos(k * j * h);
    eddy_err e;
    // From rest to t = 1.
    CHECK(ns2d_advance(s, 1000, &e) == 0, "%s", e.msg);
    ns2d_get_omega(s, w);
    double fac = 1 - exp(-lam * 1.0), d = 0;
    for (size_t q = 0; q < (size_t)n * n; q++) d = fmax(d, fabs(w[q] - fac * ex[q]));
    NOTE("from rest at t=1: rel error %.3g", d / (fac * fabs(A)));
    CHECK_CLOSE(d / (fac * fabs(A)), 0, 1e-8, "laminar from rest (RK2 time error ~2e-9)");
    // The steady state stays put.
    ns2d_set_omega(s, ex);
    CHECK(ns2d_advance(s, 1000, &e) == 0, "%s", e.msg);
    ns2d_get_omega(s, w);
    d = max_abs_diff(w, ex, (size_t)n * n);
    CHECK_CLOSE(d / fabs(A), 0, 1e-13, "steady state preserved");
    free(w); free(ex);
    ns2d_free(s);
}

static ns2d_params turbulent(int n, double dt, ns2d_scheme sc)
{
    ns2d_params p = base(n);
    p.forcing = NS2D_FORCE_KOLMOGOROV; p.kf = 2; p.famp = 2; p.mu = 0.1; p.nu = 5e-3;
    p.dt = dt; p.scheme = sc; p.seed = 11;
    return p;
}

static void run_to(ns2d *s, double T, double *w)
{
    eddy_err e;
    CHECK(ns2d_init_grf(s, 2.5, 7, 7 * 7 * 7 * 20, &e) == 0, "%s", e.msg);
    long k = lround(T / ns2d_get_params(s)->dt);
    CHECK(ns2d_advance(s, k, &e) == 0, "%s", e.msg);
    ns2d_get_omega(s, w);
}

static double rel_l2(const double *a, const double *b, size_t m)
{
    double num = 0, den = 0;
    for (size_t q = 0; q < m; q++) num += (a[q] - b[q]) * (a[q] - b[q]), den += b[q] * b[q];
    return sqrt(num / den);
}

// Error ratio under dt halving: 4 for explicit midpoint, 2 for the CN/Euler
// scheme.  Differences of successive halvings, ‖w(dt) − w(dt/2)‖ /
// ‖w(dt/2) − w(dt/4)‖ → 2^p, need no reference solution.
static void test_time_order(void)
{
    int n = 32;
    size_t m = (size_t)n * n;
    for (int sc = 0; sc < 2; sc++) {
        double dt0 = sc ? 1e-4 : 0.005, T = 1.0;
        double *w[3];
        for (int h = 0; h < 3; h++) {
            w[h] = grid(n);
            ns2d *s = make(turbulent(n, dt0 / (1 << h), sc));
            run_to(s, T, w[h]);
            ns2d_free(s);
        }
        double e1 = rel_l2(w[0], w[1], m), e2 = rel_l2(w[1], w[2], m);
        NOTE("%s: |w(dt)-w(dt/2)| %.3g, |w(dt/2)-w(dt/4)| %.3g, ratio %.3f (dt=%g, max|w| %.2f)", sc ? "CN" : "RK2",
             e1, e2, e1 / e2, dt0, max_abs(w[2], m));
        CHECK(e2 > 1e-9, "error is resolved above rounding (%g)", e2);
        if (!sc) CHECK(e1 / e2 > 3.8 && e1 / e2 < 4.2, "RK2 ratio %g not ≈ 4", e1 / e2);
        else CHECK(e1 / e2 > 1.9 && e1 / e2 < 2.1, "CN/Euler ratio %g not ≈ 2", e1 / e2);
        for (int h = 0; h < 3; h++) free(w[h]);
    }
}

// dE/dt = ⟨ψ f⟩ − 2μE − 2νZ and dZ/dt = ⟨ω f⟩ − 2μZ − 2νP: the advection
// conserves both exactly (2/3-rule Galerkin), and over a run the scheme
// follows the budget to its order of accuracy.
static void test_energy_enstrophy_budget(void)
{
    int n = 48;
    ns2d_params p = turbulent(n, 2e-3, NS2D_RK2);
    ns2d *s = make(p);
    eddy_err e;
    CHECK(ns2d_init_grf(s, 2.5, 7, 7 * 7 * 7 * 20, &e) == 0, "%s", e.msg);
    CHECK(ns2d_advance(s, 200, &e) == 0, "%s", e.msg);
    size_t nc = (size_t)n * (n / 2 + 1);
    double complex *F = calloc(nc, sizeof *F), *psi = calloc(nc, sizeof *psi);
    double complex *w = ns2d_hat(s);
    const double complex *fh = ns2d_forcing_hat(s);
    // ψ̂ = ω̂/|k|².
    for (int r = 0; r < n; r++)
        for (int i = 0; i <= n / 2; i++) {
            double ky = 2 * M_PI * (r <= n / 2 ? r : r - n) / p.L, kx = 2 * M_PI * i / p.L, k2 = kx * kx + ky * ky;
            psi[r * (n / 2 + 1) + i] = k2 > 0 ? w[r * (n / 2 + 1) + i] / k2 : 0;
        }
    ns2d_rhs(s, w, F);
    double E, Z, P;
    ns2d_invariants(s, w, &E, &Z, &P);
    double dE = ns2d_mean_product(s, psi, F), dZ = ns2d_mean_product(s, w, F);
    double dE_b = ns2d_mean_product(s, psi, fh) - 2 * p.mu * E - 2 * p.nu * Z;
    double dZ_b = ns2d_mean_product(s, w, fh) - 2 * p.mu * Z - 2 * p.nu * P;
    NOTE("E %.4f Z %.4f P %.4f; dE/dt %.6g (budget %.6g), dZ/dt %.6g (budget %.6g)", E, Z, P, dE, dE_b, dZ, dZ_b);
    double scaleE = fabs(2 * p.mu * E) + fabs(2 * p.nu * Z), scaleZ = fabs(2 * p.mu * Z) + fabs(2 * p.nu * P);
    CHECK_CLOSE(dE, dE_b, 1e-12 * scaleE, "instantaneous energy budget");
    CHECK_CLOSE(dZ, dZ_b, 1e-12 * scaleZ, "instantaneous enstrophy budget");
    free(psi);
    // Integrated over 0.5 time units: trapezoid on the budget each step.
    double E0 = 0, Z0 = 0, E1 = 0, Z1 = 0, intE = 0, intZ = 0, prevE = 0, prevZ = 0;
    int nsteps = 250;
    for (int k = 0; k <= nsteps; k++) {
        w = ns2d_hat(s);
        ns2d_invariants(s, w, &E, &Z, &P);
        double complex *ps = F;   // reuse as ψ̂
        for (int r = 0; r < n; r++)
            for (int i = 0; i <= n / 2; i++) {
                double ky = 2 * M_PI * (r <= n / 2 ? r : r - n) / p.L, kx = 2 * M_PI * i / p.L, k2 = kx * kx + ky * ky;
                ps[r * (n / 2 + 1) + i] = k2 > 0 ? w[r * (n / 2 + 1) + i] / k2 : 0;
            }
        double bE = ns2d_mean_product(s, ps, fh) - 2 * p.mu * E - 2 * p.nu * Z;
        double bZ = ns2d_mean_product(s, w, fh) - 2 * p.mu * Z - 2 * p.nu * P;
        if (k == 0) E0 = E, Z0 = Z;
        else intE += 0.5 * p.dt * (prevE + bE), intZ += 0.5 * p.dt * (prevZ + bZ);
        prevE = bE, prevZ = bZ;
        if (k == nsteps) E1 = E, Z1 = Z;
        else CHECK(ns2d_advance(s, 1, &e) == 0, "%s", e.msg);
    }
    NOTE("over t=0.5: dE %.8g vs budget %.8g; dZ %.8g vs budget %.8g", E1 - E0, intE, Z1 - Z0, intZ);
    // Both the scheme and the trapezoid rule are O(dt²): a relative budget
    // error of 1e-4 of the gross dissipation is ~10x the measured one.
    CHECK_CLOSE(E1 - E0, intE, 1e-4 * 0.5 * scaleE, "integrated energy budget");
    CHECK_CLOSE(Z1 - Z0, intZ, 1e-4 * 0.5 * scaleZ, "integrated enstrophy budget");
    free(F);
    ns2d_free(s);
}

// ∇·u = 0, ∇×u = ω and ⟨ω⟩ = 0 after a noisy run.
static void test_divergence_free_zero_mean(void)
{
    int n = 32;
    size_t m = (size_t)n * n, nc = (size_t)n * (n / 2 + 1);
    ns2d_params p = base(n);
    p.forcing = NS2D_FORCE_KOLMOGOROV; p.kf = 4; p.famp = 4; p.beta = 0.5; p.noise_a = 0.05; p.L = 5.0;
    ns2d *s = make(p);
    eddy_err e;
    CHECK(ns2d_init_forcing_noise(s, 5.0, &e) == 0, "%s", e.msg);
    CHECK(ns2d_advance(s, 100, &e) == 0, "%s", e.msg);
    double *u = grid(n), *v = grid(n), *w = grid(n), *curl = grid(n), *div = grid(n);
    double complex *uh = calloc(nc, sizeof *uh), *vh = calloc(nc, sizeof *vh), *ch = calloc(nc, sizeof *ch),
                   *dh = calloc(nc, sizeof *dh);
    ns2d_velocity(s, u, v);
    ns2d_get_omega(s, w);
    ns2d_to_hat(s, u, uh);
    ns2d_to_hat(s, v, vh);
    for (int r = 0; r < n; r++)
        for (int i = 0; i <= n / 2; i++) {
            size_t q = (size_t)r * (n / 2 + 1) + i;
            double ky = 2 * M_PI * (r <= n / 2 ? r : r - n) / p.L, kx = 2 * M_PI * i / p.L;
            dh[q] = I * kx * uh[q] + I * ky * vh[q];
            ch[q] = I * kx * vh[q] - I * ky * uh[q];
        }
    ns2d_to_grid(s, dh, div);
    ns2d_to_grid(s, ch, curl);
    double wm = max_abs(w, m), mean = 0;
    for (size_t q = 0; q < m; q++) mean += w[q];
    mean /= m;
    NOTE("max|w| %.3f, max|div u| %.3g, max|curl u - w| %.3g, mean w %.3g", wm, max_abs(div, m),
         max_abs_diff(curl, w, m), mean);
    CHECK(wm > 1, "non-trivial field");
    CHECK_CLOSE(max_abs(div, m) / wm, 0, 1e-14, "divergence-free");
    CHECK_CLOSE(max_abs_diff(curl, w, m) / wm, 0, 1e-13, "curl u = w (sign convention)");
    CHECK_CLOSE(mean / wm, 0, 1e-15, "zero mean");
    free(u); free(v); free(w); free(curl); free(div); free(uh); free(vh); free(ch); free(dh);
    ns2d_free(s);
}

// The closure reference on the unit square against the same flow written with
// L = 2π: t' = 4π² t, ω' = ω/4π², f' = f/(2π)⁴, β' = β/4π², a' = 4π² a.
static void test_change_of_units(void)
{
    int n = 32;
    size_t m = (size_t)n * n;
    double c2 = 4 * M_PI * M_PI;
    for (int sc = 0; sc < 2; sc++) {
        ns2d_params p1 = base(n);
        p1.L = 1; p1.nu = 1e-3; p1.mu = 0; p1.dt = 1e-3; p1.scheme = sc ? NS2D_RK2 : NS2D_CN;
        p1.forcing = NS2D_FORCE_CLOSURE; p1.kf = 1; p1.famp = 0.1; p1.beta = 5e-3; p1.noise_a = 0.005;
        p1.seed = 3; p1.sample = 5;
        ns2d_params p2 = p1;
        p2.L = 2 * M_PI; p2.dt = c2 * p1.dt; p2.famp = p1.famp / (c2 * c2); p2.beta = p1.beta / c2;
        p2.noise_a = c2 * p1.noise_a;
        ns2d *s1 = make(p1), *s2 = make(p2);
        eddy_err e;
        double sig = pow(7, 1.5);
        CHECK(ns2d_init_grf(s1, 2.5, 7, sig, &e) == 0, "%s", e.msg);
        CHECK(ns2d_init_grf(s2, 2.5, 7, sig, &e) == 0, "%s", e.msg);
        CHECK(ns2d_advance(s1, 300, &e) == 0, "%s", e.msg);
        CHECK(ns2d_advance(s2, 300, &e) == 0, "%s", e.msg);
        double *w1 = grid(n), *w2 = grid(n), *g1 = grid(n), *g2 = grid(n), *h1 = grid(n), *h2 = grid(n);
        ns2d_get_omega(s1, w1);
        ns2d_get_omega(s2, w2);
        ns2d_closure_terms(s1, g1, h1);
        ns2d_closure_terms(s2, g2, h2);
        for (size_t q = 0; q < m; q++) w2[q] *= c2, g2[q] *= c2 * c2, h2[q] *= c2 * c2;
        double r = max_abs_diff(w1, w2, m) / max_abs(w1, m);
        double rg = max_abs_diff(g1, g2, m) / max_abs(g1, m), rh = max_abs_diff(h1, h2, m) / max_abs(h1, m);
        NOTE("%s: max|w| %.3f (L=1), rel diff w %.3g, G %.3g, H %.3g; t' / t = %.6f", sc ? "RK2" : "CN",
             max_abs(w1, m), r, rg, rh, ns2d_time(s2) / ns2d_time(s1));
        CHECK(max_abs(w1, m) > 0.1, "non-trivial field");
        CHECK_CLOSE(r, 0, 1e-11, "omega agrees across units");
        CHECK_CLOSE(rg, 0, 1e-11, "G agrees across units");
        CHECK_CLOSE(rh, 0, 1e-11, "H agrees across units");
        free(w1); free(w2); free(g1); free(g2); free(h1); free(h2);
        ns2d_free(s1); ns2d_free(s2);
    }
}

// Per-point variance of the noise increment: dt L⁻² Σ_{n≠0 retained} e^{−a|k|²}.
static void test_noise_variance(void)
{
    int n = 32, km = (n - 1) / 3, draws = 300;
    size_t m = (size_t)n * n, nc = (size_t)n * (n / 2 + 1);
    ns2d_params p = base(n);
    p.L = 3; p.dt = 0.01; p.noise_a = 0.02; p.beta = 1;
    ns2d *s = make(p);
    double complex *h = calloc(nc, sizeof *h);
    double *g = grid(n), var = 0, mean = 0;
    for (int d = 0; d < draws; d++) {
        ns2d_noise_hat(s, d, h);
        ns2d_to_grid(s, h, g);
        for (size_t q = 0; q < m; q++) var += g[q] * g[q], mean += g[q];
    }
    var /= (double)draws * m;
    double expect = 0, c = 2 * M_PI / p.L;
    for (int a = -km; a <= km; a++)
        for (int b = -km; b <= km; b++)
            if (a || b) expect += exp(-p.noise_a * c * c * (a * a + b * b));
    expect *= p.dt / (p.L * p.L);
    NOTE("noise variance %.5g, expected %.5g, mean %.3g", var, expect, mean / (draws * (double)m));
    CHECK_REL(var, expect, 0.03, "noise variance");
    CHECK_CLOSE(mean, 0, 1e-9, "noise has zero mean");
    // Deterministic in (seed, sample, step).
    double complex *h2 = calloc(nc, sizeof *h2);
    ns2d_noise_hat(s, 5, h);
    ns2d_noise_hat(s, 5, h2);
    CHECK(memcmp(h, h2, nc * sizeof *h) == 0, "same key, same noise");
    free(h); free(h2); free(g);
    ns2d_free(s);
}

// The Gaussian random field's per-point variance: L⁻⁴ Σ_{n≠0 retained}
// 2σ²(4π²|n|² + τ²)^(−α) (the FNO benchmark's covariance, scaled to L).
static void test_grf_variance(void)
{
    int n = 32, km = (n - 1) / 3, draws = 200;
    size_t m = (size_t)n * n;
    ns2d_params p = base(n);
    p.L = 2.0;
    double alpha = 2.5, tau = 3, sigma = 5, var = 0;
    double *g = grid(n);
    for (int d = 0; d < draws; d++) {
        p.sample = (uint64_t)d;
        ns2d *s = make(p);
        eddy_err e;
        CHECK(ns2d_init_grf(s, alpha, tau, sigma, &e) == 0, "%s", e.msg);
        ns2d_get_omega(s, g);
        for (size_t q = 0; q < m; q++) var += g[q] * g[q];
        ns2d_free(s);
    }
    var /= (double)draws * m;
    double expect = 0;
    for (int a = -km; a <= km; a++)
        for (int b = -km; b <= km; b++)
            if (a || b) expect += 2 * sigma * sigma * pow(4 * M_PI * M_PI * (a * a + b * b) + tau * tau, -alpha);
    expect /= pow(p.L, 4);
    NOTE("GRF variance %.5g, expected %.5g", var, expect);
    // The lowest modes dominate (few degrees of freedom): ~3% standard error
    // here, so 12% is 4 of them (3000 draws land within 0.7%).
    CHECK_REL(var, expect, 0.12, "GRF variance");
    free(g);
}

// The reference's coupled closure runs are one CN step of the full model
// when fed the exact term: G case drops the explicit ½dt νΔω and adds ½G
// (β = 0); H case drops advection and adds H (the coarse model has no noise,
// the closure carries it).
static void test_closure_coupling_hooks(void)
{
    int n = 32;
    size_t m = (size_t)n * n, nc = (size_t)n * (n / 2 + 1);
    for (int which = 0; which < 2; which++) {
        ns2d_params p = turbulent(n, 5e-3, NS2D_CN);
        p.beta = which ? 0.3 : 0;
        p.noise_a = 0.05;
        ns2d *full = make(p);
        eddy_err e;
        CHECK(ns2d_init_grf(full, 2.5, 7, 7 * 7 * 7 * 20, &e) == 0, "%s", e.msg);
        CHECK(ns2d_advance(full, 20, &e) == 0, "%s", e.msg);
        double *w = grid(n), *G = grid(n), *H = grid(n), *w1 = grid(n), *w2 = grid(n);
        ns2d_get_omega(full, w);
        ns2d_closure_terms(full, G, H);
        ns2d_params pc = p;
        pc.beta = 0;
        ns2d *coarse = make(pc);
        memcpy(ns2d_hat(coarse), ns2d_hat(full), nc * sizeof(double complex));
        if (which == 0) {
            for (size_t q = 0; q < m; q++) G[q] *= 0.5;
            ns2d_set_drop(coarse, NS2D_DROP_VISC_EXPLICIT);
            ns2d_set_external(coarse, G);
        } else {
            ns2d_set_drop(coarse, NS2D_DROP_ADV);
            ns2d_set_external(coarse, H);
        }
        CHECK(ns2d_advance(full, 1, &e) == 0, "%s", e.msg);
        CHECK(ns2d_advance(coarse, 1, &e) == 0, "%s", e.msg);
        ns2d_get_omega(full, w1);
        ns2d_get_omega(coarse, w2);
        double d = max_abs_diff(w1, w2, m) / max_abs(w1, m), dw = max_abs_diff(w1, w, m) / max_abs(w1, m);
        NOTE("%s coupling: rel diff %.3g (step changes w by %.3g)", which ? "H" : "G", d, dw);
        CHECK(dw > 1e-4, "the step does something");
        CHECK_CLOSE(d, 0, 1e-13, which ? "H-coupled step = full step" : "G-coupled step = full step");
        free(w); free(G); free(H); free(w1); free(w2);
        ns2d_free(full); ns2d_free(coarse);
    }
}

// Two threads split the transforms (from n = 128 up) without changing a bit.
static void test_threads_identical(void)
{
    int n = 128;
    size_t nc = (size_t)n * (n / 2 + 1);
    double complex *a = NULL;
    for (int t = 1; t <= 2; t++) {
        ns2d_params p = turbulent(n, 2e-3, NS2D_RK2);
        p.threads = t; p.beta = 0.1; p.noise_a = 0.05;
        ns2d *s = make(p);
        eddy_err e;
        CHECK(ns2d_init_grf(s, 2.5, 7, 7 * 7 * 7 * 20, &e) == 0, "%s", e.msg);
        CHECK(ns2d_advance(s, 20, &e) == 0, "%s", e.msg);
        if (t == 1) {
            a = malloc(nc * sizeof *a);
            memcpy(a, ns2d_hat(s), nc * sizeof *a);
        } else {
            CHECK(memcmp(a, ns2d_hat(s), nc * sizeof *a) == 0, "1 and 2 threads give identical bytes");
        }
        ns2d_free(s);
    }
    free(a);
}

static void test_blowup_and_bad_params(void)
{
    int n = 32;
    ns2d_params p = turbulent(n, 0.5, NS2D_RK2);
    ns2d *s = make(p);
    eddy_err e = {{0}};
    CHECK(ns2d_init_grf(s, 2.5, 7, 7 * 7 * 7 * 20, &e) == 0, "%s", e.msg);
    int rc = ns2d_advance(s, 2000, &e);
    CHECK(rc == -1, "a huge dt must fail");
    CHECK(strstr(e.msg, "blow-up at t=") != NULL, "message names the time: '%s'", e.msg);
    NOTE("%s", e.msg);
    ns2d_free(s);
    const char *bad[] = {"n=0", "odd n", "nu<0", "dt=0", "kf too big"};
    for (int b = 0; b < 5; b++) {
        ns2d_params q = base(32);
        if (b == 0) q.n = 0;
        if (b == 1) q.n = 33;
        if (b == 2) q.nu = -1;
        if (b == 3) q.dt = 0;
        if (b == 4) { q.forcing = NS2D_FORCE_KOLMOGOROV; q.kf = 11; }
        e.msg[0] = 0;
        ns2d *x = ns2d_create(&q, &e);
        CHECK(x == NULL && e.msg[0], "%s must be refused", bad[b]);
        ns2d_free(x);
    }
}

int main(void)
{
    RUN(test_single_mode_decay);
    RUN(test_advection_analytic);
    RUN(test_laminar_kolmogorov);
    RUN(test_time_order);
    RUN(test_energy_enstrophy_budget);
    RUN(test_divergence_free_zero_mean);
    RUN(test_change_of_units);
    RUN(test_noise_variance);
    RUN(test_grf_variance);
    RUN(test_closure_coupling_hooks);
    RUN(test_threads_identical);
    RUN(test_blowup_and_bad_params);
    return check_done();
}
