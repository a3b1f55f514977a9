// The distributed runtime (lib/dist.h).  Run alone (as tests/run.sh does) it
// checks the plain-run path, then, when the library was built with MPI,
// launches itself under `mpirun -np 2` and `-np 3` and checks what the ranks
// wrote: the all-reduce equals the serial sum in rank order byte for byte, on
// every rank, twice over; a broadcast arrives; and a rank that dies or aborts
// ends the run instead of leaving the other waiting in the all-reduce.
//
// Under a launcher the same binary is a rank: `test_dist rank MODE DIR`.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dist.h"
#include "rng.h"

// Buffer lengths the ranks reduce, in this order: empty, fewer elements than
// ranks, an odd length whose chunks are unequal, then a short one again (the
// scratch kept from the long one).
static const size_t lengths[] = {0, 1, 2, 100003, 3};
enum { NLEN = sizeof lengths / sizeof *lengths, MAXLEN = 100003 };

// Rank r's contribution: normals of key (7, r, n) at magnitudes spread over
// 2^±20, so that a different order of the additions changes the rounding.
static void fill_rank(float *x, size_t n, int r)
{
    eddy_rng g;
    rng_init(&g, 7, (uint64_t)r, n, 0x44495354);
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(&g) * ldexp(1.0, (int)(rng_u64(&g) % 41) - 20));
}

// The reference: element i = (float)(Σ_r x_r[i] in double, r = 0, 1, ...).
static void serial_sum(float *out, size_t n, int nranks)
{
    double *s = calloc(n + 1, sizeof *s);
    float *x = malloc((n + 1) * sizeof *x);
    for (int r = 0; r < nranks; r++) {
        fill_rank(x, n, r);
        for (size_t i = 0; i < n; i++) s[i] += x[i];
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)s[i];
    free(s);
    free(x);
}

// ---------------------------------------------------------------- rank side

static int write_file(const char *path, const void *p, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = bytes ? fwrite(p, 1, bytes, f) : 0;
    return fclose(f) == 0 && w == bytes ? 0 : -1;
}

// Modes: "sum" reduces every length and writes DIR/sum-N-R (each rank its
// own result) and checks a broadcast; "die" kills rank 1 while rank 0 waits
// in an all-reduce; "abort" has rank 1 call dist_abort(3) instead.
static int rank_main(const char *mode, const char *dir)
{
    eddy_err e = {{0}};
    if (dist_init(&e)) {
        fprintf(stderr, "rank: %s\n", e.msg);
        return 1;
    }
    int r = dist_rank(), N = dist_size();
    if (!dist_active() || N < 2) {
        fprintf(stderr, "rank: launched but not active (size %d)\n", N);
        return 1;
    }
    float *x = malloc((MAXLEN + 1) * sizeof *x);
    if (!strcmp(mode, "die") || !strcmp(mode, "abort")) {
        if (r == 1) {
            if (!strcmp(mode, "die")) raise(SIGKILL);
            dist_abort(3);
            fprintf(stderr, "rank 1: dist_abort returned\n");
            return 1;
        }
        fill_rank(x, 1000, r);
        dist_allreduce_sum(x, 1000, &e);   // never completes: rank 1 is gone
        fprintf(stderr, "rank %d: the all-reduce returned without rank 1\n", r);
        dist_finalize(&e);
        return 0;   // the parent fails a zero exit status
    }
    int bad = 0;
    for (int k = 0; k < NLEN; k++) {
        size_t n = lengths[k];
        fill_rank(x, n, r);
        if (dist_allreduce_sum(x, n, &e)) {
            fprintf(stderr, "rank %d: %s\n", r, e.msg);
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/sum-%zu-%d", dir, n, r);
        bad |= write_file(path, x, n * sizeof *x);
    }
    // Broadcast from the last rank: a pattern only it knows.
    unsigned char b[1000];
    for (int i = 0; i < 1000; i++) b[i] = r == N - 1 ? (unsigned char)(i * 7 + 1) : 0;
    bad |= dist_bcast(b, sizeof b, N - 1, &e);
    for (int i = 0; i < 1000; i++) bad |= b[i] != (unsigned char)(i * 7 + 1);
    bad |= dist_barrier(&e) | dist_finalize(&e);
    free(x);
    return bad ? 1 : 0;
}

// ---------------------------------------------------------------- plain run

static void test_plain_run(void)
{
    CHECK(!dist_launched(), "tests/run.sh runs this binary alone");
    eddy_err e = {{0}};
    CHECK(dist_init(&e) == 0, "plain dist_init: %s", e.msg);
    CHECK(dist_rank() == 0 && dist_size() == 1 && !dist_active(), "plain run: rank %d of %d, active %d",
          dist_rank(), dist_size(), dist_active());
    CHECK(dist_init(&e) != 0 && strstr(e.msg, "twice"), "a second dist_init fails: %s", e.msg);
    float x[5] = {1, -2.5f, 3e-8f, 4e30f, -0.0f}, y[5];
    memcpy(y, x, sizeof x);
    CHECK(dist_allreduce_sum(x, 5, &e) == 0 && !memcmp(x, y, sizeof x), "one rank: the sum is the buffer");
    CHECK(dist_bcast(x, sizeof x, 0, &e) == 0 && !memcmp(x, y, sizeof x), "one rank: bcast leaves the buffer");
    CHECK(dist_bcast(x, sizeof x, 1, &e) != 0 && strstr(e.msg, "root 1"), "bcast from a rank that is not: %s", e.msg);
    CHECK(dist_allreduce_sum(NULL, 3, &e) != 0, "no buffer is an error");
    CHECK(dist_barrier(&e) == 0, "barrier");
    dist_abort(3);   // returns in a plain run
    CHECK(dist_finalize(&e) == 0, "finalize: %s", e.msg);
    CHECK(dist_finalize(&e) != 0, "finalize twice fails");
}

// Each launcher's variable alone marks a launched process.
static void test_launcher_detection(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (int i = 0; i < 3; i++) {
        setenv(vars[i], "2", 1);
        CHECK(dist_launched(), "%s marks a launched run", vars[i]);
        unsetenv(vars[i]);
        CHECK(!dist_launched(), "without %s a plain run", vars[i]);
    }
    if (!dist_built_with_mpi()) {
        // The serial build refuses N > 1 ranks, accepts one.
        eddy_err e = {{0}};
        setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
        CHECK(dist_init(&e) != 0 && strstr(e.msg, "no MPI"), "serial build under mpirun -np 2: %s", e.msg);
        setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
        CHECK(dist_init(&e) == 0 && dist_size() == 1, "serial build under mpirun -np 1");
        dist_finalize(&e);
        unsetenv("OMPI_COMM_WORLD_SIZE");
    }
}

// ---------------------------------------------------------------- under mpirun

static char self[4096], tmpdir[64];

// Runs `mpirun -np N self rank MODE DIR` with a time limit; returns the exit
// status (124: timed out), the wall time in *secs, and the log in DIR/log.
static int mpirun(int N, const char *mode, const char *dir, double *secs)
{
    char cmd[16384];
    // Two or three ranks on two cores; the bound keeps a hang from hanging make test.
    snprintf(cmd, sizeof cmd,
             "timeout 120 mpirun --oversubscribe --bind-to none -np %d '%s' rank %s '%s' > '%s/log' 2>&1",
             N, self, mode, dir, dir);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = system(cmd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *secs = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void show_log(const char *dir)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/log", dir);
    FILE *f = fopen(path, "r");
    for (int i = 0; f && i < 30 && fgets(line, sizeof line, f); i++) printf("#     %s", line);
    if (f) fclose(f);
}

static int can_launch(void)
{
    if (!dist_built_with_mpi()) {
        NOTE("skipped: built without MPI (make MPI=0, or no mpicc)");
        return 0;
    }
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        NOTE("skipped: built with MPI but mpirun is not on PATH");
        return 0;
    }
    return 1;
}

static float *read_floats(const char *path, size_t n)
{
    float *x = malloc((n + 1) * sizeof *x);
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(x, sizeof *x, n + 1, f) : 0;
    if (f) fclose(f);
    if (!f || got != n) {
        free(x);
        return NULL;
    }
    return x;
}

// Two ranks and three, each run twice: every rank's result equals the serial
// sum in rank order exactly (so the two runs are byte-identical too).
static void test_allreduce_ranks(void)
{
    if (!can_launch()) return;
    for (int N = 2; N <= 3; N++) {
        for (int run = 0; run < 2; run++) {
            char dir[128];
            snprintf(dir, sizeof dir, "%s/n%d-run%d", tmpdir, N, run);
            if (mkdir(dir, 0700)) { CHECK(0, "mkdir %s: %s", dir, strerror(errno)); return; }
            double secs;
            int st = mpirun(N, "sum", dir, &secs);
            CHECK(st == 0, "mpirun -np %d sum: exit status %d", N, st);
            if (st) { show_log(dir); continue; }
            if (run == 0) NOTE("mpirun -np %d: %.2f s", N, secs);
            for (int k = 0; k < NLEN; k++) {
                size_t n = lengths[k];
                float *want = malloc((n + 1) * sizeof *want);
                serial_sum(want, n, N);
                for (int r = 0; r < N; r++) {
                    char path[4096];
                    snprintf(path, sizeof path, "%s/sum-%zu-%d", dir, n, r);
                    float *got = read_floats(path, n);
                    CHECK(got != NULL, "%s: missing or not %zu floats", path, n);
                    if (!got) continue;
                    size_t diff = 0;
                    for (size_t i = 0; i < n; i++) diff += memcmp(&got[i], &want[i], sizeof *got) != 0;
                    CHECK(diff == 0, "-np %d, n %zu, rank %d: %zu of %zu elements differ from the serial sum",
                          N, n, r, diff, n);
                    free(got);
                }
                free(want);
            }
        }
    }
}

// The sum in rank order is not what a float sum in another order gives: the
// data make the comparison above able to fail.
static void test_order_matters(void)
{
    enum { N = 100003 };
    float *x0 = malloc(N * sizeof *x0), *x1 = malloc(N * sizeof *x1), *x2 = malloc(N * sizeof *x2);
    fill_rank(x0, N, 0);
    fill_rank(x1, N, 1);
    fill_rank(x2, N, 2);
    size_t differ = 0;
    for (size_t i = 0; i < N; i++) {
        float ordered = (float)((double)x0[i] + x1[i] + x2[i]);
        float other = (x2[i] + x1[i]) + x0[i];
        differ += ordered != other;
    }
    NOTE("float sums in another order differ in %zu of %d elements", differ, N);
    CHECK(differ > 100, "the test data must expose the order of the additions (%zu)", differ);
    free(x0);
    free(x1);
    free(x2);
}

// A rank that is killed, or that calls dist_abort, ends the whole run with a
// non-zero status well inside the time limit.
static void test_failing_rank_ends_run(void)
{
    if (!can_launch()) return;
    const char *modes[] = {"die", "abort"};
    for (int m = 0; m < 2; m++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/%s", tmpdir, modes[m]);
        if (mkdir(dir, 0700)) { CHECK(0, "mkdir %s: %s", dir, strerror(errno)); return; }
        double secs;
        int st = mpirun(2, modes[m], dir, &secs);
        NOTE("rank 1 %s: mpirun exit status %d after %.2f s", modes[m], st, secs);
        CHECK(st != 0 && st != 124, "%s: the run must fail, not succeed or time out (status %d)", modes[m], st);
        CHECK(secs < 60, "%s: %.1f s to end the run", modes[m], secs);
        if (m == 1) CHECK(st == 3, "dist_abort(3) gives mpirun's exit status 3, not %d", st);
        if (st == 0 || st == 124) show_log(dir);
    }
}

int main(int argc, char **argv)
{
    if (dist_launched()) {
        if (argc != 4 || strcmp(argv[1], "rank")) {
            fprintf(stderr, "usage under a launcher: test_dist rank sum|die|abort DIR\n");
            return 2;
        }
        return rank_main(argv[2], argv[3]);
    }
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return 1;
    self[len] = 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dist.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    if (geteuid() == 0) {   // Open MPI refuses root without both of these.
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    setenv("OMP_NUM_THREADS", "1", 1);
    // Under AddressSanitizer the ranks would report Open MPI's own
    // allocations, kept until exit, as leaks.
    if (getenv("ASAN_OPTIONS")) setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);

    RUN(test_plain_run);
    RUN(test_launcher_detection);
    RUN(test_order_matters);
    RUN(test_allreduce_ranks);
    RUN(test_failing_rank_ends_run);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) NOTE("could not remove %s", tmpdir);
    return check_done();
}
