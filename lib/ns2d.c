#include "ns2d.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "rng.h"

// Purposes of the random streams of one sample, the last word of the rng key.
enum { RNG_INIT = 1, RNG_NOISE = 2 };

// Two "lanes" of transforms: the two inverse transforms (u, v) and the two
// forward ones (uv, v² − u²) of a right-hand side are independent.
#define LANES 2

struct ns2d {
    ns2d_params p;
    int n, nh, kmax;         // nh = n/2 + 1, kmax = (n-1)/3 (2/3 rule)
    int nrows;
    int *rows;               // (nrows) retained row indices: 0..kmax, n-kmax..n-1
    double *kx, *ky;         // (nh), (n): physical wavenumbers 2π n / L
    double *ik2;             // (nrows, kmax+1) 1/(|k|² n²), 0 at k = 0: ψ̂ scaled for grid values
    double *namp;            // (nrows, kmax+1) noise amplitude per retained mode
    double complex *w;       // (n, nh) the state
    double complex *fh;      // (n, nh) forcing
    double complex *exth;    // (n, nh) external term
    int has_ext, drop;
    double complex *wmid;    // (n, nh) RK2 stage
    double complex *noise;   // (n, nh) noise increment of the current step
    double complex *scratch; // (n, nh)
    // Transform buffers per lane.  specin only ever holds retained modes
    // (everything else stays zero), tmpb the column-transformed inverse input
    // (its columns > kmax are re-zeroed before each row pass, which destroys
    // its input: faster than FFTW_PRESERVE_INPUT), tmpf and specout the
    // forward pass.
    double complex *specin[LANES], *tmpb[LANES], *tmpf[LANES], *specout[LANES];
    double *grid[LANES];     // (n, n)
    fftw_plan colb[LANES], rowb[LANES], rowf[LANES], colf[LANES];
    double t;
    long steps;
    double last_umax;
    int nt;                  // threads used by one right-hand side (1 or 2)
};

void ns2d_params_default(ns2d_params *p)
{
    memset(p, 0, sizeof *p);
    p->n = 64;
    p->L = 2 * M_PI;
    p->nu = 1e-3;
    p->mu = 0.1;
    p->dt = 1e-3;
    p->scheme = NS2D_RK2;
    p->forcing = NS2D_FORCE_KOLMOGOROV;
    p->kf = 4;
    p->famp = 4;
    p->beta = 0;
    p->noise_a = 0;
    p->cfl_max = 1.0;
    p->threads = 1;
}

static int check_params(const ns2d_params *p, eddy_err *e)
{
    if (p->n < 4 || p->n % 2) return eddy_fail(e, "grid size n=%d: must be even and at least 4", p->n);
    if (p->n > 65536) return eddy_fail(e, "grid size n=%d: too large", p->n);
    if (!(p->L > 0) || !isfinite(p->L)) return eddy_fail(e, "domain length L=%g: must be positive", p->L);
    if (!(p->nu >= 0) || !isfinite(p->nu)) return eddy_fail(e, "viscosity nu=%g: must be >= 0", p->nu);
    if (!(p->mu >= 0) || !isfinite(p->mu)) return eddy_fail(e, "drag mu=%g: must be >= 0", p->mu);
    if (!(p->dt > 0) || !isfinite(p->dt)) return eddy_fail(e, "time step dt=%g: must be positive", p->dt);
    if (!(p->beta >= 0) || !isfinite(p->beta)) return eddy_fail(e, "noise amplitude beta=%g: must be >= 0", p->beta);
    if (!(p->noise_a >= 0) || !isfinite(p->noise_a))
        return eddy_fail(e, "noise decay a=%g: must be >= 0", p->noise_a);
    if (!isfinite(p->famp)) return eddy_fail(e, "forcing amplitude %g: not finite", p->famp);
    if (p->forcing != NS2D_FORCE_NONE && (p->kf < 1 || p->kf > (p->n - 1) / 3))
        return eddy_fail(e, "forcing wavenumber kf=%d: must be in 1..%d (the 2/3-rule cutoff of n=%d)",
                         p->kf, (p->n - 1) / 3, p->n);
    if (p->scheme != NS2D_RK2 && p->scheme != NS2D_CN) return eddy_fail(e, "unknown scheme %d", (int)p->scheme);
    return 0;
}

static void forcing_grid(const ns2d *s, double *g)   // (n, n)
{
    int n = s->n;
    double k = 2 * M_PI * s->p.kf / s->p.L, h = s->p.L / n;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double x = i * h, y = j * h, v = 0;
            if (s->p.forcing == NS2D_FORCE_KOLMOGOROV) v = -s->p.famp * cos(k * y);
            else if (s->p.forcing == NS2D_FORCE_CLOSURE)
                v = s->p.famp * (sin(k * (x + y)) + cos(k * (x + y)));
            g[(size_t)j * n + i] = v;
        }
}

static int make_plans(ns2d *s)
{
    int n = s->n, nh = s->nh, m = s->kmax + 1;
    unsigned fl = fft_flags();
    int ok = 1;
    fft_plan_lock();
    for (int l = 0; l < LANES; l++) {
        // Inverse: columns 0..kmax along y (the others are zero), then every row along x.
        s->colb[l] = fftw_plan_many_dft(1, &n, m, s->specin[l], NULL, nh, 1, s->tmpb[l], NULL, nh, 1,
                                        FFTW_BACKWARD, fl);
        s->rowb[l] = fftw_plan_many_dft_c2r(1, &n, n, s->tmpb[l], NULL, 1, nh, s->grid[l], NULL, 1, n, fl);
        // Forward: every row along x, then only the columns the 2/3 rule keeps.
        s->rowf[l] = fftw_plan_many_dft_r2c(1, &n, n, s->grid[l], NULL, 1, n, s->tmpf[l], NULL, 1, nh, fl);
        s->colf[l] = fftw_plan_many_dft(1, &n, m, s->tmpf[l], NULL, nh, 1, s->specout[l], NULL, nh, 1,
                                        FFTW_FORWARD, fl);
        ok = ok && s->colb[l] && s->rowb[l] && s->rowf[l] && s->colf[l];
    }
    fft_plan_unlock();
    return ok ? 0 : -1;
}

ns2d *ns2d_create(const ns2d_params *p, eddy_err *e)
{
    if (check_params(p, e)) return NULL;
    ns2d *s = calloc(1, sizeof *s);
    if (!s) { eddy_fail(e, "out of memory"); return NULL; }
    s->p = *p;
    int n = p->n, nh = n / 2 + 1;
    // Products of modes ≤ kmax reach 2 kmax, which alias onto retained modes
    // unless n > 3 kmax: (n-1)/3 is n/3 except when 3 divides n.
    s->n = n, s->nh = nh, s->kmax = (n - 1) / 3;
    // Below 128² a transform takes microseconds, less than waking a second
    // thread (and far less than waiting for one on a busy machine).
    s->nt = p->threads >= 2 && n >= 128 ? 2 : 1;
    size_t nc = (size_t)n * nh;
    s->rows = malloc(sizeof(int) * (2 * s->kmax + 1));
    s->kx = malloc(sizeof(double) * nh);
    s->ky = malloc(sizeof(double) * n);
    s->ik2 = malloc(sizeof(double) * (2 * s->kmax + 1) * (s->kmax + 1));
    s->namp = malloc(sizeof(double) * (2 * s->kmax + 1) * (s->kmax + 1));
    double complex **cb[] = {&s->w, &s->fh, &s->exth, &s->wmid, &s->noise, &s->scratch};
    int bad = !s->rows || !s->kx || !s->ky || !s->ik2 || !s->namp;
    for (size_t b = 0; b < sizeof cb / sizeof *cb; b++) {
        *cb[b] = fftw_alloc_complex(nc);
        bad = bad || !*cb[b];
        if (*cb[b]) memset(*cb[b], 0, nc * sizeof(double complex));
    }
    for (int l = 0; l < LANES; l++) {
        double complex **lb[] = {&s->specin[l], &s->tmpb[l], &s->tmpf[l], &s->specout[l]};
        for (int b = 0; b < 4; b++) {
            *lb[b] = fftw_alloc_complex(nc);
            bad = bad || !*lb[b];
            if (*lb[b]) memset(*lb[b], 0, nc * sizeof(double complex));
        }
        s->grid[l] = fftw_alloc_real((size_t)n * n);
        bad = bad || !s->grid[l];
    }
    if (bad) { ns2d_free(s); eddy_fail(e, "out of memory for a %dx%d solver", n, n); return NULL; }
    for (int r = 0; r <= s->kmax; r++) s->rows[s->nrows++] = r;
    for (int r = n - s->kmax; r < n; r++) s->rows[s->nrows++] = r;
    for (int i = 0; i < nh; i++) s->kx[i] = 2 * M_PI * i / p->L;
    for (int j = 0; j < n; j++) s->ky[j] = 2 * M_PI * (j <= n / 2 ? j : j - n) / p->L;
    double nc2 = (double)n * n, camp = nc2 / p->L * sqrt(p->dt) * M_SQRT1_2;
    for (int ri = 0; ri < s->nrows; ri++)
        for (int i = 0; i <= s->kmax; i++) {
            double k2 = s->kx[i] * s->kx[i] + s->ky[s->rows[ri]] * s->ky[s->rows[ri]];
            s->ik2[ri * (s->kmax + 1) + i] = k2 > 0 ? 1.0 / (k2 * nc2) : 0;
            s->namp[ri * (s->kmax + 1) + i] = camp * exp(-0.5 * p->noise_a * k2);
        }
    if (make_plans(s)) { ns2d_free(s); eddy_fail(e, "FFTW could not plan a %dx%d transform", n, n); return NULL; }
    double *g = malloc(sizeof(double) * n * n);
    if (!g) { ns2d_free(s); eddy_fail(e, "out of memory"); return NULL; }
    forcing_grid(s, g);
    ns2d_to_hat(s, g, s->fh);
    free(g);
    return s;
}

void ns2d_free(ns2d *s)
{
    if (!s) return;
    fft_plan_lock();
    for (int l = 0; l < LANES; l++) {
        fftw_plan *pl[] = {&s->colb[l], &s->rowb[l], &s->rowf[l], &s->colf[l]};
        for (int b = 0; b < 4; b++)
            if (*pl[b]) fftw_destroy_plan(*pl[b]);
    }
    fft_plan_unlock();
    for (int l = 0; l < LANES; l++) {
        fftw_free(s->specin[l]); fftw_free(s->tmpb[l]); fftw_free(s->tmpf[l]); fftw_free(s->specout[l]);
        fftw_free(s->grid[l]);
    }
    fftw_free(s->w); fftw_free(s->fh); fftw_free(s->exth); fftw_free(s->wmid);
    fftw_free(s->noise); fftw_free(s->scratch);
    free(s->rows); free(s->kx); free(s->ky); free(s->ik2); free(s->namp);
    free(s);
}

const ns2d_params *ns2d_get_params(const ns2d *s) { return &s->p; }
double complex *ns2d_hat(ns2d *s) { return s->w; }
double ns2d_time(const ns2d *s) { return s->t; }
long ns2d_steps(const ns2d *s) { return s->steps; }
void ns2d_set_time(ns2d *s, double t, long steps) { s->t = t; s->steps = steps; }
double ns2d_last_cfl(const ns2d *s) { return s->last_umax * s->p.dt * s->n / s->p.L; }
const double complex *ns2d_forcing_hat(const ns2d *s) { return s->fh; }
void ns2d_set_drop(ns2d *s, int drop_flags) { s->drop = drop_flags; }

// ---------------------------------------------------------------- transforms

static void inverse_lane(ns2d *s, int l)
{
    fftw_execute(s->colb[l]);
    int nh = s->nh, m = s->kmax + 1;
    for (int r = 0; r < s->n; r++) memset(s->tmpb[l] + (size_t)r * nh + m, 0, sizeof(double complex) * (nh - m));
    fftw_execute(s->rowb[l]);
}

static void forward_lane(ns2d *s, int l)
{
    fftw_execute(s->rowf[l]);
    fftw_execute(s->colf[l]);
}

void ns2d_to_hat(ns2d *s, const double *grid, double complex *hat)
{
    int n = s->n, nh = s->nh;
    memcpy(s->grid[0], grid, sizeof(double) * n * n);
    forward_lane(s, 0);
    memset(hat, 0, sizeof(double complex) * n * nh);
    for (int ri = 0; ri < s->nrows; ri++) {
        size_t o = (size_t)s->rows[ri] * nh;
        memcpy(hat + o, s->specout[0] + o, sizeof(double complex) * (s->kmax + 1));
    }
    hat[0] = 0;
}

void ns2d_to_grid(ns2d *s, const double complex *hat, double *grid)
{
    int n = s->n, nh = s->nh;
    double sc = 1.0 / ((double)n * n);
    for (int ri = 0; ri < s->nrows; ri++) {
        size_t o = (size_t)s->rows[ri] * nh;
        for (int i = 0; i <= s->kmax; i++) s->specin[0][o + i] = hat[o + i] * sc;
    }
    inverse_lane(s, 0);
    memcpy(grid, s->grid[0], sizeof(double) * n * n);
}

// Lane l gets the spectral velocity component (l = 0: u = ψ_y, l = 1: v = −ψ_x),
// scaled so that the inverse transform gives grid values.
// (Complex products are spelled out: a complex × complex product compiles to
// a library call that checks for infinities.)
static void velocity_hat(ns2d *s, const double complex *w, int l)
{
    int nh = s->nh, m = s->kmax + 1;
    double complex *o = s->specin[l];
    for (int ri = 0; ri < s->nrows; ri++) {
        int r = s->rows[ri];
        const double *ik2 = s->ik2 + (size_t)ri * m;
        double ky = s->ky[r];
        const double *restrict wr = (const double *)(w + (size_t)r * nh), *restrict kx = s->kx;
        double *restrict orow = (double *)(o + (size_t)r * nh);
        if (l == 0)
            for (int i = 0; i < m; i++) {
                double pr = wr[2 * i] * ik2[i], pi = wr[2 * i + 1] * ik2[i];
                orow[2 * i] = -ky * pi, orow[2 * i + 1] = ky * pr;
            }
        else
            for (int i = 0; i < m; i++) {
                double pr = wr[2 * i] * ik2[i], pi = wr[2 * i + 1] * ik2[i];
                orow[2 * i] = kx[i] * pi, orow[2 * i + 1] = -kx[i] * pr;
            }
    }
}

// Fills specout[0] = FFT(uv) and specout[1] = FFT(v² − u²) for the state w, and
// returns max(|u| + |v|) over the grid.
static double advection_parts(ns2d *s, const double complex *w)
{
    int n = s->n;
    double umax = 0;
    double *g0 = s->grid[0], *g1 = s->grid[1];
#pragma omp parallel num_threads(s->nt) if (s->nt > 1)
    {
#pragma omp for schedule(static)
        for (int l = 0; l < LANES; l++) {
            velocity_hat(s, w, l);
            inverse_lane(s, l);
        }
#pragma omp for schedule(static) reduction(max : umax)
        for (int j = 0; j < n; j++) {
            double *restrict a = g0 + (size_t)j * n, *restrict b = g1 + (size_t)j * n;
            // Eight running maxima, element-wise, so the loop vectorises
            // without fast-math (a single max reduction would not).
            double mv[8] = {0}, m = 0;
            int i = 0;
            for (; i + 8 <= n; i += 8)
                for (int k = 0; k < 8; k++) {
                    double u = a[i + k], v = b[i + k], sp = fabs(u) + fabs(v);
                    mv[k] = sp > mv[k] ? sp : mv[k];
                    a[i + k] = u * v;
                    b[i + k] = v * v - u * u;
                }
            for (; i < n; i++) {
                double u = a[i], v = b[i], sp = fabs(u) + fabs(v);
                m = sp > m ? sp : m;
                a[i] = u * v;
                b[i] = v * v - u * u;
            }
            for (int k = 0; k < 8; k++) m = mv[k] > m ? mv[k] : m;
            // A NaN never wins the max; but one anywhere in the state fills
            // every row after the column pass, so one point per row finds it.
            if (!isfinite(a[0] + b[0])) m = INFINITY;
            umax = m > umax ? m : umax;
        }
#pragma omp for schedule(static)
        for (int l = 0; l < LANES; l++) forward_lane(s, l);
    }
    return umax;
}

// The advection u·∇ω at retained mode q (row r, column i) from advection_parts.
static inline double complex adv_at(const ns2d *s, int r, int i, size_t q)
{
    double kx = s->kx[i], ky = s->ky[r];
    return (ky * ky - kx * kx) * s->specout[0][q] - kx * ky * s->specout[1][q];
}

// The explicit right-hand side at mode q for the state value wq, with the
// advection parts of that state already in specout: f − (μ + ν'k²) ω − u·∇ω
// + external (xh may be NULL; ν' is ν, or 0 when the viscous term is dropped).
static inline double complex rhs_at(const ns2d *s, int r, int i, size_t q, double complex wq, double nuv,
                                    int adv, const double complex *xh)
{
    double k2 = s->kx[i] * s->kx[i] + s->ky[r] * s->ky[r];
    double complex f = s->fh[q] - (s->p.mu + nuv * k2) * wq;
    if (adv) f -= adv_at(s, r, i, q);
    if (xh) f += xh[q];
    return f;
}

// ---------------------------------------------------------------- noise and initial states

static void noise_fill(ns2d *s, long step, double complex *out)
{
    int n = s->n, nh = s->nh, km = s->kmax;
    eddy_rng rng;
    rng_init(&rng, s->p.seed, s->p.sample, (uint64_t)step, RNG_NOISE);
    const double *amp = s->namp;   // rows 0..km come first in s->rows
    out[0] = 0;
    for (int r = 1; r <= km; r++) {   // column 0: Hermitian pairs in y
        double re = rng_normal(&rng), im = rng_normal(&rng), a = amp[(size_t)r * (km + 1)];
        out[(size_t)r * nh] = CMPLX(a * re, a * im);
        out[(size_t)(n - r) * nh] = CMPLX(a * re, -a * im);
    }
    for (int ri = 0; ri < s->nrows; ri++) {
        int r = s->rows[ri];
        for (int i = 1; i <= km; i++) {
            double re = rng_normal(&rng), im = rng_normal(&rng), a = amp[(size_t)ri * (km + 1) + i];
            out[(size_t)r * nh + i] = CMPLX(a * re, a * im);
        }
    }
}

void ns2d_noise_hat(ns2d *s, long step, double complex *out)
{
    memset(out, 0, sizeof(double complex) * s->n * s->nh);
    noise_fill(s, step, out);
}

int ns2d_init_grf(ns2d *s, double alpha, double tau, double sigma, eddy_err *e)
{
    if (!(alpha > 0) || !(tau >= 0) || !(sigma >= 0) || !isfinite(alpha + tau + sigma))
        return eddy_fail(e, "Gaussian random field: need alpha > 0, tau >= 0, sigma >= 0 (got %g, %g, %g)",
                         alpha, tau, sigma);
    int n = s->n, nh = s->nh, km = s->kmax;
    eddy_rng rng;
    rng_init(&rng, s->p.seed, s->p.sample, 0, RNG_INIT);
    double c = (double)n * n * sigma / (s->p.L * s->p.L);
    double complex *w = s->w;
    memset(w, 0, sizeof(double complex) * n * nh);
    // Wavenumbers of the unit torus: 2π times the integer index.
#define LAM(r, i) (c * pow(4 * M_PI * M_PI * ((double)(i) * (i) + (double)(r) * (r)) + tau * tau, -0.5 * alpha))
    for (int r = 1; r <= km; r++) {
        double re = rng_normal(&rng), im = rng_normal(&rng), lam = LAM(r, 0);
        w[(size_t)r * nh] = CMPLX(lam * re, lam * im);
        w[(size_t)(n - r) * nh] = CMPLX(lam * re, -lam * im);
    }
    for (int ri = 0; ri < s->nrows; ri++) {
        int r = s->rows[ri], ry = r <= n / 2 ? r : r - n;
        for (int i = 1; i <= km; i++) {
            double re = rng_normal(&rng), im = rng_normal(&rng), lam = LAM(ry, i);
            w[(size_t)r * nh + i] = CMPLX(lam * re, lam * im);
        }
    }
#undef LAM
    return 0;
}

int ns2d_init_forcing_noise(ns2d *s, double amp, eddy_err *e)
{
    if (!isfinite(amp)) return eddy_fail(e, "initial noise amplitude %g: not finite", amp);
    int n = s->n;
    double *g = malloc(sizeof(double) * n * n);
    if (!g) return eddy_fail(e, "out of memory");
    forcing_grid(s, g);
    eddy_rng rng;
    rng_init(&rng, s->p.seed, s->p.sample, 0, RNG_INIT);
    for (size_t q = 0; q < (size_t)n * n; q++) g[q] += amp * rng_uniform(&rng);
    ns2d_to_hat(s, g, s->w);
    free(g);
    return 0;
}

void ns2d_set_omega(ns2d *s, const double *omega) { ns2d_to_hat(s, omega, s->w); }
void ns2d_get_omega(ns2d *s, double *omega) { ns2d_to_grid(s, s->w, omega); }

void ns2d_set_external(ns2d *s, const double *ext)
{
    s->has_ext = ext != NULL;
    if (ext) ns2d_to_hat(s, ext, s->exth);
}

// ---------------------------------------------------------------- time stepping

void ns2d_rhs(ns2d *s, const double complex *in, double complex *out)
{
    int nh = s->nh, adv = !(s->drop & NS2D_DROP_ADV), visc = !(s->drop & (NS2D_DROP_VISC | NS2D_DROP_VISC_EXPLICIT));
    if (adv) advection_parts(s, in);
    memset(out, 0, sizeof(double complex) * s->n * nh);
    for (int ri = 0; ri < s->nrows; ri++) {
        int r = s->rows[ri];
        for (int i = 0; i <= s->kmax; i++) {
            size_t q = (size_t)r * nh + i;
            out[q] = rhs_at(s, r, i, q, in[q], visc ? s->p.nu : 0, adv, s->has_ext ? s->exth : NULL);
        }
    }
}

static int step_once(ns2d *s, eddy_err *e)
{
    int nh = s->nh, adv = !(s->drop & NS2D_DROP_ADV);
    int visc_impl = !(s->drop & NS2D_DROP_VISC);
    int visc_expl = visc_impl && !(s->drop & NS2D_DROP_VISC_EXPLICIT);
    double dt = s->p.dt, mu = s->p.mu, nu = s->p.nu, beta = s->p.beta;
    double complex *w = s->w, *wm = s->wmid, *fh = s->fh, *xh = s->has_ext ? s->exth : NULL;
    if (beta > 0) noise_fill(s, s->steps, s->noise);
    double umax = adv ? advection_parts(s, w) : 0;
    s->last_umax = umax;
    double ss = 0;
    if (s->p.scheme == NS2D_RK2) {
        // Under RK2 there is no implicit part: either drop flag removes ν Δω.
        double nuv = visc_expl ? nu : 0;
        // Rows split over the threads: each mode's arithmetic is the same at
        // any thread count (only ss, a finiteness probe, sums in another order).
#pragma omp parallel for num_threads(s->nt) if (s->nt > 1) schedule(static)
        for (int ri = 0; ri < s->nrows; ri++) {
            int r = s->rows[ri];
            for (int i = 0; i <= s->kmax; i++) {
                size_t q = (size_t)r * nh + i;
                wm[q] = w[q] + 0.5 * dt * rhs_at(s, r, i, q, w[q], nuv, adv, xh);
            }
        }
        if (adv) advection_parts(s, wm);
#pragma omp parallel for num_threads(s->nt) if (s->nt > 1) schedule(static) reduction(+ : ss)
        for (int ri = 0; ri < s->nrows; ri++) {
            int r = s->rows[ri];
            for (int i = 0; i <= s->kmax; i++) {
                size_t q = (size_t)r * nh + i;
                double complex v = w[q] + dt * rhs_at(s, r, i, q, wm[q], nuv, adv, xh);
                if (beta > 0) v += beta * s->noise[q];
                w[q] = v;
                ss += creal(v) * creal(v) + cimag(v) * cimag(v);
            }
        }
    } else {
#pragma omp parallel for num_threads(s->nt) if (s->nt > 1) schedule(static) reduction(+ : ss)
        for (int ri = 0; ri < s->nrows; ri++) {
            int r = s->rows[ri];
            for (int i = 0; i <= s->kmax; i++) {
                size_t q = (size_t)r * nh + i;
                double k2 = s->kx[i] * s->kx[i] + s->ky[r] * s->ky[r];
                double complex num = w[q] + dt * (fh[q] - mu * w[q]);
                if (adv) num -= dt * adv_at(s, r, i, q);
                if (xh) num += dt * xh[q];
                if (visc_expl) num -= 0.5 * dt * nu * k2 * w[q];
                if (beta > 0) num += beta * s->noise[q];
                double complex v = visc_impl ? num / (1 + 0.5 * dt * nu * k2) : num;
                w[q] = v;
                ss += creal(v) * creal(v) + cimag(v) * cimag(v);
            }
        }
    }
    double cfl = ns2d_last_cfl(s);
    if (!isfinite(ss) || !isfinite(umax))
        return eddy_fail(e, "blow-up at t=%.6g (step %ld): the vorticity is not finite", s->t, s->steps);
    if (s->p.cfl_max > 0 && cfl > s->p.cfl_max)
        return eddy_fail(e, "blow-up at t=%.6g (step %ld): CFL number %.3g exceeds %.3g (reduce dt)", s->t,
                         s->steps, cfl, s->p.cfl_max);
    s->steps++;
    s->t = s->steps * dt;
    return 0;
}

int ns2d_advance(ns2d *s, long nsteps, eddy_err *e)
{
    double t0 = s->t;
    long k0 = s->steps;
    for (long k = 0; k < nsteps; k++) {
        if (step_once(s, e)) return -1;
        // Time as step count × dt from the start, so long runs do not drift.
        s->t = t0 + (double)(s->steps - k0) * s->p.dt;
    }
    return 0;
}

// ---------------------------------------------------------------- diagnostics

void ns2d_transforms_only(ns2d *s, long nsteps)
{
    int nrhs = s->p.scheme == NS2D_RK2 ? 2 : 1;
    for (long k = 0; k < nsteps * nrhs; k++) {
#pragma omp parallel num_threads(s->nt) if (s->nt > 1)
        {
#pragma omp for schedule(static)
            for (int l = 0; l < LANES; l++) inverse_lane(s, l);
#pragma omp for schedule(static)
            for (int l = 0; l < LANES; l++) forward_lane(s, l);
        }
    }
}

void ns2d_velocity(ns2d *s, double *u, double *v)
{
    size_t nn = (size_t)s->n * s->n;
    for (int l = 0; l < LANES; l++) {
        velocity_hat(s, s->w, l);
        inverse_lane(s, l);
    }
    memcpy(u, s->grid[0], sizeof(double) * nn);
    memcpy(v, s->grid[1], sizeof(double) * nn);
}

// scratch = −u·∇w over retained modes (zero elsewhere).
static void minus_advection_hat(ns2d *s, const double complex *w, double complex *out)
{
    int nh = s->nh;
    advection_parts(s, w);
    memset(out, 0, sizeof(double complex) * s->n * nh);
    for (int ri = 0; ri < s->nrows; ri++) {
        int r = s->rows[ri];
        for (int i = 0; i <= s->kmax; i++) {
            size_t q = (size_t)r * nh + i;
            out[q] = -adv_at(s, r, i, q);
        }
    }
}

void ns2d_advection(ns2d *s, const double *omega, double *out)
{
    double complex *h = s->wmid;    // free between steps
    ns2d_to_hat(s, omega, h);
    minus_advection_hat(s, h, s->scratch);
    ns2d_to_grid(s, s->scratch, out);
    size_t nn = (size_t)s->n * s->n;
    for (size_t q = 0; q < nn; q++) out[q] = -out[q];
}

void ns2d_closure_terms(ns2d *s, double *G, double *H)
{
    int nh = s->nh;
    double beta = s->p.beta;
    if (beta > 0) noise_fill(s, s->steps, s->noise);
    double xi = beta / s->p.dt;      // β ξ = β dW / dt
    if (G) {
        memset(s->scratch, 0, sizeof(double complex) * s->n * nh);
        for (int ri = 0; ri < s->nrows; ri++) {
            int r = s->rows[ri];
            for (int i = 0; i <= s->kmax; i++) {
                size_t q = (size_t)r * nh + i;
                double k2 = s->kx[i] * s->kx[i] + s->ky[r] * s->ky[r];
                s->scratch[q] = -s->p.nu * k2 * s->w[q] + (beta > 0 ? xi * s->noise[q] : 0);
            }
        }
        ns2d_to_grid(s, s->scratch, G);
    }
    if (H) {
        minus_advection_hat(s, s->w, s->scratch);
        if (beta > 0)
            for (int ri = 0; ri < s->nrows; ri++) {
                size_t o = (size_t)s->rows[ri] * nh;
                for (int i = 0; i <= s->kmax; i++) s->scratch[o + i] += xi * s->noise[o + i];
            }
        ns2d_to_grid(s, s->scratch, H);
    }
}

double ns2d_mean_product(const ns2d *s, const double complex *a, const double complex *b)
{
    int n = s->n, nh = s->nh;
    double sum = 0;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < nh; i++) {
            size_t q = (size_t)r * nh + i;
            double wgt = (i == 0 || i == n / 2) ? 1 : 2;
            sum += wgt * (creal(a[q]) * creal(b[q]) + cimag(a[q]) * cimag(b[q]));
        }
    double nn = (double)n * n;
    return sum / (nn * nn);
}

void ns2d_invariants(const ns2d *s, const double complex *w, double *E, double *Z, double *P)
{
    int n = s->n, nh = s->nh;
    double e = 0, z = 0, p = 0;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < nh; i++) {
            size_t q = (size_t)r * nh + i;
            double k2 = s->kx[i] * s->kx[i] + s->ky[r] * s->ky[r];
            double wgt = (i == 0 || i == n / 2) ? 1 : 2;
            double a2 = wgt * (creal(w[q]) * creal(w[q]) + cimag(w[q]) * cimag(w[q]));
            if (k2 > 0) e += a2 / k2;
            z += a2;
            p += a2 * k2;
        }
    double nn = (double)n * n, d = 2 * nn * nn;
    if (E) *E = e / d;
    if (Z) *Z = z / d;
    if (P) *P = p / d;
}
