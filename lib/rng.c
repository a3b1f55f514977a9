#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_init(eddy_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    // Each key word goes through its own mixing round so that nearby keys
    // ((s, 0, 1) vs (s, 1, 0)) give unrelated states.
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ a; h = splitmix64(&x);
    x = h ^ b; h = splitmix64(&x);
    x = h ^ c; h = splitmix64(&x);
    x = h;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->have_spare = 0;
    r->spare = 0;
}

uint64_t rng_u64(eddy_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

double rng_uniform(eddy_rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

double rng_normal(eddy_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - rng_uniform(r);      // (0, 1]: log is finite
    double u2 = rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * M_PI * u2;
    r->spare = rad * sin(ang);
    r->have_spare = 1;
    return rad * cos(ang);
}

void rng_normal_fill(eddy_rng *r, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = rng_normal(r);
}

void rng_normal_fill_f(eddy_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(r);
}
