// Writes seed corpora for the fuzzers: valid tensor streams (every dtype,
// ranks 0-3, empty tensors, attributes with escapes, shuffle on and off,
// concatenated streams) into DIR1, and .npy files into DIR2.
#include <stdio.h>
#include <string.h>

#include "npy.h"
#include "rng.h"
#include "tsr.h"

static void add(tsr_writer *w, const char *name, tsr_dtype t, int rank, const uint64_t *shape, int seed)
{
    tsr_record r;
    eddy_err e;
    tsr_record_init(&r);
    if (tsr_record_alloc(&r, name, t, rank, shape, &e)) return;
    eddy_rng g;
    rng_init(&g, (uint64_t)seed, 0, 0, 0);
    unsigned char *p = r.data;
    for (size_t i = 0; i < r.nbytes; i++) p[i] = (unsigned char)(i % 7 == 0 ? rng_u64(&g) : i / 16);
    tsr_attr_set(&r, "units", "1/s");
    if (seed % 2) tsr_attr_set(&r, "note", "a=b\nc\\d");
    tsr_history_append(&r, "make_seeds");
    tsr_write(w, &r, &e);
    tsr_record_free(&r);
}

int main(int argc, char **argv)
{
    if (argc != 3) return 2;
    char path[4096];
    eddy_err e;
    int k = 0;
    for (int t = 0; t < TSR_NDTYPE; t++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            snprintf(path, sizeof path, "%s/seed-%02d.tsr", argv[1], k++);
            FILE *f = fopen(path, "wb");
            if (!f) return 1;
            tsr_write_opts o = {.level = 1, .shuffle = shuffle};
            // two concatenated streams in some seeds
            for (int s = 0; s < 1 + (t % 3 == 0); s++) {
                tsr_writer *w = tsr_writer_open(f, &o, &e);
                uint64_t s0[1] = {0}, s1[1] = {5}, s2[2] = {3, 4}, s3[3] = {2, 3, 2};
                add(w, "scalar", (tsr_dtype)t, 0, NULL, t);
                add(w, "v", (tsr_dtype)t, 1, s1, t + 1);
                if (t % 2) add(w, "empty", (tsr_dtype)t, 1, s0, t);
                add(w, "m", (tsr_dtype)t, 2, s2, t + 2);
                if (t % 4 == 1) add(w, "cube", (tsr_dtype)t, 3, s3, t + 3);
                tsr_writer_finish(w, &e);
            }
            fclose(f);
        }
    }
    snprintf(path, sizeof path, "%s/seed-empty.tsr", argv[1]);
    FILE *f = fopen(path, "wb");
    tsr_writer_finish(tsr_writer_open(f, NULL, &e), &e);
    fclose(f);

    for (int t = 0; t < TSR_NDTYPE; t++) {
        snprintf(path, sizeof path, "%s/seed-%02d.npy", argv[2], t);
        f = fopen(path, "wb");
        if (!f) return 1;
        tsr_record r;
        tsr_record_init(&r);
        uint64_t shape[3] = {2, 1 + (uint64_t)(t % 3), 3};
        tsr_record_alloc(&r, "x", (tsr_dtype)t, t % 4, shape, &e);
        memset(r.data, t, r.nbytes);
        npy_write(f, &r, &e);
        if (t % 2) npy_write(f, &r, &e);   // two arrays in one file
        tsr_record_free(&r);
        fclose(f);
    }
    // big-endian and Fortran order, as numpy writes them
    const char *dicts[] = {"{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
                           "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/seed-hand-%d.npy", argv[2], i);
        f = fopen(path, "wb");
        if (!f) return 1;
        size_t d = strlen(dicts[i]), pad = 64 - (10 + d + 1) % 64;
        unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((d + 1 + pad) & 0xff), 0};
        fwrite(pre, 1, 10, f);
        fwrite(dicts[i], 1, d, f);
        for (size_t k = 0; k < pad; k++) fputc(' ', f);
        fputc('\n', f);
        for (int k = 0; k < 16; k++) fputc(k * 17, f);
        fclose(f);
    }
    return 0;
}
