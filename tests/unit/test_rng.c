// The counter-keyed RNG: streams depend only on their key, and the normals
// have the moments of N(0, 1).
#include "check.h"
#include "rng.h"

static void test_same_key_same_stream(void)
{
    eddy_rng a, b;
    rng_init(&a, 42, 3, 7, 1);
    rng_init(&b, 42, 3, 7, 1);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= rng_u64(&a) == rng_u64(&b);
    CHECK(same, "equal keys must give equal streams");
}

static void test_nearby_keys_differ(void)
{
    eddy_rng a, b, c;
    rng_init(&a, 42, 0, 1, 0);
    rng_init(&b, 42, 1, 0, 0);
    rng_init(&c, 43, 0, 1, 0);
    uint64_t x = rng_u64(&a), y = rng_u64(&b), z = rng_u64(&c);
    CHECK(x != y && x != z && y != z, "swapped or nearby keys must give different streams");
}

// Sample moments of 1e6 normals: the standard error of the mean is 1e-3 and
// of the variance about 1.4e-3, so 5e-3 is a >3.5-sigma bound.
static void test_normal_moments(void)
{
    eddy_rng r;
    rng_init(&r, 7, 0, 0, 0);
    double s1 = 0, s2 = 0, s4 = 0;
    int n = 1000000;
    for (int i = 0; i < n; i++) {
        double x = rng_normal(&r);
        s1 += x; s2 += x * x; s4 += x * x * x * x;
    }
    CHECK_CLOSE(s1 / n, 0.0, 5e-3, "mean");
    CHECK_CLOSE(s2 / n, 1.0, 5e-3, "variance");
    CHECK_CLOSE(s4 / n, 3.0, 3e-2, "fourth moment");
}

static void test_uniform_range(void)
{
    eddy_rng r;
    rng_init(&r, 1, 2, 3, 4);
    double lo = 1, hi = 0, s = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rng_uniform(&r);
        lo = u < lo ? u : lo; hi = u > hi ? u : hi; s += u;
    }
    CHECK(lo >= 0 && hi < 1, "uniform outside [0,1): %g %g", lo, hi);
    CHECK_CLOSE(s / 100000, 0.5, 3e-3, "uniform mean");
}

int main(void)
{
    RUN(test_same_key_same_stream);
    RUN(test_nearby_keys_differ);
    RUN(test_normal_moments);
    RUN(test_uniform_range);
    return check_done();
}
