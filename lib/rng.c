#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// ---- ziggurat tables
// 256 layers of equal area V under f(x) = exp(-x²/2), x ≥ 0.  Layer i ≥ 1 is
// the rectangle [0, x_i] × [f(x_i), f(x_{i+1})]; layer 0 is [0, R] × [0, f(R)]
// plus the tail beyond R, drawn as the rectangle of pseudo-width x_0 = V/f(R).
// R and V close the recursion x_{i+1} = f⁻¹(f(x_i) + V/x_i) at x_256 = 0; they
// were solved to 25 digits (mpmath), and in double the top layer's area is V
// to 1.2e-13 relative.
#define ZIG_N 256
#define ZIG_R 3.6541528853610087716
#define ZIG_V 4.9286732339746553474e-3

static double zig_w[ZIG_N];        // x_i · 2^-53: abscissa per unit of the 53-bit draw
static uint64_t zig_k[ZIG_N];      // draws below this are inside layer i's core: x < x_{i+1}
static double zig_f[ZIG_N + 1];    // f(x_i), increasing in i; f(x_256) = 1
static pthread_once_t zig_once = PTHREAD_ONCE_INIT;

static void zig_build(void)
{
    double x[ZIG_N + 1];
    x[0] = ZIG_V / exp(-0.5 * ZIG_R * ZIG_R);
    x[1] = ZIG_R;
    for (int i = 1; i < ZIG_N - 1; i++) x[i + 1] = sqrt(-2.0 * log(exp(-0.5 * x[i] * x[i]) + ZIG_V / x[i]));
    x[ZIG_N] = 0.0;
    for (int i = 0; i <= ZIG_N; i++) zig_f[i] = exp(-0.5 * x[i] * x[i]);
    zig_f[ZIG_N] = 1.0;
    for (int i = 0; i < ZIG_N; i++) {
        zig_w[i] = x[i] * 0x1.0p-53;
        // Rounded down, so a draw that passes is strictly inside the core;
        // the few draws at the edge go to the slow path, which accepts them
        // too (their point lies under the curve).
        zig_k[i] = (uint64_t)(x[i + 1] / x[i] * 0x1.0p53);
    }
}

void rng_init(eddy_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    pthread_once(&zig_once, zig_build);
    // Each key word goes through its own mixing round so that nearby keys
    // ((s, 0, 1) vs (s, 1, 0)) give unrelated states.
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ a; h = splitmix64(&x);
    x = h ^ b; h = splitmix64(&x);
    x = h ^ c; h = splitmix64(&x);
    x = h;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t next(uint64_t *s)
{
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return out;
}

uint64_t rng_u64(eddy_rng *r) { return next(r->s); }

static inline double uniform53(uint64_t *s) { return (double)(next(s) >> 11) * 0x1.0p-53; }

double rng_uniform(eddy_rng *r) { return uniform53(r->s); }

// Gives x the sign of bit 8 of the draw, without a branch that would be
// mispredicted half the time.
static inline double with_sign(double x, uint64_t bits)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    u ^= (bits & 0x100) << 55;
    memcpy(&x, &u, sizeof x);
    return x;
}

// The ≈1% of draws outside every layer's core: wedges, and the tail.
static double zig_slow(uint64_t *s, uint64_t bits)
{
    for (;;) {
        unsigned i = (unsigned)(bits & 0xff);
        uint64_t u = bits >> 11;
        double x = (double)u * zig_w[i];
        if (i == 0) {
            if (x < ZIG_R) return with_sign(x, bits);
            // Marsaglia (1964): exact sampling of the normal tail beyond R.
            double a, b;
            do {
                a = -log(1.0 - uniform53(s)) / ZIG_R;     // 1 - U in (0, 1]: finite log
                b = -log(1.0 - uniform53(s));
            } while (b + b < a * a);
            return with_sign(ZIG_R + a, bits);
        }
        if (u < zig_k[i]) return with_sign(x, bits);
        double y = zig_f[i] + uniform53(s) * (zig_f[i + 1] - zig_f[i]);
        if (y < exp(-0.5 * x * x)) return with_sign(x, bits);
        bits = next(s);
        if ((bits >> 11) < zig_k[bits & 0xff]) return with_sign((double)(bits >> 11) * zig_w[bits & 0xff], bits);
    }
}

static inline double zig_normal(uint64_t *s)
{
    uint64_t bits = next(s);
    unsigned i = (unsigned)(bits & 0xff);
    uint64_t u = bits >> 11;
    if (__builtin_expect(u < zig_k[i], 1)) return with_sign((double)u * zig_w[i], bits);
    return zig_slow(s, bits);
}

double rng_normal(eddy_rng *r) { return zig_normal(r->s); }

// The state lives in locals so that the stores to x cannot be assumed to
// alias it and it stays in registers.
void rng_normal_fill(eddy_rng *r, double *x, size_t n)
{
    uint64_t s[4] = { r->s[0], r->s[1], r->s[2], r->s[3] };
    for (size_t i = 0; i < n; i++) x[i] = zig_normal(s);
    memcpy(r->s, s, sizeof s);
}

void rng_normal_fill_f(eddy_rng *r, float *x, size_t n)
{
    uint64_t s[4] = { r->s[0], r->s[1], r->s[2], r->s[3] };
    for (size_t i = 0; i < n; i++) x[i] = (float)zig_normal(s);
    memcpy(r->s, s, sizeof s);
}

void rng_permutation(eddy_rng *r, long *perm, long n)
{
    for (long i = 0; i < n; i++) perm[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(rng_uniform(r) * (double)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}
