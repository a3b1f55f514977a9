#include "unet_layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int blas_single(void)
{
    int nb = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return nb;
}

static int gn_check(int B, size_t N, int C, int G, eddy_err *e)
{
    if (B < 1 || N < 1 || C < 1 || G < 1) return eddy_fail(e, "groupnorm: bad shape B %d N %zu C %d G %d", B, N, C, G);
    if (C % G) return eddy_fail(e, "groupnorm: %d groups do not divide %d channels", G, C);
    return 0;
}

// Per item, the sums run over points with the channels as the inner loop
// (one accumulator per channel, in double, so the loop vectorises without
// reordering any sum); the groups combine their channels' sums afterwards.
int gn_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
               const float *beta, int B, size_t N, int C, int G, eddy_err *e)
{
    if (gn_check(B, N, C, G, e)) return -1;
    int cg = C / G;
    double *acc = malloc((size_t)omp_get_max_threads() * 2 * C * sizeof *acc);
    float *aff = malloc((size_t)omp_get_max_threads() * 2 * C * sizeof *aff);
    if (!acc || !aff) {
        free(acc), free(aff);
        return eddy_fail(e, "groupnorm: out of memory");
    }
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        double *s = acc + (size_t)omp_get_thread_num() * 2 * C, *mu = s + C;
        const float *xb = x + (size_t)b * N * C;
        float *yb = y + (size_t)b * N * C;
        for (int c = 0; c < C; c++) s[c] = 0;
        for (size_t n = 0; n < N; n++)
            for (int c = 0; c < C; c++) s[c] += xb[n * C + c];
        for (int g = 0; g < G; g++) {
            double t = 0;
            for (int c = g * cg; c < (g + 1) * cg; c++) t += s[c];
            t /= (double)N * cg;
            for (int c = g * cg; c < (g + 1) * cg; c++) mu[c] = t;
            mean[b * G + g] = (float)t;
        }
        for (int c = 0; c < C; c++) s[c] = 0;
        for (size_t n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double d = xb[n * C + c] - mu[c];
                s[c] += d * d;
            }
        float *sc = aff + (size_t)omp_get_thread_num() * 2 * C, *sh = sc + C;   // y = x·sc + sh
        for (int g = 0; g < G; g++) {
            double t = 0;
            for (int c = g * cg; c < (g + 1) * cg; c++) t += s[c];
            double r = 1.0 / sqrt(t / ((double)N * cg) + UNET_GN_EPS);
            rstd[b * G + g] = (float)r;
        }
        for (int c = 0; c < C; c++) {
            float r = rstd[b * G + c / cg], m = mean[b * G + c / cg];
            sc[c] = r * gamma[c];
            sh[c] = beta[c] - m * r * gamma[c];
        }
        for (size_t n = 0; n < N; n++)
            for (int c = 0; c < C; c++) yb[n * C + c] = xb[n * C + c] * sc[c] + sh[c];
    }
    free(acc), free(aff);
    return 0;
}

int gn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                const float *mean, const float *rstd, const float *gamma, int B, size_t N, int C,
                int G, eddy_err *e)
{
    if (gn_check(B, N, C, G, e)) return -1;
    int cg = C / G;
    // per (item, channel) sums of dy·x̂ and dy, reduced in item order
    double *part = calloc((size_t)B * 2 * C, sizeof *part);
    float *cst = malloc((size_t)omp_get_max_threads() * 4 * C * sizeof *cst);
    if (!part || !cst) {
        free(part), free(cst);
        return eddy_fail(e, "groupnorm: out of memory");
    }
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * N * C;
        const float *xb = x + off, *dyb = dy + off;
        double *pg = part + (size_t)b * 2 * C, *pb = pg + C;
        float *mu = cst + (size_t)omp_get_thread_num() * 4 * C, *r = mu + C, *k1 = r + C, *k2 = k1 + C;
        for (int c = 0; c < C; c++) mu[c] = mean[b * G + c / cg], r[c] = rstd[b * G + c / cg];
        // Σ dy·x̂ and Σ dy per channel (x̂ in float, as the forward formed it)
        for (size_t n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                float d = dyb[n * C + c], xh = (xb[n * C + c] - mu[c]) * r[c];
                pg[c] += (double)(d * xh);
                pb[c] += d;
            }
        if (!dx) continue;
        // dx = r·(dy·γ − mean(dy·γ) − x̂·mean(dy·γ·x̂)) over each group
        for (int g = 0; g < G; g++) {
            double m1 = 0, m2 = 0;
            for (int c = g * cg; c < (g + 1) * cg; c++) m1 += pb[c] * gamma[c], m2 += pg[c] * gamma[c];
            m1 /= (double)N * cg;
            m2 /= (double)N * cg;
            for (int c = g * cg; c < (g + 1) * cg; c++) k1[c] = (float)m1, k2[c] = (float)m2;
        }
        float *dxb = dx + off;
        for (size_t n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                float xh = (xb[n * C + c] - mu[c]) * r[c];
                dxb[n * C + c] += r[c] * (dyb[n * C + c] * gamma[c] - k1[c] - xh * k2[c]);
            }
    }
    for (int b = 0; b < B; b++) {
        const double *pg = part + (size_t)b * 2 * C, *pb = pg + C;
        for (int c = 0; c < C; c++) {
            if (dgamma) dgamma[c] += (float)pg[c];
            if (dbeta) dbeta[c] += (float)pb[c];
        }
    }
    free(part), free(cst);
    return 0;
}

static int attn_check(int B, int N, int C, int heads, eddy_err *e)
{
    if (B < 1 || N < 1 || C < 1 || heads < 1) return eddy_fail(e, "attention: bad shape B %d N %d C %d heads %d", B, N, C, heads);
    if (C % heads) return eddy_fail(e, "attention: %d heads do not divide %d channels", heads, C);
    return 0;
}

int attn_forward(float *o, float *p, const float *qkv, int B, int N, int C, int heads,
                 eddy_err *e)
{
    if (attn_check(B, N, C, heads, e)) return -1;
    int d = C / heads, ld = 3 * C;
    float scale = 1.0f / sqrtf((float)d);
    int nb = blas_single();
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * heads; bh++) {
        int b = bh / heads, h = bh % heads;
        const float *q = qkv + (size_t)b * N * ld + h * d, *k = q + C, *v = q + 2 * C;
        float *pp = p + (size_t)bh * N * N;
        // S = q kᵀ / √d, then a row softmax in place
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, scale, q, ld, k, ld, 0.0f,
                    pp, N);
        for (int i = 0; i < N; i++) {
            float *row = pp + (size_t)i * N, mx = row[0];
            for (int j = 1; j < N; j++) mx = row[j] > mx ? row[j] : mx;
            double s = 0;
            for (int j = 0; j < N; j++) s += row[j] = expf(row[j] - mx);
            float inv = (float)(1.0 / s);
            for (int j = 0; j < N; j++) row[j] *= inv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, 1.0f, pp, N, v, ld, 0.0f,
                    o + (size_t)b * N * C + h * d, C);
    }
    openblas_set_num_threads(nb);
    return 0;
}

size_t attn_scratch_floats(int N, int C, int heads)
{
    return (size_t)omp_get_max_threads() * N * N;
}

int attn_backward(float *dqkv, const float *dout, const float *p, const float *qkv, int B, int N,
                  int C, int heads, float *scratch, size_t nscratch, eddy_err *e)
{
    if (attn_check(B, N, C, heads, e)) return -1;
    if (nscratch < attn_scratch_floats(N, C, heads))
        return eddy_fail(e, "attention: scratch of %zu floats, need %zu", nscratch,
                         attn_scratch_floats(N, C, heads));
    int d = C / heads, ld = 3 * C;
    float scale = 1.0f / sqrtf((float)d);
    int nb = blas_single();
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * heads; bh++) {
        int b = bh / heads, h = bh % heads;
        size_t qo = (size_t)b * N * ld + h * d;
        const float *q = qkv + qo, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + qo, *dk = dq + C, *dv = dq + 2 * C;
        const float *pp = p + (size_t)bh * N * N, *dO = dout + (size_t)b * N * C + h * d;
        float *ds = scratch + (size_t)omp_get_thread_num() * N * N;
        // dv += pᵀ do;  dp = do vᵀ;  ds = p ⊙ (dp − rowsum(dp ⊙ p))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, d, N, 1.0f, pp, N, dO, C, 1.0f,
                    dv, ld);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, d, 1.0f, dO, C, v, ld, 0.0f,
                    ds, N);
        for (int i = 0; i < N; i++) {
            float *r = ds + (size_t)i * N;
            const float *pr = pp + (size_t)i * N;
            double s = 0;
            for (int j = 0; j < N; j++) s += (double)r[j] * pr[j];
            for (int j = 0; j < N; j++) r[j] = pr[j] * (r[j] - (float)s);
        }
        // dq += ds k / √d;  dk += dsᵀ q / √d
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, d, N, scale, ds, N, k, ld, 1.0f,
                    dq, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, d, N, scale, ds, N, q, ld, 1.0f,
                    dk, ld);
    }
    openblas_set_num_threads(nb);
    return 0;
}
