#include "spectrum.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"

// A small cache of r2c plans, keyed by shape: spectra are taken of many
// fields of one shape, and planning is slow and not thread-safe.
#define NCACHE 16
static struct {
    int rank, n[3];
    fftw_plan plan;
} cache[NCACHE];
static int ncache;

// Returns a plan for the shape; *owned is set when the cache was full and the
// caller must destroy the plan after use.
static fftw_plan get_plan(int rank, const int *n, int *owned, eddy_err *e)
{
    fftw_plan p = NULL;
    *owned = 0;
    fft_plan_lock();
    for (int i = 0; i < ncache && !p; i++)
        if (cache[i].rank == rank && !memcmp(cache[i].n, n, rank * sizeof(int))) p = cache[i].plan;
    if (!p) {
        size_t N = 1;
        for (int a = 0; a < rank; a++) N *= (size_t)n[a];
        double *in = fftw_malloc(N * sizeof(double));
        fftw_complex *out = fftw_malloc(spec_half_size(rank, n) * sizeof(fftw_complex));
        if (in && out) {
            int old = fftw_planner_nthreads();
            if (old > 1) fftw_plan_with_nthreads(1);    // same bytes at any thread count
            p = fftw_plan_dft_r2c(rank, n, in, out, fft_flags());
            if (old > 1) fftw_plan_with_nthreads(old);
        }
        fftw_free(in);
        fftw_free(out);
        if (p && ncache < NCACHE) {
            cache[ncache].rank = rank;
            memcpy(cache[ncache].n, n, rank * sizeof(int));
            cache[ncache++].plan = p;
        } else if (p) {
            *owned = 1;
        }
    }
    fft_plan_unlock();
    if (!p) eddy_fail(e, "spectrum: FFTW could not plan a rank-%d transform", rank);
    return p;
}

size_t spec_half_size(int rank, const int *n)
{
    size_t s = (size_t)n[rank - 1] / 2 + 1;
    for (int a = 0; a < rank - 1; a++) s *= (size_t)n[a];
    return s;
}

int spec_power_acc(const double *u, int rank, const int *n, double *P, eddy_err *e)
{
    if (rank < 1 || rank > 3) return eddy_fail(e, "spectrum: rank %d (1 to 3 supported)", rank);
    size_t N = 1;
    for (int a = 0; a < rank; a++) {
        if (n[a] < 1) return eddy_fail(e, "spectrum: axis %d has %d points", a, n[a]);
        N *= (size_t)n[a];
    }
    int owned;
    fftw_plan p = get_plan(rank, n, &owned, e);
    if (!p) return -1;
    size_t M = spec_half_size(rank, n), hx = (size_t)n[rank - 1] / 2 + 1;
    int nx = n[rank - 1];
    // r2c leaves its input alone (FFTW_PRESERVE_INPUT is its default), so an
    // input with the planning arrays' SIMD alignment is transformed where it
    // lies instead of being copied first.
    int direct = fftw_alignment_of((double *)u) == 0;
    double *in = direct ? NULL : fftw_malloc(N * sizeof(double));
    fftw_complex *out = fftw_malloc(M * sizeof(fftw_complex));
    if ((!direct && !in) || !out) {
        fftw_free(in); fftw_free(out);
        if (owned) { fft_plan_lock(); fftw_destroy_plan(p); fft_plan_unlock(); }
        return eddy_fail(e, "spectrum: out of memory");
    }
    if (!direct) memcpy(in, u, N * sizeof(double));
    fftw_execute_dft_r2c(p, direct ? (double *)u : in, out);
    double s = 1.0 / ((double)N * (double)N);
    // Column 0 and the even Nyquist column hold their own mirrors; every
    // other column stands for itself and its mirror.
    size_t jnyq = nx % 2 == 0 ? (size_t)nx / 2 : hx;
    for (size_t m0 = 0; m0 < M; m0 += hx) {
        const fftw_complex *o = out + m0;
        double *Pr = P + m0;
        for (size_t j = 0; j < hx; j++) {
            double w = (j == 0 || j == jnyq) ? s : 2.0 * s;
            Pr[j] += w * (o[j][0] * o[j][0] + o[j][1] * o[j][1]);
        }
    }
    fftw_free(in);
    fftw_free(out);
    if (owned) { fft_plan_lock(); fftw_destroy_plan(p); fft_plan_unlock(); }
    return 0;
}

int spec_nshells(int ny, int nx)
{
    double r = sqrt((double)(ny / 2) * (ny / 2) + (double)(nx / 2) * (nx / 2));
    return (int)lround(r) + 1;
}

void spec_shell_bin(const double *P, int ny, int nx, double *E)
{
    size_t hx = (size_t)nx / 2 + 1;
    for (int i = 0; i < ny; i++) {
        int a = spec_signed_index(i, ny);
        for (size_t j = 0; j < hx; j++) {
            double r = sqrt((double)a * a + (double)j * j);
            E[lround(r)] += 0.5 * P[(size_t)i * hx + j];
        }
    }
}

int spec_energy2d_acc(const double *u, int ny, int nx, double *E, eddy_err *e)
{
    int n[2] = { ny, nx };
    size_t M = spec_half_size(2, n);
    double *P = calloc(M, sizeof *P);
    if (!P) return eddy_fail(e, "spectrum: out of memory");
    int rc = spec_power_acc(u, 2, n, P, e);
    if (!rc) spec_shell_bin(P, ny, nx, E);
    free(P);
    return rc;
}

void spec_acc_free(spec_acc *a)
{
    free(a->P);
    free(a->buf);
    a->P = a->buf = NULL;
}

int spec_acc_start(spec_acc *a, const layout *l, spec_mode mode, eddy_err *e)
{
    spec_acc_free(a);
    a->l = *l;
    a->mode = mode;
    if (mode == SPEC_AUTO) a->mode = l->nspace == 2 ? SPEC_ENERGY : SPEC_PSD;
    if (a->mode == SPEC_ENERGY && l->nspace != 2)
        return eddy_fail(e, "energy spectrum needs 2-D fields (dims %s)", l->dims);
    if (a->mode == SPEC_PSD && l->nspace != 1) return eddy_fail(e, "psd needs 1-D fields (dims %s); use energy", l->dims);
    if (a->mode == SPEC_SPACETIME && l->t_axis < 0) return eddy_fail(e, "spacetime needs a t axis (dims %s)", l->dims);
    a->rank = 0;
    if (a->mode == SPEC_SPACETIME) a->n[a->rank++] = (int)l->T;
    if (l->nspace == 2) a->n[a->rank++] = l->ny;
    a->n[a->rank++] = l->nx;
    a->M = spec_half_size(a->rank, a->n);
    a->nout = a->mode == SPEC_ENERGY ? (size_t)spec_nshells(l->ny, l->nx) : a->M;
    a->P = calloc(l->C * a->M, sizeof(double));
    a->buf = malloc(l->T * l->D * sizeof(double));
    if (!a->P || !a->buf) return eddy_fail(e, "out of memory");
    a->count = 0;
    return 0;
}

int spec_acc_add(spec_acc *a, const tsr_record *rec, eddy_err *e)
{
    const layout *l = &a->l;
    for (size_t p = 0; p < l->npaths; p++)
        for (size_t c = 0; c < l->C; c++) {
            layout_gather(l, rec, p, c, a->buf);
            double *P = a->P + c * a->M;
            if (a->mode == SPEC_SPACETIME) {
                if (spec_power_acc(a->buf, a->rank, a->n, P, e)) return -1;
            } else {
                for (size_t t = 0; t < l->T; t++)
                    if (spec_power_acc(a->buf + t * l->D, a->rank, a->n, P, e)) return -1;
            }
        }
    a->count += (double)(l->npaths * (a->mode == SPEC_SPACETIME ? 1 : l->T));
    return 0;
}

double *spec_acc_result(const spec_acc *a)
{
    const layout *l = &a->l;
    double *out = calloc(l->C * a->nout, sizeof(double));
    if (!out) return NULL;
    for (size_t c = 0; c < l->C; c++) {
        double *P = a->P + c * a->M, *o = out + c * a->nout;
        if (a->mode == SPEC_ENERGY) spec_shell_bin(P, l->ny, l->nx, o);
        else memcpy(o, P, a->M * sizeof(double));
        for (size_t i = 0; i < a->nout; i++) o[i] /= a->count;
    }
    return out;
}
