// Counter-keyed random numbers.  A stream is derived from a key tuple
// (seed, a, b, c) — typically (seed, sample index, step, purpose) — so the
// numbers a sample sees never depend on threads, shards or batch order.
#ifndef EDDY_RNG_H
#define EDDY_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];      // xoshiro256** state
    int have_spare;     // Box–Muller makes normals in pairs
    double spare;
} eddy_rng;

// Seeds r from the key (seed, a, b, c) through splitmix64 mixing.
void rng_init(eddy_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t rng_u64(eddy_rng *r);
double rng_uniform(eddy_rng *r);           // in [0, 1), 53 random bits
double rng_normal(eddy_rng *r);            // N(0, 1)
void rng_normal_fill(eddy_rng *r, double *x, size_t n);       // (n)
void rng_normal_fill_f(eddy_rng *r, float *x, size_t n);      // (n)

#endif
