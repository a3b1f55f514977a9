#include "l96.h"

#include <math.h>
#include <string.h>

#include "rng.h"

enum { RNG_INIT = 1 };

void l96_params_default(l96_params *p)
{
    p->K = 32, p->J = 4;
    p->h = 1, p->F = 10, p->b = 10, p->c = 10;
    p->damping = 1;
}

int l96_check(const l96_params *p, eddy_err *e)
{
    if (p->K < 4 || p->K > 1 << 20) return eddy_fail(e, "K=%d: need 4 <= K <= 2^20", p->K);
    if (p->J < 1 || p->J > 1 << 12) return eddy_fail(e, "J=%d: need 1 <= J <= 4096", p->J);
    if ((long)p->K * p->J < 3) return eddy_fail(e, "K*J must be at least 3");
    if (!isfinite(p->h) || !isfinite(p->F) || !isfinite(p->c)) return eddy_fail(e, "h, F and c must be finite");
    if (!(p->b != 0) || !isfinite(p->b)) return eddy_fail(e, "b=%g: must be finite and non-zero", p->b);
    return 0;
}

void l96_rhs(const l96_params *p, const double *X, const double *Y, double *dX, double *dY)
{
    int K = p->K, J = p->J, N = K * J;
    double hcb = p->h * p->c / p->b, cb = p->c * p->b, damp = p->damping ? 1 : 0;
    for (int k = 0; k < K; k++) {
        double xm1 = X[(k + K - 1) % K], xm2 = X[(k + K - 2) % K], xp1 = X[(k + 1) % K];
        double sy = 0;
        for (int j = 0; j < J; j++) sy += Y[k * J + j];
        dX[k] = -xm1 * (xm2 - xp1) - damp * X[k] + p->F - hcb * sy;
    }
    // Interior points without modulo, the three wrapping ones apart.
    for (int n = 1; n < N - 2; n++)
        dY[n] = -cb * Y[n + 1] * (Y[n + 2] - Y[n - 1]) - damp * p->c * Y[n] + hcb * X[n / J];
    const int edge[3] = {0, N - 2, N - 1};
    for (int q = 0; q < 3; q++) {
        int n = edge[q];
        dY[n] = -cb * Y[(n + 1) % N] * (Y[(n + 2) % N] - Y[(n + N - 1) % N]) - damp * p->c * Y[n] +
                hcb * X[n / J];
    }
}

int l96_work_size(const l96_params *p) { return 5 * (p->K + p->K * p->J); }

void l96_step(const l96_params *p, l96_scheme s, double dt, double *X, double *Y, double *work)
{
    int K = p->K, N = K * p->J, M = K + N;
    // Work slots of M doubles each: [X | Y] blocks.
    double *k1 = work, *k2 = work + M, *k3 = work + 2 * M, *k4 = work + 3 * M, *tmp = work + 4 * M;
    if (s == L96_EULER) {
        l96_rhs(p, X, Y, k1, k1 + K);
        for (int i = 0; i < K; i++) X[i] += dt * k1[i];
        for (int n = 0; n < N; n++) Y[n] += dt * k1[K + n];
        return;
    }
    double *tx = tmp, *ty = tmp + K;
    l96_rhs(p, X, Y, k1, k1 + K);
    for (int i = 0; i < K; i++) tx[i] = X[i] + 0.5 * dt * k1[i];
    for (int n = 0; n < N; n++) ty[n] = Y[n] + 0.5 * dt * k1[K + n];
    l96_rhs(p, tx, ty, k2, k2 + K);
    for (int i = 0; i < K; i++) tx[i] = X[i] + 0.5 * dt * k2[i];
    for (int n = 0; n < N; n++) ty[n] = Y[n] + 0.5 * dt * k2[K + n];
    l96_rhs(p, tx, ty, k3, k3 + K);
    for (int i = 0; i < K; i++) tx[i] = X[i] + dt * k3[i];
    for (int n = 0; n < N; n++) ty[n] = Y[n] + dt * k3[K + n];
    l96_rhs(p, tx, ty, k4, k4 + K);
    for (int i = 0; i < M; i++) {
        double d = dt / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        if (i < K) X[i] += d;
        else Y[i - K] += d;
    }
}

void l96_init(const l96_params *p, uint64_t seed, uint64_t sample, double *X, double *Y)
{
    eddy_rng r;
    rng_init(&r, seed, sample, 0, RNG_INIT);
    for (int k = 0; k < p->K; k++) X[k] = rng_uniform(&r);
    for (int n = 0; n < p->K * p->J; n++) Y[n] = rng_uniform(&r);
}

void l96_to_grid(const l96_params *p, const double *X, const double *Y, double *out)
{
    int N = p->K * p->J;
    for (int n = 0; n < N; n++) out[n] = X[n / p->J];
    memcpy(out + N, Y, sizeof(double) * N);
}
