#include "rg.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"

struct rg_op {
    rg_grid g;
    size_t D, nmodes;
    double *ksq;      // (nmodes)
    double *weight;   // (nmodes)
    fftw_plan r2c, c2r;
};

static double axis_ksq(const rg_grid *g, int axis, long i)
{
    // i indexes the FFT output along the axis (0..N-1); both symbols are even
    // in n, so the sign convention of the upper half does not matter.
    long N = g->n[axis];
    long n = i <= N / 2 ? i : i - N;
    if (g->lap == RG_LAP_FD) {
        double h = g->L[axis] / (double)N;
        double s = sin(M_PI * (double)n / (double)N);
        return 4.0 * s * s / (h * h);
    }
    double k = 2.0 * M_PI * (double)n / g->L[axis];
    return k * k;
}

rg_op *rg_op_new(const rg_grid *g, eddy_err *e)
{
    if (g->ndim != 1 && g->ndim != 2) {
        eddy_fail(e, "rg: %d spatial dimensions (1 or 2 supported)", g->ndim);
        return NULL;
    }
    for (int a = 0; a < g->ndim; a++) {
        if (g->n[a] < 1 || g->n[a] > (1 << 24)) {
            eddy_fail(e, "rg: grid axis %d has %d points", a, g->n[a]);
            return NULL;
        }
        if (!(g->L[a] > 0) || !isfinite(g->L[a])) {
            eddy_fail(e, "rg: domain length %g of axis %d is not positive", g->L[a], a);
            return NULL;
        }
    }
    if (g->lap != RG_LAP_SPECTRAL && g->lap != RG_LAP_FD) {
        eddy_fail(e, "rg: unknown Laplacian %d", (int)g->lap);
        return NULL;
    }
    rg_op *op = calloc(1, sizeof *op);
    if (!op) { eddy_fail(e, "rg: out of memory"); return NULL; }
    op->g = *g;
    int nx = g->n[g->ndim - 1], ny = g->ndim == 2 ? g->n[0] : 1;
    size_t hx = (size_t)nx / 2 + 1;
    op->D = (size_t)nx * ny;
    op->nmodes = hx * ny;
    op->ksq = malloc(op->nmodes * sizeof *op->ksq);
    op->weight = malloc(op->nmodes * sizeof *op->weight);
    double *in = fftw_malloc(op->D * sizeof(double));
    fftw_complex *out = fftw_malloc(op->nmodes * sizeof(fftw_complex));
    if (!op->ksq || !op->weight || !in || !out) {
        fftw_free(in); fftw_free(out); rg_op_free(op);
        eddy_fail(e, "rg: out of memory");
        return NULL;
    }
    for (int i = 0; i < ny; i++)
        for (size_t j = 0; j < hx; j++) {
            size_t m = (size_t)i * hx + j;
            double kx = axis_ksq(g, g->ndim - 1, (long)j);
            op->ksq[m] = g->ndim == 2 ? axis_ksq(g, 0, i) + kx : kx;
            // Columns 0 and (even) Nyquist are their own Hermitian partners.
            op->weight[m] = (j == 0 || (nx % 2 == 0 && j == (size_t)nx / 2)) ? 1.0 : 2.0;
        }
    op->ksq[0] = 0.0;

    fft_plan_lock();
    // Single-threaded plans: they run inside our own parallel loops, and a
    // plan's thread split could change the rounding between thread counts.
    int old = fftw_planner_nthreads();
    if (old > 1) fftw_plan_with_nthreads(1);
    if (g->ndim == 1) {
        op->r2c = fftw_plan_dft_r2c_1d(nx, in, out, fft_flags());
        op->c2r = fftw_plan_dft_c2r_1d(nx, out, in, fft_flags());
    } else {
        op->r2c = fftw_plan_dft_r2c_2d(ny, nx, in, out, fft_flags());
        op->c2r = fftw_plan_dft_c2r_2d(ny, nx, out, in, fft_flags());
    }
    if (old > 1) fftw_plan_with_nthreads(old);
    fft_plan_unlock();
    fftw_free(in);
    fftw_free(out);
    if (!op->r2c || !op->c2r) {
        rg_op_free(op);
        eddy_fail(e, "rg: FFTW could not plan a %dx%d transform", ny, nx);
        return NULL;
    }
    return op;
}

void rg_op_free(rg_op *op)
{
    if (!op) return;
    fft_plan_lock();
    if (op->r2c) fftw_destroy_plan(op->r2c);
    if (op->c2r) fftw_destroy_plan(op->c2r);
    fft_plan_unlock();
    free(op->ksq);
    free(op->weight);
    free(op);
}

const rg_grid *rg_op_grid(const rg_op *op) { return &op->g; }
size_t rg_npoints(const rg_op *op) { return op->D; }
size_t rg_nmodes(const rg_op *op) { return op->nmodes; }
const double *rg_ksq(const rg_op *op) { return op->ksq; }
const double *rg_mode_weight(const rg_op *op) { return op->weight; }

double rg_C(const rg_params *p, double ksq)
{
    return ksq == 0.0 ? 1.0 : exp(-p->alpha * ksq * p->lambda);
}

double rg_Sigma(const rg_params *p, double ksq)
{
    if (ksq == 0.0) return 0.0;
    double lam = p->lambda > p->lambda_floor ? p->lambda : p->lambda_floor;
    double a = 2.0 * p->alpha * ksq;
    double b2 = p->beta * p->beta;
    if (a * lam == 0.0) return b2 * lam;    // α = 0: Brownian, the limit of the formula
    return b2 * -expm1(-a * lam) / a;
}

double rg_trace_per_point(const rg_op *op, const rg_params *p)
{
    double s = 0.0;
    for (size_t m = 0; m < op->nmodes; m++) s += op->weight[m] * rg_Sigma(p, op->ksq[m]);
    return s / (double)op->D;
}

double rg_sigma2(const rg_op *op, const rg_params *p, double dt)
{
    return rg_trace_per_point(op, p) / dt;
}

static int check_params(const rg_params *p, eddy_err *e)
{
    if (!(p->alpha >= 0) || !isfinite(p->alpha)) return eddy_fail(e, "rg: alpha %g is not a finite value >= 0", p->alpha);
    if (!(p->beta >= 0) || !isfinite(p->beta)) return eddy_fail(e, "rg: beta %g is not a finite value >= 0", p->beta);
    if (!(p->lambda >= 0) || !isfinite(p->lambda)) return eddy_fail(e, "rg: lambda %g is not a finite value >= 0", p->lambda);
    if (!(p->lambda_floor >= 0) || !isfinite(p->lambda_floor))
        return eddy_fail(e, "rg: lambda floor %g is not a finite value >= 0", p->lambda_floor);
    return 0;
}

void rg_noise_fill(const rg_noise *noise, size_t f, double *eps, size_t n)
{
    eddy_rng r;
    rng_init(&r, noise->seed, noise->record, noise->frame0 + f, noise->purpose);
    rng_normal_fill(&r, eps, n);
}

// The one spectral kernel behind every entry point: for each field,
// u ← (1/D) c2r(mu·r2c(u) + ms·r2c(eps)), where eps comes from the caller,
// from the frame's rng key, or is absent.  u is double or float.
typedef struct {
    const rg_op *op;
    const double *mu, *ms;     // (nmodes); ms NULL: no noise
    int is_float;
    void *u;                   // (nfields, D)
    const double *eps;         // (nfields, D) caller noise, or NULL
    const rg_noise *key;       // key noise per frame of nchan fields, or NULL
    int nchan;
} kernel_job;

static int run_kernel(const kernel_job *jb, size_t nfields, eddy_err *e)
{
    const rg_op *op = jb->op;
    size_t D = op->D, M = op->nmodes;
    int nchan = jb->nchan > 0 ? jb->nchan : 1;
    // With keyed noise the parallel unit is a frame, whose channels share one
    // rng stream drawn in order.
    size_t nunits = jb->key ? nfields / (size_t)nchan : nfields;
    size_t per = jb->key ? (size_t)nchan : 1;
    int failed = 0;
    // The 1/D of the unnormalised inverse transform goes into the mode
    // factors (M products per call) instead of a pass over every point.
    double inv = 1.0 / (double)D;
    double *mu = malloc(M * sizeof *mu), *ms = jb->ms ? malloc(M * sizeof *ms) : NULL;
    if (!mu || (jb->ms && !ms)) {
        free(mu); free(ms);
        return eddy_fail(e, "rg: out of memory");
    }
    for (size_t m = 0; m < M; m++) {
        mu[m] = jb->mu[m] * inv;
        if (ms) ms[m] = jb->ms[m] * inv;
    }
    // Threads only pay off beyond several milliseconds of work: a parallel
    // region costs a barrier, and on a loaded machine a descheduled thread
    // makes that barrier cost a timeslice.
    int par = nfields * D >= ((size_t)1 << 20);
#pragma omp parallel if (par)
    {
        double *x = fftw_malloc(D * sizeof(double));
        double *z = jb->ms ? fftw_malloc(D * sizeof(double)) : NULL;
        fftw_complex *X = fftw_malloc(M * sizeof(fftw_complex));
        fftw_complex *Z = jb->ms ? fftw_malloc(M * sizeof(fftw_complex)) : NULL;
        int ok = x && X && (!jb->ms || (z && Z));
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t unit = 0; unit < nunits; unit++) {
            if (!ok) continue;
            eddy_rng r;
            if (jb->key && jb->ms)
                rng_init(&r, jb->key->seed, jb->key->record, jb->key->frame0 + unit, jb->key->purpose);
            for (size_t c = 0; c < per; c++) {
                size_t fi = unit * per + c;
                if (jb->is_float) {
                    const float *uf = (const float *)jb->u + fi * D;
                    for (size_t i = 0; i < D; i++) x[i] = uf[i];
                } else {
                    memcpy(x, (const double *)jb->u + fi * D, D * sizeof(double));
                }
                fftw_execute_dft_r2c(op->r2c, x, X);
                for (size_t m = 0; m < M; m++) { X[m][0] *= mu[m]; X[m][1] *= mu[m]; }
                if (jb->ms) {
                    if (jb->key) rng_normal_fill(&r, z, D);
                    else if (jb->eps) memcpy(z, jb->eps + fi * D, D * sizeof(double));
                    fftw_execute_dft_r2c(op->r2c, z, Z);
                    for (size_t m = 0; m < M; m++) {
                        X[m][0] += ms[m] * Z[m][0];
                        X[m][1] += ms[m] * Z[m][1];
                    }
                }
                fftw_execute_dft_c2r(op->c2r, X, x);
                if (jb->is_float) {
                    float *uf = (float *)jb->u + fi * D;
                    for (size_t i = 0; i < D; i++) uf[i] = (float)x[i];
                } else {
                    memcpy((double *)jb->u + fi * D, x, D * sizeof(double));
                }
            }
        }
        fftw_free(x); fftw_free(z); fftw_free(X); fftw_free(Z);
    }
    free(mu);
    free(ms);
    if (failed) return eddy_fail(e, "rg: out of memory for FFT work buffers");
    return 0;
}

static int apply_common(const rg_op *op, const rg_params *p, void *u, int is_float,
                        const double *eps, size_t nfields, int nchan, const rg_noise *key,
                        int with_noise, eddy_err *e)
{
    if (check_params(p, e)) return -1;
    if (nfields == 0) return 0;
    int noisy = with_noise && p->beta > 0;
    // C ≡ 1 and no noise: the identity, kept exact rather than rounded
    // through two transforms.
    if (!noisy && (p->lambda == 0.0 || p->alpha == 0.0)) return 0;
    size_t M = op->nmodes;
    double *mu = malloc(M * sizeof *mu), *ms = noisy ? malloc(M * sizeof *ms) : NULL;
    if (!mu || (noisy && !ms)) {
        free(mu); free(ms);
        return eddy_fail(e, "rg: out of memory");
    }
    for (size_t m = 0; m < M; m++) {
        mu[m] = rg_C(p, op->ksq[m]);
        if (noisy) ms[m] = sqrt(rg_Sigma(p, op->ksq[m]));
    }
    kernel_job jb = { op, mu, ms, is_float, u, eps, key, nchan };
    int rc = run_kernel(&jb, nfields, e);
    free(mu);
    free(ms);
    return rc;
}

int rg_apply(const rg_op *op, const rg_params *p, double *u, size_t nframes, int nchan,
             const rg_noise *noise, eddy_err *e)
{
    if (nchan < 1) return eddy_fail(e, "rg: %d channels", nchan);
    return apply_common(op, p, u, 0, NULL, nframes * (size_t)nchan, nchan, noise, noise != NULL, e);
}

int rg_apply_f(const rg_op *op, const rg_params *p, float *u, size_t nframes, int nchan,
               const rg_noise *noise, eddy_err *e)
{
    if (nchan < 1) return eddy_fail(e, "rg: %d channels", nchan);
    return apply_common(op, p, u, 1, NULL, nframes * (size_t)nchan, nchan, noise, noise != NULL, e);
}

int rg_apply_eps(const rg_op *op, const rg_params *p, double *u, const double *eps,
                 size_t nfields, eddy_err *e)
{
    return apply_common(op, p, u, 0, eps, nfields, 1, NULL, eps != NULL, e);
}

static int multiply_common(const rg_op *op, const double *m, void *u, int is_float,
                           size_t nfields, eddy_err *e)
{
    kernel_job jb = { op, m, NULL, is_float, u, NULL, NULL, 1 };
    return run_kernel(&jb, nfields, e);
}

int rg_multiply(const rg_op *op, const double *m, double *u, size_t nfields, eddy_err *e)
{
    return multiply_common(op, m, u, 0, nfields, e);
}

int rg_multiply_f(const rg_op *op, const double *m, float *u, size_t nfields, eddy_err *e)
{
    return multiply_common(op, m, u, 1, nfields, e);
}
