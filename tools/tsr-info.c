// tsr-info: one line per record of a tensor stream, headers only unless asked
// for statistics.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int stats, all_attrs;

static const cli_opt opts[] = {
    {"stats", 's', OPT_FLAG, &stats, NULL,
     "read payloads too: min, max, mean, std (population) over finite values, NaN and Inf counts"},
    {"attrs", 'a', OPT_FLAG, &all_attrs, NULL, "print every attribute in full, history included, below each record"},
    CLI_OPT_END,
};

static const cli_spec spec = {
    .name = "tsr-info",
    .usage = "[options] [FILE...]",
    .summary = "describe the records of tensor streams",
    .description = "Prints one tab-separated line per record: index, name, dtype, shape, and its attributes\n"
                   "(history aside; long values cut).  Complex records' statistics run over real and\n"
                   "imaginary parts together.  Reads headers only, unless --stats.",
    .example = "  tsr-info --stats run.tsr\n"
               "  0\tomega\t<f4\t(64, 64)\tL=6.2831853071795862 t=0 min=-3.1 max=2.9 mean=0 std=1 nan=0 inf=0",
    .opts = opts,
};

// Prints a value on one line: newlines as \n, cut after max characters (0: no cut).
static void put_value(const char *v, size_t max)
{
    size_t n = 0;
    for (const char *p = v; *p; p++, n++) {
        if (max && n == max) {
            fputs("...", stdout);
            return;
        }
        if (*p == '\n') fputs("\\n", stdout);
        else putchar(*p);
    }
}

static double value_at(const tsr_record *r, size_t i)
{
    switch (r->dtype) {
    case TSR_I1: return ((const int8_t *)r->data)[i];
    case TSR_U1: return ((const uint8_t *)r->data)[i];
    case TSR_I2: return ((const int16_t *)r->data)[i];
    case TSR_U2: return ((const uint16_t *)r->data)[i];
    case TSR_I4: return ((const int32_t *)r->data)[i];
    case TSR_U4: return ((const uint32_t *)r->data)[i];
    case TSR_I8: return (double)((const int64_t *)r->data)[i];
    case TSR_U8: return (double)((const uint64_t *)r->data)[i];
    case TSR_F4: case TSR_C8: return ((const float *)r->data)[i];
    case TSR_F8: case TSR_C16: return ((const double *)r->data)[i];
    default: return 0;
    }
}

static void print_stats(const tsr_record *r, const char *sep)
{
    size_t n = (size_t)tsr_numel(r) * ((r->dtype == TSR_C8 || r->dtype == TSR_C16) ? 2 : 1);
    double mn = INFINITY, mx = -INFINITY, mean = 0, m2 = 0;
    size_t k = 0, nan = 0, inf = 0;
    for (size_t i = 0; i < n; i++) {
        double v = value_at(r, i);
        if (isnan(v)) { nan++; continue; }
        if (isinf(v)) { inf++; continue; }
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        k++;   // Welford: stable for fields with a large mean
        double d = v - mean;
        mean += d / (double)k;
        m2 += d * (v - mean);
    }
    if (k) printf("%smin=%.7g max=%.7g mean=%.7g std=%.7g", sep, mn, mx, mean, sqrt(m2 / (double)k));
    else printf("%smin=nan max=nan mean=nan std=nan", sep);
    printf(" nan=%zu inf=%zu", nan, inf);
}

static void print_record(long idx, const tsr_record *r)
{
    printf("%ld\t%s\t%s\t(", idx, r->name, tsr_dtype_descr(r->dtype));
    for (int i = 0; i < r->rank; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)r->shape[i]);
    printf("%s)\t", r->rank == 1 ? "," : "");
    int first = 1;
    for (int i = 0; i < r->nattrs; i++) {
        if (!strcmp(r->attrs[i].key, "history")) continue;
        printf("%s%s=", first ? "" : " ", r->attrs[i].key);
        put_value(r->attrs[i].value, 40);
        first = 0;
    }
    if (stats) print_stats(r, first ? "" : " ");
    putchar('\n');
    if (all_attrs) {
        for (int i = 0; i < r->nattrs; i++) {
            printf("    %s=", r->attrs[i].key);
            const char *v = r->attrs[i].value;
            // Multi-line values (history) print one line each, indented.
            for (const char *p = v; *p; p++) {
                putchar(*p);
                if (*p == '\n') printf("        ");
            }
            putchar('\n');
        }
    }
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse_inputs(&spec, argc, argv, &nops, &ops);
    eddy_err e;
    tsr_record rec;
    tsr_record_init(&rec);
    for (int i = 0; i < nops; i++) {
        FILE *f;
        tsr_reader *r = cli_reader(ops[i], &f);
        if (nops > 1) printf("%s==> %s <==\n", i ? "\n" : "", ops[i]);
        int rc;
        long idx = 0;
        while ((rc = stats ? tsr_read(r, &rec, &e) : tsr_read_header_only(r, &rec, &e)) == 1)
            print_record(idx++, &rec);
        fflush(stdout);
        if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_reader_close(r);
        if (f != stdin) fclose(f);
    }
    tsr_record_free(&rec);
    if (fflush(stdout)) cli_die(EXIT_DATA, "write failed");
    return 0;
}
