#include "closure_obs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"

int obs_fill_parse(const char *name, obs_fill_kind *k)
{
    if (!strcmp(name, "bicubic")) *k = OBS_FILL_BICUBIC;
    else if (!strcmp(name, "box")) *k = OBS_FILL_BOX;
    else return -1;
    return 0;
}

const char *obs_fill_name(obs_fill_kind k) { return k == OBS_FILL_BICUBIC ? "bicubic" : "box"; }

static int wrap(long i, int n) { return (int)(((i % n) + n) % n); }

int obs_sample(const float *u, int N, int n, float *obs, eddy_err *e)
{
    if (n < 1 || n > N) return eddy_fail(e, "observation grid %d×%d does not fit a %d² grid", n, n, N);
    if (N % n == 0) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) obs[(size_t)i * n + j] = u[(size_t)(i * (N / n)) * N + j * (N / n)];
        return 0;
    }
    size_t np = (size_t)n * n;
    double *g = malloc((size_t)N * N * sizeof *g), *ys = malloc(np * sizeof *ys),
           *xs = malloc(np * sizeof *xs), *v = malloc(np * sizeof *v);
    if (!g || !ys || !xs || !v) {
        free(g), free(ys), free(xs), free(v);
        return eddy_fail(e, "out of memory (observations at %d²)", N);
    }
    for (size_t i = 0; i < (size_t)N * N; i++) g[i] = u[i];
    double h = (double)N / n;       // grid cells per observation spacing
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) ys[(size_t)i * n + j] = i * h, xs[(size_t)i * n + j] = j * h;
    resample_bicubic_points(g, N, N, ys, xs, np, RESAMPLE_CUBIC_A, v);
    for (size_t i = 0; i < np; i++) obs[i] = (float)v[i];
    free(g), free(ys), free(xs), free(v);
    return 0;
}

int obs_box_width(int n, int M)
{
    int w = 2 * (M / n) - 1;
    return w < 1 ? 1 : w;
}

static int fill_box(const float *obs, int n, int M, int w, float *out, eddy_err *e)
{
    if (w % 2 == 0) return eddy_fail(e, "box width must be odd, got %d", w);
    float *val = calloc((size_t)M * M, sizeof *val), *cnt = calloc((size_t)M * M, sizeof *cnt);
    float *tv = calloc((size_t)M * M, sizeof *tv), *tc = calloc((size_t)M * M, sizeof *tc);
    int rc = 0;
    if (!val || !cnt || !tv || !tc) {
        rc = eddy_fail(e, "out of memory (box fill at %d²)", M);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int y = wrap(lround((double)i * M / n), M), x = wrap(lround((double)j * M / n), M);
            val[(size_t)y * M + x] += obs[(size_t)i * n + j];
            cnt[(size_t)y * M + x] += 1;
        }
    // Separable periodic box sums of the values and of the mask.
    int r = w / 2;
    for (int y = 0; y < M; y++)
        for (int x = 0; x < M; x++) {
            double sv = 0, sc = 0;
            for (int d = -r; d <= r; d++) {
                size_t k = (size_t)y * M + wrap(x + d, M);
                sv += val[k], sc += cnt[k];
            }
            tv[(size_t)y * M + x] = (float)sv, tc[(size_t)y * M + x] = (float)sc;
        }
    for (int y = 0; y < M; y++)
        for (int x = 0; x < M; x++) {
            double sv = 0, sc = 0;
            for (int d = -r; d <= r; d++) {
                size_t k = (size_t)wrap(y + d, M) * M + x;
                sv += tv[k], sc += tc[k];
            }
            if (sc == 0) {
                rc = eddy_fail(e, "box width %d leaves grid point (%d, %d) without an observation",
                               w, y, x);
                goto done;
            }
            out[(size_t)y * M + x] = (float)(sv / sc);
        }
done:
    free(val), free(cnt), free(tv), free(tc);
    return rc;
}

int obs_fill(const float *obs, int n, int M, obs_fill_kind kind, int box, float *out, eddy_err *e)
{
    if (n < 1 || n > M) return eddy_fail(e, "observation grid %d×%d does not fit a %d² grid", n, n, M);
    if (kind == OBS_FILL_BOX) return fill_box(obs, n, M, box > 0 ? box : obs_box_width(n, M), out, e);
    double *g = malloc((size_t)n * n * sizeof *g), *o = malloc((size_t)M * M * sizeof *o);
    int rc = 0;
    if (!g || !o) rc = eddy_fail(e, "out of memory (fill to %d²)", M);
    if (!rc) {
        for (size_t i = 0; i < (size_t)n * n; i++) g[i] = obs[i];
        rc = resample_bicubic(g, n, n, o, M, M, RESAMPLE_CUBIC_A, e);
    }
    if (!rc)
        for (size_t i = 0; i < (size_t)M * M; i++) out[i] = (float)o[i];
    free(g), free(o);
    return rc;
}
