// libFuzzer target for the .npy reader (npy2tsr's input): any byte string
// must give arrays or a clean error, never a crash, leak or unbounded
// allocation.  Arrays read are written back and re-read, which must agree.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    tsr_record rec, back;
    tsr_record_init(&rec);
    tsr_record_init(&back);
    eddy_err e;
    for (int n = 0; n < 64 && npy_read(f, "fuzz", &rec, &e) == 1; n++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *o = open_memstream(&buf, &len);
        if (npy_write(o, &rec, &e)) abort();
        fclose(o);
        FILE *i = fmemopen(buf, len, "rb");
        if (npy_read(i, "again", &back, &e) != 1 || back.nbytes != rec.nbytes || back.dtype != rec.dtype ||
            (rec.nbytes && memcmp(back.data, rec.data, rec.nbytes)))
            abort();   // what we write we must read back unchanged
        fclose(i);
        free(buf);
    }
    tsr_record_free(&rec);
    tsr_record_free(&back);
    fclose(f);
    return 0;
}
