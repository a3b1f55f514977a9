// libFuzzer target for the tensor stream reader: any byte string must give a
// clean error or records, never a crash, a leak, an unbounded allocation or a
// hang.  Records are read in full or header-only, chosen by the input's last
// byte, so both paths are explored.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tsr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    // A valid tiny frame can claim gigabytes of zeros; keep within -rss_limit_mb.
    setenv("TSR_MAX_RECORD_BYTES", "67108864", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return 0;
    int header_only = data[size - 1] & 1;
    eddy_err e;
    tsr_reader *r = tsr_reader_open(f, "fuzz", &e);
    if (r) {
        tsr_record rec;
        tsr_record_init(&rec);
        int rc, n = 0;
        while ((rc = header_only ? tsr_read_header_only(r, &rec, &e) : tsr_read(r, &rec, &e)) == 1) {
            // touch what a tool would touch
            volatile size_t sink = rec.nbytes + (size_t)tsr_numel(&rec);
            for (int i = 0; i < rec.nattrs; i++) sink += tsr_attr_get(&rec, rec.attrs[i].key) != NULL;
            (void)sink;
            if (++n > 100000) abort();   // a reader that never ends
        }
        tsr_record_free(&rec);
        tsr_reader_close(r);
    }
    fclose(f);
    return 0;
}
