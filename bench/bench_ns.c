// Steps per second of the NS solver (Kolmogorov flow, RK2) at 1 and 2
// threads, throughput of two samples side by side, the FFT floor of a step,
// and Lorenz-96 steps per second.  Prints RESULT lines; never fails on time.
//
//   bench_ns [N [STEPS [L96]]]   defaults 256, 100 (the NumPy peer's setting), 1
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "fft.h"
#include "l96.h"
#include "ns2d.h"
#include "rng.h"

static ns2d *make(int n, int threads)
{
    ns2d_params p;
    ns2d_params_default(&p);   // Kolmogorov flow: μ 0.1, ν 1e-3, −4 cos 4y, dt 1e-3, RK2
    p.n = n;
    p.threads = threads;
    eddy_err e;
    ns2d *s = ns2d_create(&p, &e);
    if (!s) {
        fprintf(stderr, "bench_ns: %s\n", e.msg);
        exit(1);
    }
    // The peer's state: the laminar profile plus small noise.
    double *w = malloc(sizeof(double) * n * n);
    eddy_rng r;
    rng_init(&r, 0, 0, 0, 0);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) w[j * n + i] = 0.1 * rng_normal(&r) - 34.5 * cos(4 * 2 * M_PI * j / n);
    ns2d_set_omega(s, w);
    free(w);
    return s;
}

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

// Seconds per step, median of 3 runs of `steps` after a 10-step warm-up.
static double time_steps(ns2d *s, long steps)
{
    eddy_err e;
    double t[3];
    if (ns2d_advance(s, 10, &e)) { fprintf(stderr, "bench_ns: %s\n", e.msg); exit(1); }
    for (int k = 0; k < 3; k++) {
        double t0 = omp_get_wtime();
        if (ns2d_advance(s, steps, &e)) { fprintf(stderr, "bench_ns: %s\n", e.msg); exit(1); }
        t[k] = omp_get_wtime() - t0;
    }
    return median3(t[0], t[1], t[2]) / steps;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 256;
    long steps = argc > 2 ? atol(argv[2]) : 100;
    int with_l96 = argc > 3 ? atoi(argv[3]) : 1;
    fftw_plan_with_nthreads(1);

    ns2d *s1 = make(n, 1);
    double t1 = time_steps(s1, steps);
    ns2d_free(s1);
    printf("RESULT ns kolmogorov N=%d threads=1 %.1f steps/s (%.3f ms/step)\n", n, 1 / t1, 1e3 * t1);

    ns2d *s2 = make(n, 2);
    double t2 = time_steps(s2, steps);
    ns2d_free(s2);
    printf("RESULT ns kolmogorov N=%d threads=2 %.1f steps/s (%.3f ms/step) speedup %.2fx (transforms split over threads)\n",
           n, 1 / t2, 1e3 * t2, t1 / t2);

    // Two independent samples, one per thread: what ns-gen does with --count >= 2.
    double tt[2];
#pragma omp parallel num_threads(2)
    {
        ns2d *s = make(n, 1);
        double tk = time_steps(s, steps);
        tt[omp_get_thread_num()] = tk;
        ns2d_free(s);
    }
    double tp = fmax(tt[0], tt[1]);
    printf("RESULT ns kolmogorov N=%d samples=2 threads=2 %.1f steps/s throughput (%.2fx one thread)\n", n, 2 / tp,
           t1 / tp * 2);

    // The FFT floor: the solver's own transforms (4 inverse + 4 forward per
    // step, pruned by the 2/3 rule) without any pointwise work; and, for
    // scale, full 2-D r2c + c2r pairs with the same flags.
    for (int t = 1; t <= 2; t++) {
        ns2d *s = make(n, t);
        double tf[3];
        ns2d_transforms_only(s, 10);
        for (int k = 0; k < 3; k++) {
            double t0 = omp_get_wtime();
            ns2d_transforms_only(s, steps);
            tf[k] = (omp_get_wtime() - t0) / steps;
        }
        double ft = median3(tf[0], tf[1], tf[2]), st = t == 1 ? t1 : t2;
        printf("RESULT ns fft-floor N=%d threads=%d transforms alone %.3f ms/step; the full step %.3f ms = %.2fx the "
               "transforms (%.0f%% of the step in FFTs)\n",
               n, t, 1e3 * ft, 1e3 * st, st / ft, 100 * ft / st);
        ns2d_free(s);
    }
    double *r = fftw_alloc_real((size_t)n * n);
    fftw_complex *c = fftw_alloc_complex((size_t)n * (n / 2 + 1));
    fft_plan_lock();
    fftw_plan pf = fftw_plan_dft_r2c_2d(n, n, r, c, fft_flags());
    fftw_plan pb = fftw_plan_dft_c2r_2d(n, n, c, r, fft_flags());
    fft_plan_unlock();
    for (int i = 0; i < n * n; i++) r[i] = sin(i * 0.37);
    int reps = (int)(2e7 / ((double)n * n * log2(n))) + 10;
    double tf[3];
    for (int k = 0; k < 3; k++) {
        double t0 = omp_get_wtime();
        for (int q = 0; q < reps; q++) {
            fftw_execute(pf);
            fftw_execute(pb);
        }
        tf[k] = (omp_get_wtime() - t0) / reps;
    }
    double pair = median3(tf[0], tf[1], tf[2]);
    printf("RESULT ns fft N=%d full 2-D r2c+c2r pair %.1f us (4 pairs %.3f ms; the NumPy peer does 5 pairs per step)\n", n,
           1e6 * pair, 4e3 * pair);
    fft_plan_lock();
    fftw_destroy_plan(pf);
    fftw_destroy_plan(pb);
    fft_plan_unlock();
    fftw_free(r);
    fftw_free(c);

    if (!with_l96) return 0;
    // Lorenz-96, the reference configuration.
    l96_params lp;
    l96_params_default(&lp);
    double X[32], Y[128], *w = malloc(sizeof(double) * l96_work_size(&lp));
    for (int sc = 0; sc < 2; sc++) {
        l96_init(&lp, 1, 0, X, Y);
        long ls = sc ? 100000 : 400000;
        double t0 = omp_get_wtime();
        for (long i = 0; i < ls; i++) l96_step(&lp, sc ? L96_RK4 : L96_EULER, 5e-4, X, Y, w);
        double dt = omp_get_wtime() - t0;
        printf("RESULT l96 %s K=32 J=4 %.3g steps/s (%.1f ns/step; one 66400-step sample in %.1f ms) X0=%.3f\n",
               sc ? "rk4" : "euler", ls / dt, 1e9 * dt / ls, 66400 * dt / ls * 1e3, X[0]);
    }
    free(w);
    return 0;
}
