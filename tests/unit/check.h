// A minimal unit-test harness that speaks TAP, so tests/run.sh can count
// unit tests and bats tests the same way.  Each test file:
//
//     static void test_parseval(void) { CHECK_CLOSE(a, b, 1e-12, "energy"); }
//     int main(void) { RUN(test_parseval); return check_done(); }
//
// A test passes when none of its checks failed; check_done() returns non-zero
// if any test failed, so a failing binary also fails its exit status.
#ifndef EDDY_CHECK_H
#define EDDY_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int check_ntest_, check_nfail_, check_cur_fail_;

static void check_fail_(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check_fail_(const char *file, int line, const char *what, const char *fmt, ...)
{
    va_list ap;
    check_cur_fail_++;
    printf("#   %s:%d: check failed: %s: ", file, line, what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}


// CHECK(cond, fmt, ...): fails the current test when cond is false.
#define CHECK(cond, ...) \
    do { if (!(cond)) check_fail_(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

// CHECK_CLOSE(a, b, tol, label): |a - b| <= tol, NaN always fails.
#define CHECK_CLOSE(a, b, tol, label)                                                     \
    do {                                                                                  \
        double a_ = (a), b_ = (b), t_ = (tol);                                            \
        if (!(fabs(a_ - b_) <= t_))                                                       \
            check_fail_(__FILE__, __LINE__, #a " ~ " #b, "%s: %.17g vs %.17g (|diff| %.3g > tol %.3g)", \
                        (label), a_, b_, fabs(a_ - b_), t_);                              \
    } while (0)

// CHECK_REL(a, b, rtol, label): |a - b| <= rtol * |b|.
#define CHECK_REL(a, b, rtol, label)                                                      \
    do {                                                                                  \
        double a_ = (a), b_ = (b), r_ = (rtol);                                           \
        if (!(fabs(a_ - b_) <= r_ * fabs(b_)))                                            \
            check_fail_(__FILE__, __LINE__, #a " ~ " #b, "%s: %.17g vs %.17g (rel %.3g > %.3g)", \
                        (label), a_, b_, fabs(a_ - b_) / fabs(b_), r_);                   \
    } while (0)

// A note that stays in the log of a passing test (measured values, margins).
#define NOTE(...) do { printf("#   "); printf(__VA_ARGS__); printf("\n"); } while (0)

#define RUN(fn) check_run_(#fn, fn)

static void check_run_(const char *name, void (*fn)(void))
{
    check_cur_fail_ = 0;
    fflush(stdout);
    fn();
    check_ntest_++;
    if (check_cur_fail_) {
        check_nfail_++;
        printf("not ok %d - %s\n", check_ntest_, name);
    } else {
        printf("ok %d - %s\n", check_ntest_, name);
    }
    fflush(stdout);
}

static int check_done(void)
{
    printf("1..%d\n", check_ntest_);
    return check_nfail_ ? 1 : 0;
}

#endif
