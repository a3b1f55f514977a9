// tsr-cat: concatenate tensor streams, select records, slice along axes.
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *out = "-", *records;
static cli_list names, slices;
static int level = 1, no_shuffle;

static const cli_opt opts[] = {
    CLI_OPT_OUTPUT(&out, "write the stream to FILE (atomically) instead of stdout"),
    {"records", 'r', OPT_STRING, &records, "LIST",
     "keep records by index over all inputs, from 0: N, A:B, A:, :B, A:B:STEP (B excluded), comma-separated"},
    {"name", 'n', OPT_LIST, &names, "NAME", "keep records with this name; repeatable (with --records: both must hold)"},
    {"slice", 0, OPT_LIST, &slices, "AXIS:START:STOP[:STEP]",
     "slice kept records along AXIS like Python's a[START:STOP:STEP]; repeatable"},
    CLI_OPTS_WRITE(&level, &no_shuffle),
    CLI_OPT_END,
};

static const cli_spec spec = {
    .name = "tsr-cat",
    .usage = "[options] [FILE...]",
    .summary = "concatenate tensor streams, select records, slice them",
    .description = "Reads each operand ('-' or none: stdin) in turn and writes one stream of the kept\n"
                   "records, each with its attributes and the command line appended to its history.\n"
                   "Records not kept are skipped unread (their payloads are not decompressed).\n"
                   "--slice takes negative AXIS, START and STOP counted from the end, and empty fields\n"
                   "for the defaults: --slice 0::8 keeps the first 8 rows, --slice -1:::-1 reverses\n"
                   "the last axis.",
    .example = "  tsr-cat a.tsr b.tsr > ab.tsr\n"
               "  tsr-cat --records 2:5 --name omega --slice 0:0:32 --slice -1:::2 run.tsr > part.tsr",
    .opts = opts,
};

// ---------------------------------------------------------------- --records

typedef struct {
    long start, stop, step;   // stop < 0: open
} range;

static range *ranges;
static int nranges;

static int parse_long(const char *s, const char *end, long *v)
{
    if (s == end) return 1;   // empty: the default
    char buf[32];
    if ((size_t)(end - s) >= sizeof buf) return -1;
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = 0;
    char *e;
    *v = strtol(buf, &e, 10);
    return (*e || e == buf) ? -1 : 0;
}

static void parse_records(const char *spec_)
{
    const char *p = spec_;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        range r = {0, -1, 1};
        const char *c1 = memchr(p, ':', (size_t)(end - p));
        int ok;
        if (!c1) {
            ok = parse_long(p, end, &r.start) == 0;
            r.stop = r.start + 1;
        } else {
            const char *c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
            ok = parse_long(p, c1, &r.start) >= 0 && parse_long(c1 + 1, c2 ? c2 : end, &r.stop) >= 0 &&
                 (!c2 || parse_long(c2 + 1, end, &r.step) >= 0);
        }
        if (!ok || r.start < 0 || (c1 && r.stop < -1) || r.step < 1)
            cli_die(EXIT_USAGE, "--records '%s': expected N, A:B, A:, :B or A:B:STEP with A, B >= 0 and STEP >= 1",
                    spec_);
        ranges = realloc(ranges, (size_t)(nranges + 1) * sizeof *ranges);
        if (!ranges) cli_die(EXIT_DATA, "out of memory");
        ranges[nranges++] = r;
        p = *end ? end + 1 : end;
    }
}

static int keep_index(long i)
{
    if (!records) return 1;
    for (int k = 0; k < nranges; k++)
        if (i >= ranges[k].start && (ranges[k].stop < 0 || i < ranges[k].stop) &&
            (i - ranges[k].start) % ranges[k].step == 0)
            return 1;
    return 0;
}

static int keep_name(const char *n)
{
    if (!names.n) return 1;
    for (int k = 0; k < names.n; k++)
        if (!strcmp(names.v[k], n)) return 1;
    return 0;
}

// Decides from the header alone, so the payloads of dropped records are
// skipped without decompressing them.
static int keep(const tsr_record *header, void *index) { return keep_index(*(long *)index) && keep_name(header->name); }

// ---------------------------------------------------------------- --slice

typedef struct {
    long axis, start, stop, step;
    int has_start, has_stop;
} slice_spec;

static slice_spec *sl;

static void parse_slice(const char *s, slice_spec *o)
{
    const char *f[4] = {s, NULL, NULL, NULL}, *end = s + strlen(s);
    int nf = 1;
    for (const char *p = s; *p; p++)
        if (*p == ':') {
            if (nf == 4) nf = 5;
            else f[nf++] = p + 1;
        }
    long v[4] = {0, 0, 0, 1};
    int has[4] = {0};
    int ok = nf == 3 || nf == 4;
    for (int i = 0; ok && i < nf; i++) {
        const char *e = i + 1 < nf ? f[i + 1] - 1 : end;
        int rc = parse_long(f[i], e, &v[i]);
        ok = rc >= 0 && (i > 0 || rc == 0);
        has[i] = rc == 0;
    }
    if (!ok || v[3] == 0)
        cli_die(EXIT_USAGE, "--slice '%s': expected AXIS:START:STOP[:STEP] with integers and STEP != 0", s);
    *o = (slice_spec){v[0], v[1], v[2], v[3], has[1], has[2]};
}

// Python's slice.indices: the first index and the count along an axis of length n.
static void slice_indices(const slice_spec *s, long n, long *first, long *count)
{
    long lo = s->step < 0 ? -1 : 0, hi = s->step < 0 ? n - 1 : n;
    long a = s->has_start ? s->start : (s->step < 0 ? hi : lo);
    long b = s->has_stop ? s->stop : (s->step < 0 ? lo : hi);
    if (s->has_start) a = a < 0 ? (a + n < lo ? lo : a + n) : (a > hi ? hi : a);
    if (s->has_stop) b = b < 0 ? (b + n < lo ? lo : b + n) : (b > hi ? hi : b);
    long c = s->step > 0 ? (b > a ? (b - a + s->step - 1) / s->step : 0)
                         : (a > b ? (a - b + (-s->step) - 1) / (-s->step) : 0);
    *first = a;
    *count = c;
}

// Slices rec along one axis in place: outer blocks x kept indices x inner bytes.
static void apply_slice(tsr_record *rec, const slice_spec *s, long index)
{
    long ax = s->axis < 0 ? s->axis + rec->rank : s->axis;
    if (ax < 0 || ax >= rec->rank)
        cli_die(EXIT_DATA, "record %ld '%s': --slice axis %ld out of range for rank %d", index, rec->name, s->axis,
                rec->rank);
    long first, count;
    slice_indices(s, (long)rec->shape[ax], &first, &count);
    size_t outer = 1, inner = tsr_dtype_size(rec->dtype), n = (size_t)rec->shape[ax];
    for (long i = 0; i < ax; i++) outer *= (size_t)rec->shape[i];
    for (long i = ax + 1; i < rec->rank; i++) inner *= (size_t)rec->shape[i];
    size_t bytes = outer * (size_t)count * inner;
    unsigned char *dst = malloc(bytes ? bytes : 1), *src = rec->data, *o = dst;
    if (!dst) cli_die(EXIT_DATA, "out of memory");
    for (size_t b = 0; b < outer; b++)
        for (long j = 0; j < count; j++, o += inner)
            memcpy(o, src + (b * n + (size_t)(first + j * s->step)) * inner, inner);
    free(rec->data);
    rec->data = dst;
    rec->nbytes = bytes;
    rec->shape[ax] = (uint64_t)count;
}

// ---------------------------------------------------------------- main

static tsr_writer *w;

static _Noreturn void fail(const char *msg)
{
    tsr_writer_abort(w);   // never a stream that looks complete
    cli_die(EXIT_DATA, "%s", msg);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse_inputs(&spec, argc, argv, &nops, &ops);
    if (records) parse_records(records);
    sl = calloc((size_t)slices.n + 1, sizeof *sl);
    for (int i = 0; i < slices.n; i++) parse_slice(slices.v[i], &sl[i]);
    int nstdin = 0;
    for (int i = 0; i < nops; i++) {
        nstdin += !strcmp(ops[i], "-");
        FILE *f = cli_open_in(ops[i]);   // a missing file fails before any output
        if (f != stdin) fclose(f);
    }
    if (nstdin > 1) cli_die(EXIT_USAGE, "stdin ('-') given more than once");

    tsr_write_opts wo = {.level = level, .shuffle = !no_shuffle};
    w = cli_writer(out, &wo);
    eddy_err e;
    tsr_record rec;
    tsr_record_init(&rec);
    long index = 0;
    for (int i = 0; i < nops; i++) {
        FILE *f = cli_open_in(ops[i]);
        eddy_err oe;
        tsr_reader *r = tsr_reader_open(f, strcmp(ops[i], "-") ? ops[i] : "stdin", &oe);
        if (!r) fail(oe.msg);
        int rc;
        while ((rc = tsr_read_if(r, &rec, keep, &index, &e)) == 1) {
            if (keep(&rec, &index)) {
                for (int k = 0; k < slices.n; k++) apply_slice(&rec, &sl[k], index);
                if (tsr_history_append(&rec, cli_cmdline())) fail("out of memory");
                if (tsr_write(w, &rec, &e)) fail(e.msg);
            }
            index++;
        }
        if (rc < 0) fail(e.msg);
        tsr_reader_close(r);
        if (f != stdin) fclose(f);
    }
    tsr_record_free(&rec);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    free(sl);
    free(ranges);
    return 0;
}
