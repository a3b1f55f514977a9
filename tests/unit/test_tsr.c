// The tensor stream: round trips of every dtype and rank, attributes and
// history, concatenation, header-only reading, the atomic path writer, and
// every corruption a reader must reject with a message that names the record
// and the fault.  Corrupted headers are re-sealed with a correct CRC so the
// check under test, not the CRC, is the one that fires.
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY   // ZSTD_frameHeaderSize
#include <zstd.h>

#include "check.h"
#include "crc32c.h"
#include "rng.h"
#include "tsr.h"

// ---------------------------------------------------------------- helpers

typedef struct {
    char *buf;
    size_t len;
} membuf;

static void fill_random(tsr_record *r, uint64_t key)
{
    eddy_rng g;
    rng_init(&g, 7, key, 0, 0);
    unsigned char *p = r->data;
    for (size_t i = 0; i < r->nbytes; i++) p[i] = (unsigned char)rng_u64(&g);
}

// A record named name, of dtype t and shape, with random bytes.
static void make_record(tsr_record *r, const char *name, tsr_dtype t, int rank, const uint64_t *shape,
                        uint64_t key)
{
    eddy_err e;
    tsr_record_init(r);
    if (tsr_record_alloc(r, name, t, rank, shape, &e)) {
        printf("# alloc failed: %s\n", e.msg);
        exit(1);
    }
    fill_random(r, key);
}

// Writes n records into memory; returns the stream bytes.
static membuf write_stream(tsr_record *recs, int n, const tsr_write_opts *opts)
{
    membuf m = {0};
    FILE *f = open_memstream(&m.buf, &m.len);
    eddy_err e;
    tsr_writer *w = tsr_writer_open(f, opts, &e);
    CHECK(w != NULL, "writer open: %s", e.msg);
    for (int i = 0; i < n; i++) CHECK(tsr_write(w, &recs[i], &e) == 0, "write %d: %s", i, e.msg);
    CHECK(tsr_writer_finish(w, &e) == 0, "finish: %s", e.msg);
    fclose(f);
    return m;
}

// Reads every record of a byte buffer; returns the status of the failing or
// final call (0 at a clean end, -1 on error) with the message in e.
static int read_all(const void *buf, size_t len, tsr_record *out, int max, int *n, eddy_err *e)
{
    *n = 0;
    e->msg[0] = 0;
    FILE *f = fmemopen((void *)buf, len, "rb");
    tsr_reader *r = tsr_reader_open(f, "mem", e);
    if (!r) {
        fclose(f);
        return -1;
    }
    tsr_record tmp;
    tsr_record_init(&tmp);
    int rc;
    while ((rc = tsr_read(r, &tmp, e)) == 1) {
        if (out && *n < max) {
            out[*n] = tmp;
            tsr_record_init(&tmp);
        }
        (*n)++;
    }
    tsr_record_free(&tmp);
    tsr_reader_close(r);
    fclose(f);
    return rc;
}

static int same_record(const tsr_record *a, const tsr_record *b)
{
    if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    if (a->nbytes && memcmp(a->data, b->data, a->nbytes)) return 0;
    if (a->nattrs != b->nattrs) return 0;
    for (int i = 0; i < a->nattrs; i++) {
        const char *v = tsr_attr_get(b, a->attrs[i].key);
        if (!v || strcmp(v, a->attrs[i].value)) return 0;
    }
    return 1;
}

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> 8 * i); }
static void wr64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> 8 * i); }

// Layout offsets (formats/tsr.md): the stream header frame is 28 bytes; a
// record frame is magic, size, then its content.
enum { STREAM_HDR = 28 };

// Offset of the content of record k's header frame in a stream buffer.
static size_t record_content(const membuf *m, int k)
{
    size_t off = STREAM_HDR;
    for (int i = 0;; i++) {
        const unsigned char *p = (const unsigned char *)m->buf + off;
        uint32_t size = rd32(p + 4);
        if (i == k) return off + 8;
        uint64_t zlen = 0;
        for (int b = 0; b < 8; b++) zlen |= (uint64_t)p[8 + 24 + b] << 8 * b;
        off += 8 + size + zlen;
    }
}

// Recomputes the CRC of the record header whose content starts at off.
static void reseal(membuf *m, size_t off)
{
    unsigned char *c = (unsigned char *)m->buf + off;
    uint32_t size = rd32(c - 4);
    wr32(c + size - 4, crc32c(0, c, size - 4));
}

static int has(const char *msg, const char *a) { return strstr(msg, a) != NULL; }

// A two-record stream (records 0 "a" and 1 "b", f4, no shuffle so payload
// bytes are raw-stored random data); corruptions target record 1.
static membuf two_records(void)
{
    tsr_record r[2];
    uint64_t s0[2] = {3, 5}, s1[2] = {64, 64};
    make_record(&r[0], "a", TSR_F4, 2, s0, 1);
    make_record(&r[1], "b", TSR_F4, 2, s1, 2);
    tsr_write_opts o = {.level = 1, .shuffle = 0};
    membuf m = write_stream(r, 2, &o);
    tsr_record_free(&r[0]);
    tsr_record_free(&r[1]);
    return m;
}

// Expects reading m to fail with a message containing both a and b.
#define EXPECT_FAIL(m, a, b)                                                                 \
    do {                                                                                     \
        eddy_err e_;                                                                         \
        int n_;                                                                              \
        int rc_ = read_all((m).buf, (m).len, NULL, 0, &n_, &e_);                             \
        CHECK(rc_ == -1, "expected failure, got %d after %d records", rc_, n_);              \
        CHECK(has(e_.msg, a) && has(e_.msg, b), "message '%s' lacks '%s' / '%s'", e_.msg, a, b); \
        NOTE("%s", e_.msg);                                                                  \
    } while (0)

// ---------------------------------------------------------------- round trips

static void test_roundtrip_dtypes_ranks(void)
{
    int cases = 0;
    for (int shuffle = 0; shuffle <= 1; shuffle++) {
        for (int t = 0; t < TSR_NDTYPE; t++) {
            tsr_record recs[2 * (TSR_MAX_RANK + 1)];
            int n = 0;
            for (int rank = 0; rank <= TSR_MAX_RANK; rank++) {
                uint64_t shape[TSR_MAX_RANK];
                for (int i = 0; i < rank; i++) shape[i] = 1 + (uint64_t)((i * 7 + rank) % 3);
                make_record(&recs[n++], "x", (tsr_dtype)t, rank, shape, (uint64_t)(t * 100 + rank));
                // and an empty tensor: a zero-length axis in the middle
                if (rank > 0) {
                    shape[rank / 2] = 0;
                    make_record(&recs[n++], "empty", (tsr_dtype)t, rank, shape, 0);
                }
            }
            tsr_write_opts o = {.level = 3, .shuffle = shuffle};
            membuf m = write_stream(recs, n, &o);
            tsr_record back[2 * (TSR_MAX_RANK + 1)];
            eddy_err e;
            int got;
            int rc = read_all(m.buf, m.len, back, n, &got, &e);
            CHECK(rc == 0 && got == n, "%s shuffle %d: rc %d, %d of %d records: %s", tsr_dtype_descr(t),
                  shuffle, rc, got, n, e.msg);
            for (int i = 0; i < got && i < n; i++) {
                CHECK(same_record(&recs[i], &back[i]), "%s rank %d record %d differs", tsr_dtype_descr(t),
                      recs[i].rank, i);
                tsr_record_free(&back[i]);
                cases++;
            }
            for (int i = 0; i < n; i++) tsr_record_free(&recs[i]);
            free(m.buf);
        }
    }
    NOTE("%d records round-tripped (12 dtypes x ranks 0-8, empty tensors, shuffle on/off)", cases);
}

static void test_shuffle_flag_and_bytes(void)
{
    // Shuffle is flagged only for float dtypes, and the payload really is
    // the byte-plane transpose: decompressing the frame by hand shows it.
    uint64_t shape[1] = {4};
    tsr_record r;
    make_record(&r, "s", TSR_F4, 1, shape, 5);
    membuf m = write_stream(&r, 1, NULL);
    size_t c = record_content(&m, 0);
    const unsigned char *h = (const unsigned char *)m.buf + c;
    CHECK(h[4] == 1, "f4 record flags %d, want shuffle bit", h[4]);
    tsr_record_free(&r);
    free(m.buf);
    make_record(&r, "i", TSR_I4, 1, shape, 5);
    m = write_stream(&r, 1, NULL);
    h = (const unsigned char *)m.buf + record_content(&m, 0);
    CHECK(h[4] == 0, "i4 record flags %d, want no shuffle", h[4]);
    tsr_record_free(&r);
    free(m.buf);
}

static void test_attributes(void)
{
    tsr_record r;
    uint64_t shape[1] = {2};
    make_record(&r, "omega", TSR_F8, 1, shape, 9);
    const char *tricky = "a=b\nline two\\with backslash\\n not a newline\n\n=end\\";
    CHECK(tsr_attr_set(&r, "weird", tricky) == 0, "set");
    CHECK(tsr_attr_set(&r, "empty", "") == 0, "set empty");
    CHECK(tsr_attr_set_double(&r, "nu", 1e-3) == 0, "set nu");
    CHECK(tsr_attr_set(&r, "bad=key", "x") != 0, "key with '=' must be refused");
    CHECK(tsr_attr_set(&r, "bad\nkey", "x") != 0, "key with newline must be refused");
    CHECK(tsr_attr_set(&r, "", "x") != 0, "empty key must be refused");
    CHECK(tsr_history_append(&r, "ns-gen --seed 1") == 0, "history 1");
    CHECK(tsr_history_append(&r, "rg-coarsen --lambda 2") == 0, "history 2");
    CHECK(strcmp(tsr_attr_get(&r, "history"), "ns-gen --seed 1\nrg-coarsen --lambda 2") == 0, "history '%s'",
          tsr_attr_get(&r, "history"));
    membuf m = write_stream(&r, 1, NULL);
    tsr_record back;
    eddy_err e;
    int n;
    CHECK(read_all(m.buf, m.len, &back, 1, &n, &e) == 0 && n == 1, "read: %s", e.msg);
    if (n == 1) {
        CHECK(same_record(&r, &back), "attributes differ after the round trip");
        CHECK(strcmp(tsr_attr_get(&back, "weird"), tricky) == 0, "tricky value '%s'", tsr_attr_get(&back, "weird"));
        double nu = 0;
        CHECK(tsr_attr_double(&back, "nu", &nu, &e) == 0 && nu == 1e-3, "nu %g", nu);
        // the order of attributes is kept
        CHECK(back.nattrs == 4 && strcmp(back.attrs[0].key, "weird") == 0 && strcmp(back.attrs[3].key, "history") == 0,
              "attribute order");
        CHECK(tsr_history_append(&back, "tsr-cat") == 0, "history 3");
        CHECK(strcmp(tsr_attr_get(&back, "history"), "ns-gen --seed 1\nrg-coarsen --lambda 2\ntsr-cat") == 0,
              "history after read '%s'", tsr_attr_get(&back, "history"));
        tsr_record_free(&back);
    }
    // the raw header holds the escaped form, one line per attribute
    const char *esc = "weird=a=b\\nline two\\\\with backslash\\\\n not a newline\\n\\n=end\\\\\n";
    CHECK(memmem(m.buf, m.len, esc, strlen(esc)) != NULL,
          "escaped attribute not found in the raw header");
    long v = 0;
    CHECK(tsr_attr_set(&r, "count", "12x") == 0 && tsr_attr_long(&r, "count", &v, &e) == -1 && has(e.msg, "count"),
          "unparsable integer must fail");
    CHECK(tsr_attr_long(&r, "absent", &v, &e) == 1, "absent attribute returns 1");
    CHECK(tsr_attr_del(&r, "count") == 0 && tsr_attr_get(&r, "count") == NULL, "delete");
    tsr_record_free(&r);
    free(m.buf);
}

static void test_concatenated_streams(void)
{
    tsr_record a[2], b[1];
    uint64_t s[1] = {5};
    make_record(&a[0], "a0", TSR_F4, 1, s, 11);
    make_record(&a[1], "a1", TSR_I4, 1, s, 12);
    make_record(&b[0], "b0", TSR_C16, 1, s, 13);
    membuf ma = write_stream(a, 2, NULL), mb = write_stream(b, 1, NULL);
    // a reserved skippable frame between the streams and inside one is skipped
    unsigned char skip[12];
    wr32(skip, 0x184D2A5Fu);
    wr32(skip + 4, 4);
    memcpy(skip + 8, "junk", 4);
    size_t len = ma.len + sizeof skip + mb.len + sizeof skip;
    char *cat = malloc(len);
    memcpy(cat, ma.buf, ma.len);
    memcpy(cat + ma.len, skip, sizeof skip);
    memcpy(cat + ma.len + sizeof skip, mb.buf, STREAM_HDR);
    memcpy(cat + ma.len + sizeof skip + STREAM_HDR, skip, sizeof skip);
    memcpy(cat + ma.len + 2 * sizeof skip + STREAM_HDR, mb.buf + STREAM_HDR, mb.len - STREAM_HDR);
    tsr_record back[3];
    eddy_err e;
    int n;
    CHECK(read_all(cat, len, back, 3, &n, &e) == 0 && n == 3, "concatenated: %d records: %s", n, e.msg);
    if (n == 3) {
        CHECK(same_record(&a[0], &back[0]) && same_record(&a[1], &back[1]) && same_record(&b[0], &back[2]),
              "records differ");
        for (int i = 0; i < 3; i++) tsr_record_free(&back[i]);
    }
    // the second stream cut before its end record: truncated, at record 3
    membuf cut = {cat, len - 20};
    EXPECT_FAIL(cut, "record 3", "truncated stream");
    // data that is not a stream header after an end record is refused
    memcpy(cat + ma.len, "JUNKJUNK", 8);
    membuf junk = {cat, ma.len + 8};
    EXPECT_FAIL(junk, "record 2", "unexpected data after the end-of-stream record");
    free(cat);
    free(ma.buf);
    free(mb.buf);
    tsr_record_free(&a[0]);
    tsr_record_free(&a[1]);
    tsr_record_free(&b[0]);
}

static void test_header_only(void)
{
    tsr_record recs[3];
    uint64_t s[3] = {4, 5, 6};
    for (int i = 0; i < 3; i++) make_record(&recs[i], i == 1 ? "mid" : "x", TSR_F8, 3, s, (uint64_t)i);
    tsr_attr_set(&recs[1], "t", "12.5");
    membuf m = write_stream(recs, 3, NULL);
    FILE *f = fmemopen(m.buf, m.len, "rb");
    eddy_err e;
    tsr_reader *r = tsr_reader_open(f, "mem", &e);
    CHECK(r != NULL, "open: %s", e.msg);
    tsr_record h;
    tsr_record_init(&h);
    CHECK(tsr_read_header_only(r, &h, &e) == 1 && h.data == NULL && h.nbytes == 4 * 5 * 6 * 8, "first header");
    CHECK(tsr_read_header_only(r, &h, &e) == 1 && strcmp(h.name, "mid") == 0 && h.rank == 3 && h.shape[2] == 6 &&
              strcmp(tsr_attr_get(&h, "t"), "12.5") == 0 && h.data == NULL,
          "second header");
    CHECK(tsr_reader_index(r) == 2, "index %ld", tsr_reader_index(r));
    // a full read after header-only reads still lands on the right payload
    CHECK(tsr_read(r, &h, &e) == 1 && same_record(&recs[2], &h), "third record after skipping: %s", e.msg);
    CHECK(tsr_read(r, &h, &e) == 0, "clean end");
    CHECK(tsr_read(r, &h, &e) == 0, "end is sticky");
    tsr_record_free(&h);
    tsr_reader_close(r);
    fclose(f);
    for (int i = 0; i < 3; i++) tsr_record_free(&recs[i]);
    free(m.buf);
}

static int want_mid(const tsr_record *h, void *ctx)
{
    (*(int *)ctx)++;
    return strcmp(h->name, "mid") == 0;
}

static void test_read_if(void)
{
    tsr_record recs[3];
    uint64_t s[1] = {1000};
    for (int i = 0; i < 3; i++) make_record(&recs[i], i == 1 ? "mid" : "x", TSR_F4, 1, s, (uint64_t)i + 40);
    membuf m = write_stream(recs, 3, NULL);
    FILE *f = fmemopen(m.buf, m.len, "rb");
    eddy_err e;
    tsr_reader *r = tsr_reader_open(f, "mem", &e);
    tsr_record h;
    tsr_record_init(&h);
    int calls = 0, got[3];
    for (int i = 0; i < 3; i++) {
        CHECK(tsr_read_if(r, &h, want_mid, &calls, &e) == 1, "read %d: %s", i, e.msg);
        got[i] = h.data != NULL;
        if (i == 1) CHECK(same_record(&recs[1], &h), "the wanted record is read in full");
    }
    CHECK(!got[0] && got[1] && !got[2] && calls == 3, "payloads read %d %d %d, %d calls", got[0], got[1], got[2], calls);
    CHECK(tsr_read_if(r, &h, want_mid, &calls, &e) == 0 && calls == 3, "clean end without a call");
    tsr_record_free(&h);
    tsr_reader_close(r);
    fclose(f);
    for (int i = 0; i < 3; i++) tsr_record_free(&recs[i]);
    free(m.buf);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_atomic_path_writer(void)
{
    char dir[] = "/tmp/test_tsr.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/out.tsr", dir);
    tsr_record r;
    uint64_t s[1] = {100};
    make_record(&r, "x", TSR_F4, 1, s, 3);
    eddy_err e;
    tsr_writer *w = tsr_writer_open_path(path, NULL, &e);
    CHECK(w != NULL, "open_path: %s", e.msg);
    CHECK(tsr_write(w, &r, &e) == 0, "write");
    CHECK(access(path, F_OK) != 0, "the target must not exist before finish");
    tsr_writer_abort(w);
    CHECK(count_entries(dir) == 0, "abort left %d files behind", count_entries(dir));

    mode_t mask = umask(022);
    w = tsr_writer_open_path(path, NULL, &e);
    CHECK(tsr_write(w, &r, &e) == 0 && tsr_writer_finish(w, &e) == 0, "finish: %s", e.msg);
    umask(mask);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o, want 644", st.st_mode & 0777);
    CHECK(count_entries(dir) == 1, "%d files after finish, want 1", count_entries(dir));
    FILE *f = fopen(path, "rb");
    tsr_reader *rd = tsr_reader_open(f, path, &e);
    tsr_record b;
    tsr_record_init(&b);
    CHECK(rd && tsr_read(rd, &b, &e) == 1 && same_record(&r, &b) && tsr_read(rd, &b, &e) == 0, "read back");
    tsr_record_free(&b);
    tsr_reader_close(rd);
    fclose(f);
    unlink(path);
    rmdir(dir);
    tsr_record_free(&r);
}

static void test_deterministic_bytes(void)
{
    tsr_record recs[2];
    uint64_t s[2] = {33, 17};
    make_record(&recs[0], "a", TSR_F4, 2, s, 21);
    make_record(&recs[1], "b", TSR_C8, 2, s, 22);
    tsr_attr_set(&recs[1], "units", "1/s");
    membuf m1 = write_stream(recs, 2, NULL), m2 = write_stream(recs, 2, NULL);
    CHECK(m1.len == m2.len && memcmp(m1.buf, m2.buf, m1.len) == 0, "same records gave different bytes");
    // and a round trip through the reader rewrites the very same bytes
    tsr_record back[2];
    eddy_err e;
    int n;
    CHECK(read_all(m1.buf, m1.len, back, 2, &n, &e) == 0 && n == 2, "read");
    membuf m3 = write_stream(back, 2, NULL);
    CHECK(m3.len == m1.len && memcmp(m3.buf, m1.buf, m1.len) == 0, "rewrite differs");
    for (int i = 0; i < 2; i++) {
        tsr_record_free(&recs[i]);
        tsr_record_free(&back[i]);
    }
    free(m1.buf);
    free(m2.buf);
    free(m3.buf);
}

static void test_end_record_and_empty_stream(void)
{
    membuf m = write_stream(NULL, 0, NULL);
    CHECK(m.len == STREAM_HDR + 20, "empty stream is %zu bytes, want 48", m.len);
    eddy_err e;
    int n;
    CHECK(read_all(m.buf, m.len, NULL, 0, &n, &e) == 0 && n == 0, "empty stream reads cleanly: %s", e.msg);
    // the count in the end record must match
    unsigned char *end = (unsigned char *)m.buf + STREAM_HDR + 8;
    wr64(end, 3);
    wr32(end + 8, crc32c(0, end, 8));
    EXPECT_FAIL(m, "record 0", "counts 3 records");
    end[0] ^= 1;
    EXPECT_FAIL(m, "record 0", "end-of-stream record CRC mismatch");
    free(m.buf);
}

// ---------------------------------------------------------------- corruptions

static void test_bad_signature(void)
{
    membuf m = two_records();
    m.buf[9] ^= 0x20;   // 'T' of the signature
    EXPECT_FAIL(m, "record 0", "bad signature");
    free(m.buf);
    const char npy[] = "\x93NUMPY\x01\x00";
    membuf n = {(char *)npy, 8};
    EXPECT_FAIL(n, "record 0", ".npy file");
    const char text[] = "hello, world\n";
    membuf t = {(char *)text, sizeof text - 1};
    EXPECT_FAIL(t, "record 0", "bad signature");
}

static void test_unknown_major(void)
{
    membuf m = two_records();
    unsigned char *c = (unsigned char *)m.buf + 8;
    c[8] = 2;   // major 2
    wr32(c + 16, crc32c(0, c, 16));
    EXPECT_FAIL(m, "record 0", "unknown major version 2");
    // an unknown minor version is accepted
    c[8] = 1;
    c[10] = 7;
    wr32(c + 16, crc32c(0, c, 16));
    eddy_err e;
    int n;
    CHECK(read_all(m.buf, m.len, NULL, 0, &n, &e) == 0 && n == 2, "minor 7 must be read: %s", e.msg);
    free(m.buf);
}

static void test_truncations(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    membuf t = {m.buf, c1 + 10};   // inside record 1's header
    EXPECT_FAIL(t, "record 1", "truncated header");
    t.len = c1 - 5;   // inside the frame's magic/size
    EXPECT_FAIL(t, "record 1", "truncated header");
    uint32_t size = rd32((unsigned char *)m.buf + c1 - 4);
    t.len = c1 + size + 100;   // inside record 1's payload
    EXPECT_FAIL(t, "record 1", "truncated payload");
    t.len = m.len - 20;   // the whole end record missing
    EXPECT_FAIL(t, "record 2", "truncated stream");
    t.len = m.len - 3;    // the end record cut
    EXPECT_FAIL(t, "record 2", "truncated or malformed end-of-stream record");
    t.len = 20;           // inside the stream header
    EXPECT_FAIL(t, "record 0", "truncated stream header");
    // a truncated header-only read fails as well
    t.len = c1 + size + 100;
    FILE *f = fmemopen(t.buf, t.len, "rb");
    eddy_err e;
    tsr_reader *r = tsr_reader_open(f, "mem", &e);
    tsr_record h;
    tsr_record_init(&h);
    CHECK(tsr_read_header_only(r, &h, &e) == 1, "header 0");
    CHECK(tsr_read_header_only(r, &h, &e) == -1 && has(e.msg, "record 1") && has(e.msg, "truncated payload"),
          "header-only truncated: %s", e.msg);
    tsr_record_free(&h);
    tsr_reader_close(r);
    fclose(f);
    free(m.buf);
}

static void test_header_crc(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    uint32_t size = rd32((unsigned char *)m.buf + c1 - 4);
    m.buf[c1 + size - 5] ^= 0x01;   // the last byte before the CRC (the name "b")
    EXPECT_FAIL(m, "record 1", "header CRC mismatch");
    free(m.buf);
}

static void test_payload_checksum(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    uint32_t size = rd32((unsigned char *)m.buf + c1 - 4);
    // random data is stored raw, so a flipped byte keeps the frame well formed
    // and only the XXH64 content checksum can catch it
    m.buf[c1 + size + 2000] ^= 0x10;
    EXPECT_FAIL(m, "record 1", "payload checksum mismatch");
    free(m.buf);
}

static void test_payload_size_vs_shape(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    unsigned char *h = (unsigned char *)m.buf + c1;
    wr64(h + 16, 64 * 64 * 4 + 4);   // raw bytes one element too many
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "disagrees with shape x dtype");
    free(m.buf);

    // the header consistent with itself, the zstd frame's content size not
    m = two_records();
    c1 = record_content(&m, 1);
    h = (unsigned char *)m.buf + c1;
    wr64(h + 32, 128);   // shape[0] = 128 instead of 64
    wr64(h + 16, 128 * 64 * 4);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "content size disagrees");
    free(m.buf);

    // a dtype the reader does not know
    m = two_records();
    c1 = record_content(&m, 1);
    memcpy(m.buf + c1 + 12, "<f2\0", 4);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "unknown dtype '<f2'");
    free(m.buf);
}

static void test_absurd_lengths(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    wr32((unsigned char *)m.buf + c1 - 4, 0xFFFFFFF0u);
    EXPECT_FAIL(m, "record 1", "absurd header length");
    free(m.buf);

    // a compressed length beyond zstd's bound for the raw size is not
    // refused as such (other writers may exceed it); the input ends first
    m = two_records();
    c1 = record_content(&m, 1);
    wr64((unsigned char *)m.buf + c1 + 24, 1ull << 40);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "truncated payload");
    free(m.buf);

    // a huge but bounded claim on a short input fails as truncated, before
    // allocating for the claim (ASan would report a 16 GiB allocation)
    m = two_records();
    c1 = record_content(&m, 1);
    unsigned char *h = (unsigned char *)m.buf + c1;
    wr64(h + 32, 1ull << 16);   // 65536 x 65536 floats = 16 GiB
    wr64(h + 40, 1ull << 16);
    wr64(h + 16, 1ull << 34);
    wr64(h + 24, 1ull << 34);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "truncated payload");
    free(m.buf);

    // a name length that disagrees with the frame size
    m = two_records();
    c1 = record_content(&m, 1);
    m.buf[c1 + 6] += 3;
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "lengths disagree");
    free(m.buf);
}

static void test_rank_and_overflow(void)
{
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    m.buf[c1 + 5] = 9;
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "rank 9 > 8");
    free(m.buf);

    m = two_records();
    c1 = record_content(&m, 1);
    unsigned char *h = (unsigned char *)m.buf + c1;
    wr64(h + 32, 1ull << 33);
    wr64(h + 40, 1ull << 33);   // 2^66 elements
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "shape product overflows");
    free(m.buf);

    m = two_records();
    c1 = record_content(&m, 1);
    h = (unsigned char *)m.buf + c1;
    wr64(h + 32, 1ull << 31);
    wr64(h + 40, 1ull << 31);   // 2^62 elements, 2^64 bytes: the byte count overflows
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "shape product overflows");
    free(m.buf);
}

static void test_other_frame_faults(void)
{
    // the record index in the header must follow the order
    membuf m = two_records();
    size_t c1 = record_content(&m, 1);
    wr32((unsigned char *)m.buf + c1, 5);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "header says index 5");
    free(m.buf);

    // unknown flag bits
    m = two_records();
    c1 = record_content(&m, 1);
    m.buf[c1 + 4] = 0x80;
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "unknown flags");
    free(m.buf);

    // something that is neither a skippable nor a zstd frame where a record header belongs
    m = two_records();
    c1 = record_content(&m, 1);
    wr32((unsigned char *)m.buf + c1 - 8, 0xDEADBEEFu);
    EXPECT_FAIL(m, "record 1", "bad frame magic");
    free(m.buf);

    // a payload frame without the content checksum the format requires
    m = two_records();
    c1 = record_content(&m, 1);
    m.buf[c1 + rd32((unsigned char *)m.buf + c1 - 4) + 4] &= (char)~4;
    EXPECT_FAIL(m, "record 1", "carries no checksum");
    free(m.buf);

    // malformed attribute text under a valid CRC
    tsr_record r;
    uint64_t s[1] = {2};
    make_record(&r, "a", TSR_U1, 1, s, 1);
    tsr_attr_set(&r, "k", "v\\x");
    m = write_stream(&r, 1, NULL);
    c1 = record_content(&m, 0);
    char *k = memmem(m.buf, m.len, "k=v\\\\x", 6);
    CHECK(k != NULL, "attribute not found");
    if (k) {
        memcpy(k, "k=v\\qx", 6);   // a lone, unknown escape
        reseal(&m, c1);
        EXPECT_FAIL(m, "record 0", "bad escape in attribute k");
        memcpy(k, "kxv\\\\x", 6);   // no '='
        reseal(&m, c1);
        EXPECT_FAIL(m, "record 0", "malformed attribute line");
    }
    tsr_record_free(&r);
    free(m.buf);
}

static void test_writer_refusals(void)
{
    membuf m = {0};
    FILE *f = open_memstream(&m.buf, &m.len);
    eddy_err e;
    tsr_writer *w = tsr_writer_open(f, NULL, &e);
    tsr_record r;
    uint64_t s[1] = {3};
    make_record(&r, "x", TSR_F4, 1, s, 1);
    r.nbytes = 8;   // inconsistent with the shape
    CHECK(tsr_write(w, &r, &e) == -1 && has(e.msg, "disagrees"), "inconsistent record: %s", e.msg);
    r.nbytes = 12;
    char big[4096];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        tsr_attr_set(&r, key, big);
    }
    CHECK(tsr_write(w, &r, &e) == -1 && has(e.msg, "attributes too long"), "huge header: %s", e.msg);
    uint64_t s0[1] = {0};
    CHECK(tsr_record_alloc(&r, "x", TSR_F4, 9, s0, &e) == -1 && has(e.msg, "rank 9"), "rank 9 alloc");
    uint64_t so[2] = {1ull << 40, 1ull << 40};
    CHECK(tsr_record_alloc(&r, "x", TSR_F4, 2, so, &e) == -1 && has(e.msg, "overflows"), "overflow alloc");
    tsr_writer_abort(w);
    fclose(f);
    free(m.buf);
    tsr_record_free(&r);
}

static void test_crc32c_known_values(void)
{
    // RFC 3720 B.4 test vectors and the standard check value.
    unsigned char z[32] = {0}, ff[32], inc[32];
    for (int i = 0; i < 32; i++) ff[i] = 0xff, inc[i] = (unsigned char)i;
    CHECK(crc32c(0, "123456789", 9) == 0xE3069283u, "check value %08x", crc32c(0, "123456789", 9));
    CHECK(crc32c(0, z, 32) == 0x8A9136AAu, "zeros %08x", crc32c(0, z, 32));
    CHECK(crc32c(0, ff, 32) == 0x62A8AB43u, "ones %08x", crc32c(0, ff, 32));
    CHECK(crc32c(0, inc, 32) == 0x46DD794Eu, "incrementing %08x", crc32c(0, inc, 32));
    // incremental = one shot
    CHECK(crc32c(crc32c(0, inc, 13), inc + 13, 19) == 0x46DD794Eu, "incremental");
}

static void test_convert(void)
{
    tsr_record r;
    uint64_t s[1] = {4};
    eddy_err e;
    tsr_record_init(&r);
    tsr_record_alloc(&r, "x", TSR_F8, 1, s, &e);
    double v[4] = {1.5, -2, 1e30, 0.25};
    memcpy(r.data, v, sizeof v);
    CHECK(tsr_record_convert(&r, TSR_F4, &e) == 0 && r.nbytes == 16, "to f4");
    float *f = r.data;
    CHECK(f[0] == 1.5f && f[1] == -2.0f && f[2] == 1e30f && f[3] == 0.25f, "values");
    CHECK(tsr_record_convert(&r, TSR_C8, &e) == -1 && has(e.msg, "cannot convert"), "real to complex refused");
    tsr_record_free(&r);
}

// ---------------------------------------------------------------- the spec's bounds (issue 15)

// Writes a one-record stream with a 12-byte payload whose zstd frame carries
// `pad` empty raw blocks before its data: a valid frame larger than
// ZSTD_compressBound, as another writer may produce.
static membuf padded_frame_stream(int pad)
{
    uint64_t shape[1] = {3};
    tsr_record r;
    make_record(&r, "p", TSR_F4, 1, shape, 9);
    tsr_write_opts o = {.level = 1, .shuffle = 0};
    membuf m = write_stream(&r, 1, &o);
    size_t c = record_content(&m, 0);
    unsigned char *h = (unsigned char *)m.buf + c;
    uint32_t hsize = rd32(h - 4);
    uint64_t zlen = 0;
    for (int b = 0; b < 8; b++) zlen |= (uint64_t)h[24 + b] << 8 * b;
    unsigned char *z = h + hsize;
    size_t fh = ZSTD_frameHeaderSize(z, (size_t)zlen);
    CHECK(!ZSTD_isError(fh), "frame header size");
    size_t nz = (size_t)zlen + 3 * (size_t)pad;
    membuf o2 = {malloc(m.len + 3 * (size_t)pad), m.len + 3 * (size_t)pad};
    size_t pre = (size_t)(z - (unsigned char *)m.buf) + fh;
    memcpy(o2.buf, m.buf, pre);
    memset(o2.buf + pre, 0, 3 * (size_t)pad);   // raw block, not last, size 0
    memcpy(o2.buf + pre + 3 * (size_t)pad, m.buf + pre, m.len - pre);
    wr64((unsigned char *)o2.buf + c + 24, nz);
    reseal(&o2, c);
    CHECK(nz > ZSTD_compressBound(12), "padded frame %zu bytes > bound %zu", nz, ZSTD_compressBound(12));
    free(m.buf);
    tsr_record_free(&r);
    return o2;
}

static void test_spec_bounds(void)
{
    // A valid frame above ZSTD_compressBound is read (it was refused as "absurd").
    membuf m = padded_frame_stream(1000);
    eddy_err e;
    int n;
    CHECK(read_all(m.buf, m.len, NULL, 0, &n, &e) == 0 && n == 1, "padded frame refused: %s", e.msg);
    free(m.buf);

    // Per-axis bound, whatever the order of the axes: (0, 2^64-1) and
    // (2^64-1, 0) have no elements and are both refused.
    for (int k = 0; k < 2; k++) {
        m = two_records();
        size_t c1 = record_content(&m, 1);
        unsigned char *h = (unsigned char *)m.buf + c1;
        wr64(h + 32 + 8 * k, 0);
        wr64(h + 32 + 8 * (1 - k), ~0ull);
        wr64(h + 16, 0);
        reseal(&m, c1);
        EXPECT_FAIL(m, "record 1", "exceeds");
        free(m.buf);
    }

    // A 16 GiB claim carried by a 100-byte frame is refused before any
    // allocation: zlen bytes cannot decode to more than 32768 zlen.
    m = two_records();
    size_t c1 = record_content(&m, 1);
    unsigned char *h = (unsigned char *)m.buf + c1;
    wr64(h + 32, 1ull << 16);
    wr64(h + 40, 1ull << 16);
    wr64(h + 16, 1ull << 34);
    wr64(h + 24, 100);
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "cannot come from a 100-byte zstd frame");
    free(m.buf);

    // From a regular file, a claim longer than the file is found truncated
    // before the payload is allocated.
    m = two_records();
    c1 = record_content(&m, 1);
    h = (unsigned char *)m.buf + c1;
    wr64(h + 24, 1ull << 30);
    reseal(&m, c1);
    char path[] = "/tmp/test_tsr_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, m.buf, m.len) == (ssize_t)m.len, "temp file");
    close(fd);
    FILE *f = fopen(path, "rb");
    tsr_reader *r = tsr_reader_open(f, "file", &e);
    tsr_record rec;
    tsr_record_init(&rec);
    CHECK(tsr_read(r, &rec, &e) == 1, "record 0");
    CHECK(tsr_read(r, &rec, &e) == -1 && has(e.msg, "truncated payload"), "file claim: %s", e.msg);
    tsr_record_free(&rec);
    tsr_reader_close(r);
    fclose(f);
    unlink(path);
    free(m.buf);

    // Names and attribute keys must be UTF-8: the reader and the writer refuse others.
    m = two_records();
    c1 = record_content(&m, 1);
    h = (unsigned char *)m.buf + c1;
    h[32 + 16] = 0xC0;   // record 1 "b" (rank 2): an overlong-form lead byte
    reseal(&m, c1);
    EXPECT_FAIL(m, "record 1", "not UTF-8");
    free(m.buf);
    tsr_record bad;
    uint64_t sh[1] = {2};
    make_record(&bad, "\xff\xfe", TSR_F4, 1, sh, 3);
    membuf mm = {0};
    f = open_memstream(&mm.buf, &mm.len);
    tsr_writer *w = tsr_writer_open(f, NULL, &e);
    CHECK(tsr_write(w, &bad, &e) == -1 && has(e.msg, "UTF-8"), "writer took a non-UTF-8 name");
    tsr_writer_abort(w);
    fclose(f);
    free(mm.buf);
    tsr_record_free(&bad);
    CHECK(tsr_utf8_valid("\xce\xbd=\xe2\x88\x87", 6), "valid UTF-8 refused");
    CHECK(!tsr_utf8_valid("\xed\xa0\x80", 3), "a surrogate accepted");

    // The shuffle flag is pinned: clear for an empty float payload, set for
    // a scalar (one element; the shuffle is the identity).
    uint64_t zero[1] = {0};
    tsr_record rr[2];
    make_record(&rr[0], "empty", TSR_F4, 1, zero, 1);
    make_record(&rr[1], "scalar", TSR_F8, 0, NULL, 2);
    m = write_stream(rr, 2, NULL);
    CHECK(((unsigned char *)m.buf)[record_content(&m, 0) + 4] == 0, "empty f4: shuffle flag set");
    CHECK(((unsigned char *)m.buf)[record_content(&m, 1) + 4] == 1, "scalar f8: shuffle flag clear");
    free(m.buf);
    tsr_record_free(&rr[0]);
    tsr_record_free(&rr[1]);
}

// A payload above 64 MiB from a non-seekable input (a memory stream has no
// file descriptor, like a pipe) is decoded into a growing buffer: the data
// must come out exactly, shuffled (f4) or not (i4).
static void test_large_payload_from_a_pipe(void)
{
    uint64_t shape[1] = {(68u << 20) / 4};
    tsr_dtype types[2] = {TSR_F4, TSR_I4};
    for (int k = 0; k < 2; k++) {
        tsr_record r, back;
        eddy_err e;
        tsr_record_init(&r);
        CHECK(tsr_record_alloc(&r, "big", types[k], 1, shape, &e) == 0, "alloc: %s", e.msg);
        for (uint64_t i = 0; i < shape[0]; i++) {
            if (k == 0) ((float *)r.data)[i] = (float)(i % 1000) * 0.5f;
            else ((int32_t *)r.data)[i] = (int32_t)(i * 2654435761u >> 20);
        }
        membuf m = write_stream(&r, 1, NULL);
        FILE *f = fmemopen(m.buf, m.len, "rb");
        tsr_reader *rd = tsr_reader_open(f, "pipe", &e);
        tsr_record_init(&back);
        CHECK(tsr_read(rd, &back, &e) == 1, "read %d: %s", k, e.msg);
        CHECK(same_record(&r, &back), "large %s payload differs after the growing decode", k ? "i4" : "f4");
        CHECK(tsr_read(rd, &back, &e) == 0, "end: %s", e.msg);
        tsr_record_free(&back);
        tsr_reader_close(rd);
        fclose(f);
        free(m.buf);
        tsr_record_free(&r);
    }
}

int main(void)
{
    RUN(test_crc32c_known_values);
    RUN(test_roundtrip_dtypes_ranks);
    RUN(test_shuffle_flag_and_bytes);
    RUN(test_attributes);
    RUN(test_concatenated_streams);
    RUN(test_header_only);
    RUN(test_read_if);
    RUN(test_atomic_path_writer);
    RUN(test_deterministic_bytes);
    RUN(test_end_record_and_empty_stream);
    RUN(test_bad_signature);
    RUN(test_unknown_major);
    RUN(test_truncations);
    RUN(test_header_crc);
    RUN(test_payload_checksum);
    RUN(test_payload_size_vs_shape);
    RUN(test_absurd_lengths);
    RUN(test_rank_and_overflow);
    RUN(test_other_frame_faults);
    RUN(test_writer_refusals);
    RUN(test_convert);
    RUN(test_spec_bounds);
    RUN(test_large_payload_from_a_pipe);
    return check_done();
}
