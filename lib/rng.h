// Counter-keyed random numbers.  A stream is derived from a key tuple
// (seed, a, b, c) — typically (seed, sample index, step, purpose) — so the
// numbers a sample sees never depend on threads, shards or batch order.
//
// Normals come from a 256-layer ziggurat (Marsaglia & Tsang 2000, with the
// layer index and the abscissa taken from disjoint bits of one 64-bit draw,
// as Doornik 2005 advises) with Marsaglia's exact tail beyond R ≈ 3.654, so
// the distribution is N(0, 1) to double rounding, tails included.  A normal
// costs one xoshiro256** draw about 99% of the time and a variable number
// otherwise; there is no hidden pair state.  Hence the rule that keeps the
// calls consistent: rng_normal_fill(r, x, n) stores exactly the values of n
// successive rng_normal(r) calls and leaves r in the same state, and
// rng_normal_fill_f stores those values rounded to float.  Calls of every
// kind may be interleaved on one stream.
#ifndef EDDY_RNG_H
#define EDDY_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];      // xoshiro256** state
} eddy_rng;

// Seeds r from the key (seed, a, b, c) through splitmix64 mixing.  Every
// stream must start here (it also builds the ziggurat tables once).
void rng_init(eddy_rng *r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t rng_u64(eddy_rng *r);
double rng_uniform(eddy_rng *r);           // in [0, 1), 53 random bits
double rng_normal(eddy_rng *r);            // N(0, 1)
void rng_normal_fill(eddy_rng *r, double *x, size_t n);       // (n)
void rng_normal_fill_f(eddy_rng *r, float *x, size_t n);      // (n)

// A uniformly random permutation of 0..n-1 (Fisher–Yates) drawn from r: with
// r keyed by (seed, epoch) a resumed training run sees the same batches.
void rng_permutation(eddy_rng *r, long *perm /* (n) */, long n);

#endif
