// Tensor stream throughput against the zstd command-line tool, in one run:
// a float32 field stream (a smooth field plus small noise, 1024x1024 records)
// is written and read back at zstd level 1 with and without shuffle, and the
// same raw bytes go through `zstd -1` and `zstd -d`.  Prints figures and
// ratios; never fails on time.
//
//   bench_stream DIR [MB]     (scratch files in DIR; default 256 MB)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rng.h"
#include "tsr.h"

enum { N = 1024, REPS = 3 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) ? 0 : (double)st.st_size;
}

// Record k: a few Fourier modes drifting with k, plus 1e-3 white noise.
static void make_field(float *f, int k)   // (N, N)
{
    eddy_rng g;
    rng_init(&g, 42, (uint64_t)k, 0, 0);
    double ph = 0.1 * k;
    for (int y = 0; y < N; y++) {
        double sy = sin(2 * M_PI * y / N + ph), cy = cos(6 * M_PI * y / N);
        for (int x = 0; x < N; x++) {
            double v = sy * cos(2 * M_PI * x / N) + 0.3 * cy * sin(4 * M_PI * x / N - ph) +
                       0.05 * sin(2 * M_PI * (3 * x + 5 * y) / N);
            f[(size_t)y * N + x] = (float)(v + 1e-3 * rng_normal(&g));
        }
    }
}

static double time_write(const char *path, tsr_record *recs, int n, int shuffle)
{
    double best = 1e30;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now();
        FILE *f = fopen(path, "wb");
        eddy_err e;
        tsr_write_opts o = {.level = 1, .shuffle = shuffle};
        tsr_writer *w = tsr_writer_open(f, &o, &e);
        for (int i = 0; i < n; i++)
            if (tsr_write(w, &recs[i], &e)) fprintf(stderr, "bench: %s\n", e.msg), exit(1);
        if (tsr_writer_finish(w, &e)) fprintf(stderr, "bench: %s\n", e.msg), exit(1);
        fclose(f);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static double time_read(const char *path, const tsr_record *recs, int n)
{
    double best = 1e30;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now();
        FILE *f = fopen(path, "rb");
        eddy_err e;
        tsr_reader *r = tsr_reader_open(f, path, &e);
        tsr_record rec;
        tsr_record_init(&rec);
        int k = 0, rc;
        while ((rc = tsr_read(r, &rec, &e)) == 1) {
            // verified once; the later, unverified repetitions give the time
            if (rep == 0 && memcmp(rec.data, recs[k].data, rec.nbytes)) fprintf(stderr, "bench: record %d differs\n", k), exit(1);
            k++;
        }
        if (rc < 0 || k != n) fprintf(stderr, "bench: read failed: %s\n", e.msg), exit(1);
        tsr_record_free(&rec);
        tsr_reader_close(r);
        fclose(f);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

static double time_cmd(const char *cmd)
{
    double best = 1e30;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now();
        if (system(cmd) != 0) fprintf(stderr, "bench: '%s' failed\n", cmd), exit(1);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_stream DIR [MB]\n");
        return 2;
    }
    const char *dir = argv[1];
    int mb = argc > 2 ? atoi(argv[2]) : 256;
    int n = mb / 4 > 0 ? mb / 4 : 1;   // 4 MB records
    double bytes = (double)n * N * N * 4, MB = bytes / 1e6;
    char raw[4096], zst[4096], tsr[4096], cmd[9000];
    snprintf(raw, sizeof raw, "%s/field.raw", dir);
    snprintf(zst, sizeof zst, "%s/field.raw.zst", dir);
    snprintf(tsr, sizeof tsr, "%s/field.tsr", dir);

    tsr_record *recs = calloc((size_t)n, sizeof *recs);
    FILE *fr = fopen(raw, "wb");
    if (!recs || !fr) return 1;
    eddy_err e;
    uint64_t shape[2] = {N, N};
    for (int k = 0; k < n; k++) {
        tsr_record_init(&recs[k]);
        if (tsr_record_alloc(&recs[k], "omega", TSR_F4, 2, shape, &e)) return 1;
        make_field(recs[k].data, k);
        fwrite(recs[k].data, 1, recs[k].nbytes, fr);
    }
    fclose(fr);
    printf("stream bench: %d records of %dx%d float32, %.0f MB, zstd level 1, best of %d\n", n, N, N, MB, REPS);

    snprintf(cmd, sizeof cmd, "zstd -q -f -1 -c '%s' > '%s'", raw, zst);
    double cli_w = time_cmd(cmd), cli_size = file_size(zst);
    // The CLI writes its output to a file, as our reader materialises every
    // record in memory: to /dev/null it would skip that cost altogether.
    snprintf(cmd, sizeof cmd, "zstd -q -d -c '%s' > '%s.out'", zst, raw);
    double cli_r = time_cmd(cmd);
    // ... and to /dev/null, the usual (and for the CLI, most flattering) figure.
    snprintf(cmd, sizeof cmd, "zstd -q -d -c '%s' > /dev/null", zst);
    double cli_rn = time_cmd(cmd);
    printf("RESULT stream zstd_cli compress_MBps=%.0f decompress_file_MBps=%.0f decompress_null_MBps=%.0f ratio=%.3f\n",
           MB / cli_w, MB / cli_r, MB / cli_rn, bytes / cli_size);

    for (int shuffle = 1; shuffle >= 0; shuffle--) {
        double tw = time_write(tsr, recs, n, shuffle), size = file_size(tsr);
        double tr = time_read(tsr, recs, n);
        const char *name = shuffle ? "shuffle" : "noshuffle";
        printf("RESULT stream tsr_%s write_MBps=%.0f read_MBps=%.0f ratio=%.3f write_vs_cli=%.2f read_vs_cli=%.2f "
               "read_vs_cli_null=%.2f size_vs_cli=%.2f\n",
               name, MB / tw, MB / tr, bytes / size, cli_w / tw, cli_r / tr, cli_rn / tr, size / cli_size);
        printf("  tsr %-9s: write %.2fx, read %.2fx (%.2fx vs the CLI decompressing to /dev/null) the zstd CLI's "
               "throughput (goal >= 0.9x); %.1f%% of the CLI's compressed size\n",
               name, cli_w / tw, cli_r / tr, cli_rn / tr, 100 * size / cli_size);
    }
    remove(raw);
    remove(zst);
    snprintf(cmd, sizeof cmd, "%s.out", raw);
    remove(cmd);
    remove(tsr);
    for (int k = 0; k < n; k++) tsr_record_free(&recs[k]);
    free(recs);
    return 0;
}
