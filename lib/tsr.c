// The tensor stream on the wire (formats/tsr.md is the normative spec).
//
// Every header is a zstd skippable frame whose content ends in a CRC-32C of
// the bytes before it; every payload is one ordinary zstd frame carrying its
// content size and XXH64 checksum, so the whole stream is a valid zstd stream.
// The reader bounds every length before it allocates.
#include "tsr.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY   // ZSTD_d_stableOutBuffer (in libzstd since 1.4.4)
#include <zstd.h>
#include <zstd_errors.h>

#include "crc32c.h"

enum {
    MAGIC_STREAM = 0x184D2A50u,   // skippable frame: stream header
    MAGIC_RECORD = 0x184D2A51u,   // skippable frame: record header
    MAGIC_END = 0x184D2A52u,      // skippable frame: end of stream
    MAGIC_SKIP_LO = 0x184D2A50u,  // the whole skippable range; tags 3..F are
    MAGIC_SKIP_HI = 0x184D2A5Fu,  // reserved and skipped by readers
    MAGIC_ZSTD = 0xFD2FB528u,
    STREAM_CONTENT = 20,          // signature 8, major 2, minor 2, flags 4, crc 4
    STREAM_CONTENT_MAX = 4096,    // bound on a (future, longer) stream header
    END_CONTENT = 12,             // count 8, crc 4
    RECORD_FIXED = 36,            // record header bytes besides shape, name, attrs
    FLAG_SHUFFLE = 1,
    PAYLOAD_CHUNK = 1 << 17,      // compressed bytes read at a time
};

#define TSR_MAJOR 1
#define TSR_MINOR 0
static const unsigned char SIGNATURE[8] = {0x89, 'T', 'S', 'R', '\r', '\n', 0x1a, '\n'};

// A record larger than this is refused before anything is allocated for it;
// TSR_MAX_RECORD_BYTES in the environment raises it.
static uint64_t max_record_bytes(void)
{
    const char *s = getenv("TSR_MAX_RECORD_BYTES");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*end && v > 0) return v;
    }
    return 64ull << 30;
}

// ---------------------------------------------------------------- little-endian

static void put16(unsigned char *p, uint16_t v) { p[0] = v & 0xff; p[1] = v >> 8; }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> 8 * i) & 0xff; }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (v >> 8 * i) & 0xff; }
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

// ---------------------------------------------------------------- byte shuffle

// The unit is the size of one real component: 4 for f4 and c8, 8 for f8 and c16.
static size_t shuffle_unit(tsr_dtype t)
{
    return (t == TSR_F8 || t == TSR_C16) ? 8 : (t == TSR_F4 || t == TSR_C8) ? 4 : 1;
}

// Byte plane j of the output holds byte j of every element.  The loops are
// instantiated for the constant units 4 and 8, which lets the compiler unroll
// and vectorise them (about 4x faster than the generic loop for f4).
static inline __attribute__((always_inline)) void shuffle_k(unsigned char *restrict dst,
                                                            const unsigned char *restrict src, size_t m,
                                                            size_t unit)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < unit; j++) dst[j * m + i] = src[i * unit + j];
}

static inline __attribute__((always_inline)) void unshuffle_k(unsigned char *restrict dst,
                                                              const unsigned char *restrict src, size_t m,
                                                              size_t unit)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < unit; j++) dst[i * unit + j] = src[j * m + i];
}

static void shuffle(unsigned char *dst, const unsigned char *src, size_t n, size_t unit)
{
    if (unit == 4) shuffle_k(dst, src, n / 4, 4);
    else if (unit == 8) shuffle_k(dst, src, n / 8, 8);
    else shuffle_k(dst, src, n / unit, unit);
}

static void unshuffle(unsigned char *dst, const unsigned char *src, size_t n, size_t unit)
{
    if (unit == 4) unshuffle_k(dst, src, n / 4, 4);
    else if (unit == 8) unshuffle_k(dst, src, n / 8, 8);
    else unshuffle_k(dst, src, n / unit, unit);
}

// ---------------------------------------------------------------- UTF-8

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF.
int tsr_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + n;
    while (s < end) {
        unsigned c = *s++;
        if (c < 0x80) continue;
        int k;
        unsigned min, v;
        if (c >= 0xC2 && c <= 0xDF) k = 1, min = 0x80, v = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, min = 0x800, v = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, min = 0x10000, v = c & 0x07;
        else return 0;
        if (end - s < k) return 0;
        for (int i = 0; i < k; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            v = v << 6 | (s[i] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        s += k;
    }
    return 1;
}

// ---------------------------------------------------------------- attributes on the wire

// "key=value\n" lines; in values, backslash and newline are escaped as \\ and \n.
static size_t attrs_encoded_size(const tsr_record *r)
{
    size_t n = 0;
    for (int i = 0; i < r->nattrs; i++) {
        n += strlen(r->attrs[i].key) + 2;
        for (const char *p = r->attrs[i].value; *p; p++) n += (*p == '\\' || *p == '\n') ? 2 : 1;
    }
    return n;
}

static unsigned char *attrs_encode(unsigned char *o, const tsr_record *r)
{
    for (int i = 0; i < r->nattrs; i++) {
        size_t k = strlen(r->attrs[i].key);
        memcpy(o, r->attrs[i].key, k);
        o += k;
        *o++ = '=';
        for (const char *p = r->attrs[i].value; *p; p++) {
            if (*p == '\\') { *o++ = '\\'; *o++ = '\\'; }
            else if (*p == '\n') { *o++ = '\\'; *o++ = 'n'; }
            else *o++ = (unsigned char)*p;
        }
        *o++ = '\n';
    }
    return o;
}

static int attrs_decode(tsr_record *r, const unsigned char *p, size_t n, const char *where, eddy_err *e)
{
    const unsigned char *end = p + n;
    char *val = malloc(n + 1), *key = malloc(n + 1);
    int rc = 0;
    if (!val || !key) { rc = eddy_fail(e, "%s: out of memory", where); goto done; }
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *eq = memchr(p, '=', (size_t)(end - p));
        if (!nl || !eq || eq > nl || eq == p) {
            rc = eddy_fail(e, "%s: malformed attribute line", where);
            goto done;
        }
        memcpy(key, p, (size_t)(eq - p));
        key[eq - p] = 0;
        if (memchr(key, 0, (size_t)(eq - p))) {
            rc = eddy_fail(e, "%s: NUL byte in an attribute key", where);
            goto done;
        }
        if (!tsr_utf8_valid(key, (size_t)(eq - p))) {
            rc = eddy_fail(e, "%s: attribute key is not UTF-8", where);
            goto done;
        }
        size_t m = 0;
        for (const unsigned char *q = eq + 1; q < nl; q++) {
            if (*q == '\\') {
                if (q + 1 >= nl || (q[1] != '\\' && q[1] != 'n')) {
                    rc = eddy_fail(e, "%s: bad escape in attribute %s", where, key);
                    goto done;
                }
                val[m++] = q[1] == 'n' ? '\n' : '\\';
                q++;
            } else {
                val[m++] = (char)*q;
            }
        }
        val[m] = 0;
        if (memchr(val, 0, m) || tsr_attr_set(r, key, val)) {
            rc = eddy_fail(e, "%s: invalid attribute %s", where, key);
            goto done;
        }
        p = nl + 1;
    }
done:
    free(val);
    free(key);
    return rc;
}

// ---------------------------------------------------------------- reader

static int grow(unsigned char **buf, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    unsigned char *b = realloc(*buf, n);
    if (!b) return -1;
    *buf = b;
    *cap = n;
    return 0;
}

struct tsr_reader {
    FILE *f;
    char label[256];
    long index;          // records read so far, over concatenated streams
    long stream_index;   // records read in the current stream
    int ended;           // saw an end record and then EOF
    ZSTD_DCtx *dctx;
    unsigned char *zbuf; // compressed payload
    size_t zcap;
    unsigned char *sbuf; // shuffled payload, before unshuffling
    size_t scap;
    void *spare;         // the previous record's data buffer
    size_t spare_bytes;
};

// Reads exactly n bytes; returns n, or the short count at EOF or error.
static size_t read_full(FILE *f, void *buf, size_t n) { return fread(buf, 1, n, f); }

// Reads a stream header whose magic has been read already.
static int read_stream_header(tsr_reader *r, eddy_err *e)
{
    unsigned char b[4];
    if (read_full(r->f, b, 4) != 4)
        return eddy_fail(e, "%s: record %ld: truncated stream header", r->label, r->index);
    uint32_t size = get32(b);
    // A later minor version may append fields before the CRC; the first 12
    // content bytes (signature, major, minor) keep their place forever.
    if (size < STREAM_CONTENT || size > STREAM_CONTENT_MAX)
        return eddy_fail(e, "%s: record %ld: bad signature (stream header of %u bytes)", r->label, r->index, size);
    unsigned char c[STREAM_CONTENT_MAX];
    if (read_full(r->f, c, size) != size)
        return eddy_fail(e, "%s: record %ld: truncated stream header", r->label, r->index);
    if (memcmp(c, SIGNATURE, 8) != 0)
        return eddy_fail(e, "%s: record %ld: bad signature (not a tensor stream)", r->label, r->index);
    unsigned major = get16(c + 8);
    if (major != TSR_MAJOR)
        return eddy_fail(e, "%s: record %ld: unknown major version %u (this reader knows %d)", r->label,
                         r->index, major, TSR_MAJOR);
    if (crc32c(0, c, size - 4) != get32(c + size - 4))
        return eddy_fail(e, "%s: record %ld: stream header CRC mismatch", r->label, r->index);
    r->stream_index = 0;
    return 0;
}

tsr_reader *tsr_reader_open(FILE *f, const char *label, eddy_err *e)
{
    tsr_reader *r = calloc(1, sizeof *r);
    if (!r) {
        eddy_fail(e, "out of memory");
        return NULL;
    }
    r->f = f;
    snprintf(r->label, sizeof r->label, "%s", label ? label : "stream");
    r->dctx = ZSTD_createDCtx();
    // Decompress straight into the caller's buffer, which stays put for a whole frame.
    if (r->dctx) ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_stableOutBuffer, 1);
    // The spec bounds a payload's window at 128 MiB, the default limit of the
    // zstd tool itself, so `zstd -t` checks any valid stream.
    if (r->dctx) ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, TSR_WINDOW_LOG_MAX);
    unsigned char m[4];
    size_t got = r->dctx ? read_full(f, m, 4) : 0;
    if (!r->dctx) {
        eddy_fail(e, "out of memory");
    } else if (got == 0) {
        eddy_fail(e, "%s: record 0: empty input (no stream header)", r->label);
    } else if (got < 4) {
        eddy_fail(e, "%s: record 0: truncated stream header", r->label);
    } else if (get32(m) == MAGIC_STREAM) {
        if (read_stream_header(r, e) == 0) return r;
    } else if (get32(m) == MAGIC_ZSTD) {
        eddy_fail(e, "%s: record 0: bad signature: a plain zstd frame, not a tensor stream", r->label);
    } else if (m[0] == 0x93 && memcmp(m + 1, "NUM", 3) == 0) {
        eddy_fail(e, "%s: record 0: bad signature: this is a .npy file (convert it with npy2tsr)", r->label);
    } else {
        eddy_fail(e, "%s: record 0: bad signature (not a tensor stream)", r->label);
    }
    tsr_reader_close(r);
    return NULL;
}

void tsr_reader_close(tsr_reader *r)
{
    if (!r) return;
    ZSTD_freeDCtx(r->dctx);
    free(r->zbuf);
    free(r->sbuf);
    free(r->spare);
    free(r);
}

long tsr_reader_index(const tsr_reader *r) { return r->index; }

// Discards n bytes (an unknown skippable frame, or a payload read header-only):
// a seek in a regular file, so tsr-info on a large file reads headers only,
// but never past its end, so a truncation is still caught where it is.
static int skip_bytes(tsr_reader *r, uint64_t n)
{
    struct stat st;
    off_t pos;
    if (n > (1 << 16) && fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && (pos = ftello(r->f)) >= 0) {
        if ((uint64_t)pos + n > (uint64_t)st.st_size) return -1;
        if (fseeko(r->f, (off_t)n, SEEK_CUR) == 0) return 0;
    }
    unsigned char buf[1 << 14];
    while (n) {
        size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        if (read_full(r->f, buf, k) != k) return -1;
        n -= k;
    }
    return 0;
}

static int parse_record_header(tsr_reader *r, const unsigned char *h, uint32_t size, tsr_record *rec,
                               uint64_t *zlen, int *flags, eddy_err *e)
{
    char where[640];
    snprintf(where, sizeof where, "%s: record %ld", r->label, r->index);
    if (size < RECORD_FIXED) return eddy_fail(e, "%s: header too short (%u bytes)", where, size);
    if (crc32c(0, h, size - 4) != get32(h + size - 4)) return eddy_fail(e, "%s: header CRC mismatch", where);
    uint32_t idx = get32(h);
    *flags = h[4];
    int rank = h[5];
    uint16_t nlen = get16(h + 6);
    uint32_t alen = get32(h + 8);
    char descr[5] = {0};
    memcpy(descr, h + 12, 4);
    uint64_t raw = get64(h + 16);
    *zlen = get64(h + 24);
    if (idx != (uint32_t)r->stream_index)
        return eddy_fail(e, "%s: header says index %u (records missing or reordered)", where, idx);
    if (rank > TSR_MAX_RANK) return eddy_fail(e, "%s: rank %d > %d", where, rank, TSR_MAX_RANK);
    if ((uint64_t)RECORD_FIXED + 8ull * rank + nlen + alen != size)
        return eddy_fail(e, "%s: header lengths disagree with its size", where);
    if (*flags & ~FLAG_SHUFFLE) return eddy_fail(e, "%s: unknown flags 0x%02x", where, *flags);
    tsr_dtype t;
    if (tsr_dtype_parse(descr, &t)) return eddy_fail(e, "%s: unknown dtype '%.4s'", where, descr);
    const unsigned char *p = h + 32;
    uint64_t n = 1;
    // Each axis is bounded on its own, so that an empty array cannot carry an
    // absurd axis ((0, 2^64-1) has no elements but no program can index it).
    for (int i = 0; i < rank; i++) {
        rec->shape[i] = get64(p + 8 * i);
        if (rec->shape[i] > TSR_MAX_AXIS)
            return eddy_fail(e, "%s: axis %d of length %llu exceeds %llu", where, i,
                             (unsigned long long)rec->shape[i], (unsigned long long)TSR_MAX_AXIS);
    }
    for (int i = 0; i < rank; i++, p += 8)
        if (__builtin_mul_overflow(n, rec->shape[i], &n)) return eddy_fail(e, "%s: shape product overflows", where);
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)tsr_dtype_size(t), &bytes))
        return eddy_fail(e, "%s: shape product overflows", where);
    if (bytes != raw)
        return eddy_fail(e, "%s: payload size %llu disagrees with shape x dtype (%llu bytes)", where,
                         (unsigned long long)raw, (unsigned long long)bytes);
    if (bytes > max_record_bytes())
        return eddy_fail(e, "%s: %llu bytes exceeds the record limit (TSR_MAX_RECORD_BYTES)", where,
                         (unsigned long long)bytes);
    // No upper bound from the raw size: a valid frame from another writer may
    // exceed ZSTD_compressBound (empty or raw blocks).  The payload is read in
    // chunks and never allocated by zlen; the reverse bound (what zlen bytes
    // can decode to) is checked in read_payload.
    if (*zlen < 9) return eddy_fail(e, "%s: absurd compressed payload length %llu", where, (unsigned long long)*zlen);
    if (nlen > TSR_MAX_NAME) return eddy_fail(e, "%s: name longer than %d bytes", where, TSR_MAX_NAME);
    memcpy(rec->name, p, nlen);
    rec->name[nlen] = 0;
    if (memchr(rec->name, 0, nlen)) return eddy_fail(e, "%s: NUL byte in the name", where);
    if (!tsr_utf8_valid(rec->name, nlen)) return eddy_fail(e, "%s: name is not UTF-8", where);
    p += nlen;
    rec->dtype = t;
    rec->rank = rank;
    rec->nbytes = (size_t)bytes;
    snprintf(where, sizeof where, "%s: record %ld '%s'", r->label, r->index, rec->name);
    return attrs_decode(rec, p, alen, where, e);
}

// The data buffer of the previous record, kept for the next one of the same
// size: a stream of equal fields then decompresses into memory that is
// already mapped, instead of faulting in fresh pages for every record.
static void *take_spare(tsr_reader *r, size_t n)
{
    void *p = NULL;
    if (r->spare && r->spare_bytes == n) {
        p = r->spare;
        r->spare = NULL;
    }
    return p;
}

// Bytes left in the input after the current position, when it is a regular
// file (-1 otherwise: a pipe, a memory stream).
static int64_t input_remaining(tsr_reader *r)
{
    struct stat st;
    off_t pos;
    int fd = fileno(r->f);
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (pos = ftello(r->f)) < 0) return -1;
    return (int64_t)st.st_size - (int64_t)pos;
}

// A payload above this size read from a non-seekable input is decoded into a
// buffer that grows as the data arrives, so a short input that claims a huge
// record is found truncated having allocated about what it really holds.
#define PROGRESSIVE_MIN (64u << 20)

// Streams the payload through a fixed input chunk straight into the record's
// buffer (stable output buffer: no window copy).  Compressed bytes stay in
// cache.  Before allocating for the header's raw size, the claim is bounded:
// zlen compressed bytes decode to at most 128 KiB per 4 bytes (a zstd block
// is at least a 3-byte header and 1 byte of content, and decodes to at most
// 128 KiB), and zlen must fit in what a regular file has left; from a pipe,
// a large payload is decoded into a growing buffer instead.
static int read_payload(tsr_reader *r, tsr_record *rec, uint64_t zlen, int flags, eddy_err *e)
{
    char where[640];
    snprintf(where, sizeof where, "%s: record %ld '%s'", r->label, r->index, rec->name);
    if (rec->nbytes / (128u << 10) > zlen / 4 + 1)
        return eddy_fail(e, "%s: %zu bytes cannot come from a %llu-byte zstd frame", where, rec->nbytes,
                         (unsigned long long)zlen);
    if (grow(&r->zbuf, &r->zcap, PAYLOAD_CHUNK)) return eddy_fail(e, "%s: out of memory", where);
    size_t n = zlen < PAYLOAD_CHUNK ? (size_t)zlen : PAYLOAD_CHUNK;
    if (read_full(r->f, r->zbuf, n) != n) return eddy_fail(e, "%s: truncated payload", where);
    if (get32(r->zbuf) != MAGIC_ZSTD) return eddy_fail(e, "%s: payload is not a zstd frame", where);
    if (!(r->zbuf[4] & 4)) return eddy_fail(e, "%s: payload frame carries no checksum", where);
    unsigned long long csize = ZSTD_getFrameContentSize(r->zbuf, n);
    if (csize != rec->nbytes)
        return eddy_fail(e, "%s: payload frame content size disagrees with the header", where);
    int64_t rest = input_remaining(r);
    if (rest >= 0 && zlen - n > (uint64_t)rest) return eddy_fail(e, "%s: truncated payload", where);
    int progressive = rest < 0 && rec->nbytes > PROGRESSIVE_MIN;
    int shuf = (flags & FLAG_SHUFFLE) && rec->nbytes > 0;
    size_t cap = progressive ? (size_t)PROGRESSIVE_MIN : rec->nbytes;
    void *data = NULL;
    unsigned char *dst;   // where zstd writes: the shuffle buffer or the data
    if (shuf) {
        if (grow(&r->sbuf, &r->scap, cap ? cap : 1)) return eddy_fail(e, "%s: cannot allocate %zu bytes", where, cap);
        dst = r->sbuf;
    } else {
        data = progressive ? NULL : take_spare(r, rec->nbytes);
        if (!data) data = malloc(cap ? cap : 1);
        if (!data) return eddy_fail(e, "%s: cannot allocate %zu bytes", where, cap);
        dst = data;
    }
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_stableOutBuffer, !progressive);
    ZSTD_outBuffer out = {dst, cap, 0};
    uint64_t left = zlen - n;
    size_t ret = 1;
    const char *fault = NULL;
    for (;;) {
        ZSTD_inBuffer in = {r->zbuf, n, 0};
        while (in.pos < in.size) {
            if (out.pos == out.size && out.size < rec->nbytes) {
                size_t nc = out.size > rec->nbytes / 2 ? rec->nbytes : 2 * out.size;
                unsigned char *nb = shuf ? (grow(&r->sbuf, &r->scap, nc) ? NULL : r->sbuf) : realloc(data, nc);
                if (!nb) {
                    fault = "out of memory";
                    break;
                }
                if (!shuf) data = nb;
                out.dst = nb;
                out.size = nc;
            }
            ret = ZSTD_decompressStream(r->dctx, &out, &in);
            if (ZSTD_isError(ret)) {
                ZSTD_ErrorCode c = ZSTD_getErrorCode(ret);
                fault = c == ZSTD_error_checksum_wrong          ? "payload checksum mismatch (zstd XXH64)"
                        : c == ZSTD_error_frameParameter_windowTooLarge ? "payload frame window exceeds 128 MiB"
                                                                        : ZSTD_getErrorName(ret);
                break;
            }
            if (ret == 0 && (in.pos < in.size || left)) {
                fault = "payload is not one zstd frame (data after its end)";
                break;
            }
            if (ret != 0 && in.pos < in.size && out.pos == out.size && out.size == rec->nbytes) {
                fault = "payload decompresses to more than its content size";
                break;
            }
        }
        if (fault || !left) break;
        n = left < PAYLOAD_CHUNK ? (size_t)left : PAYLOAD_CHUNK;
        if (read_full(r->f, r->zbuf, n) != n) {
            fault = "truncated payload";
            break;
        }
        left -= n;
    }
    ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_stableOutBuffer, 1);
    if (!fault && ret != 0) fault = "payload is not one zstd frame (it ends early)";
    if (!fault && out.pos != rec->nbytes) fault = "short payload";
    if (!fault && shuf) {
        data = take_spare(r, rec->nbytes);
        if (!data) data = malloc(rec->nbytes);
        if (!data) fault = "out of memory";
    }
    if (fault) {
        free(data);
        return eddy_fail(e, "%s: %s", where, fault);
    }
    if (shuf) unshuffle(data, r->sbuf, rec->nbytes, shuffle_unit(rec->dtype));
    rec->data = data;
    return 0;
}

static int want_all(const tsr_record *rec, void *ctx) { return (void)rec, (void)ctx, 1; }
static int want_none(const tsr_record *rec, void *ctx) { return (void)rec, (void)ctx, 0; }

// Reads the next record's header, and its payload if want(header) says so.
static int read_next(tsr_reader *r, tsr_record *rec, int (*want)(const tsr_record *, void *), void *ctx,
                     eddy_err *e)
{
    free(r->spare);
    r->spare = rec->data;
    r->spare_bytes = rec->nbytes;
    rec->data = NULL;
    tsr_record_free(rec);
    if (r->ended) return 0;
    for (;;) {
        unsigned char m[8];
        size_t got = read_full(r->f, m, 4);
        if (got == 0)
            return eddy_fail(e, "%s: record %ld: truncated stream (end of input without an "
                                "end-of-stream record)", r->label, r->index);
        if (got < 4 || read_full(r->f, m + 4, 4) != 4)
            return eddy_fail(e, "%s: record %ld: truncated header", r->label, r->index);
        uint32_t magic = get32(m), size = get32(m + 4);
        if (magic == MAGIC_RECORD) {
            if (size > TSR_MAX_HEADER)
                return eddy_fail(e, "%s: record %ld: absurd header length %u", r->label, r->index, size);
            unsigned char *h = malloc(size ? size : 1);
            if (!h) return eddy_fail(e, "%s: out of memory", r->label);
            int rc;
            uint64_t zlen = 0;
            int flags = 0;
            if (read_full(r->f, h, size) != size)
                rc = eddy_fail(e, "%s: record %ld: truncated header", r->label, r->index);
            else
                rc = parse_record_header(r, h, size, rec, &zlen, &flags, e);
            free(h);
            if (rc == 0) {
                if (!want(rec, ctx)) {
                    if (skip_bytes(r, zlen))
                        rc = eddy_fail(e, "%s: record %ld '%s': truncated payload", r->label, r->index, rec->name);
                } else {
                    rc = read_payload(r, rec, zlen, flags, e);
                }
            }
            if (rc) {
                tsr_record_free(rec);
                return -1;
            }
            r->index++;
            r->stream_index++;
            return 1;
        }
        if (magic == MAGIC_END) {
            unsigned char b[END_CONTENT];
            if (size != END_CONTENT || read_full(r->f, b, END_CONTENT) != END_CONTENT)
                return eddy_fail(e, "%s: record %ld: truncated or malformed end-of-stream record", r->label, r->index);
            if (crc32c(0, b, 8) != get32(b + 8))
                return eddy_fail(e, "%s: record %ld: end-of-stream record CRC mismatch", r->label, r->index);
            if (get64(b) != (uint64_t)r->stream_index)
                return eddy_fail(e, "%s: record %ld: end-of-stream record counts %llu records, read %ld", r->label, r->index,
                                 (unsigned long long)get64(b), r->stream_index);
            // Another stream may follow (cat a.tsr b.tsr), after reserved
            // skippable frames if any; anything else is an error.
            for (;;) {
                got = read_full(r->f, m, 4);
                if (got == 0) {
                    r->ended = 1;
                    return 0;
                }
                uint32_t mg = got == 4 ? get32(m) : 0;
                if (mg == MAGIC_STREAM) {
                    if (read_stream_header(r, e)) return -1;
                    break;
                }
                if (mg > MAGIC_END && mg <= MAGIC_SKIP_HI) {
                    if (read_full(r->f, m + 4, 4) != 4 || skip_bytes(r, get32(m + 4)))
                        return eddy_fail(e, "%s: record %ld: truncated skippable frame", r->label, r->index);
                    continue;
                }
                return eddy_fail(e, "%s: record %ld: unexpected data after the end-of-stream record", r->label, r->index);
            }
            continue;
        }
        if (magic == MAGIC_STREAM)
            return eddy_fail(e, "%s: record %ld: stream header in the middle of a stream", r->label, r->index);
        if (magic >= MAGIC_SKIP_LO && magic <= MAGIC_SKIP_HI) {
            if (skip_bytes(r, size)) return eddy_fail(e, "%s: record %ld: truncated skippable frame", r->label, r->index);
            continue;
        }
        return eddy_fail(e, "%s: record %ld: bad frame magic 0x%08x", r->label, r->index, magic);
    }
}

int tsr_read(tsr_reader *r, tsr_record *rec, eddy_err *e) { return read_next(r, rec, want_all, NULL, e); }
int tsr_read_header_only(tsr_reader *r, tsr_record *rec, eddy_err *e)
{
    return read_next(r, rec, want_none, NULL, e);
}

int tsr_read_if(tsr_reader *r, tsr_record *rec, int (*want)(const tsr_record *header, void *ctx), void *ctx,
                eddy_err *e)
{
    return read_next(r, rec, want, ctx, e);
}

// ---------------------------------------------------------------- writer

struct tsr_writer {
    FILE *f;
    tsr_write_opts opts;
    long count;
    ZSTD_CCtx *cctx;
    unsigned char *zbuf, *sbuf;
    size_t zcap, scap;
    char *path, *tmp;    // atomic mode: rename tmp to path on finish
    int own;             // f opened here in place (a device or FIFO): closed on finish
};

static int write_full(tsr_writer *w, const void *p, size_t n, eddy_err *e)
{
    if (fwrite(p, 1, n, w->f) != n) return eddy_fail(e, "write failed: %s", strerror(errno));
    return 0;
}

static void pending_remove(const char *tmp);

static void free_writer(tsr_writer *w)
{
    if (w->tmp) pending_remove(w->tmp);
    ZSTD_freeCCtx(w->cctx);
    free(w->zbuf);
    free(w->sbuf);
    free(w->path);
    free(w->tmp);
    free(w);
}

static tsr_writer *new_writer(FILE *f, const tsr_write_opts *opts, eddy_err *e)
{
    tsr_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->cctx = ZSTD_createCCtx())) {
        free(w);
        eddy_fail(e, "out of memory");
        return NULL;
    }
    w->f = f;
    w->opts = opts ? *opts : (tsr_write_opts){.level = 1, .shuffle = 1};
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->opts.level);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
    if (w->opts.level > 19) ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, TSR_WINDOW_LOG_MAX);
    unsigned char h[8 + STREAM_CONTENT];
    put32(h, MAGIC_STREAM);
    put32(h + 4, STREAM_CONTENT);
    memcpy(h + 8, SIGNATURE, 8);
    put16(h + 16, TSR_MAJOR);
    put16(h + 18, TSR_MINOR);
    put32(h + 20, 0);
    put32(h + 24, crc32c(0, h + 8, STREAM_CONTENT - 4));
    if (write_full(w, h, sizeof h, e)) {
        free_writer(w);
        return NULL;
    }
    return w;
}

tsr_writer *tsr_writer_open(FILE *f, const tsr_write_opts *opts, eddy_err *e) { return new_writer(f, opts, e); }

// Temporary files of atomic writers still open.  A tool that dies (exit, or
// TERM/INT/HUP) between open and finish would otherwise leave
// "out.tsr.tmp.XXXXXX" behind.  The registry is a fixed array of atomic
// pointers so that the signal handler can walk it (async-signal-safe: no
// lock, no allocation; unlink and raise are safe).
#define MAX_PENDING 64
static char *_Atomic pending[MAX_PENDING];

static void unlink_pending(void)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        char *t = atomic_load(&pending[i]);
        if (t) unlink(t);
    }
}

static const int cleanup_signals[] = {SIGTERM, SIGINT, SIGHUP};

static void on_signal(int sig)
{
    int saved = errno;
    unlink_pending();
    // Die by the signal itself (status 128+n to the shell): the default
    // action, re-raised; it is delivered when the handler returns.
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

static void install_cleanup(void)
{
    atexit(unlink_pending);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++) {
        struct sigaction old, sa;
        // A signal the caller ignores (nohup) stays ignored.
        if (sigaction(cleanup_signals[i], NULL, &old) || old.sa_handler != SIG_DFL) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t j = 0; j < sizeof cleanup_signals / sizeof *cleanup_signals; j++)
            sigaddset(&sa.sa_mask, cleanup_signals[j]);
        sigaction(cleanup_signals[i], &sa, NULL);
    }
}

void tsr_temp_track(char *tmp)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_cleanup);
    for (int i = 0; i < MAX_PENDING; i++) {
        char *expect = NULL;
        if (atomic_compare_exchange_strong(&pending[i], &expect, tmp)) return;
    }
    // More than MAX_PENDING writers at once: only this file's clean-up is lost.
}

void tsr_temp_untrack(const char *tmp)
{
    for (int i = 0; i < MAX_PENDING; i++) {
        char *expect = (char *)tmp;
        if (atomic_compare_exchange_strong(&pending[i], &expect, NULL)) return;
    }
}

static void pending_remove(const char *tmp) { tsr_temp_untrack(tmp); }

tsr_writer *tsr_writer_open_path(const char *path, const tsr_write_opts *opts, eddy_err *e)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        eddy_fail(e, "%s: is a directory", path);
        return NULL;
    }
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        // A device node or FIFO is written in place: a rename would replace
        // the node by a regular file (and leave a FIFO's reader waiting).
        FILE *f = fopen(path, "wb");
        if (!f) {
            eddy_fail(e, "%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
        tsr_writer *w = new_writer(f, opts, e);
        if (!w) {
            fclose(f);
            return NULL;
        }
        w->own = 1;
        return w;
    }
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
        eddy_fail(e, "out of memory");
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        // mkstemp makes the file 0600; the renamed result should look like
        // any file the user creates.
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
        tsr_temp_track(tmp);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        eddy_fail(e, "%s: cannot create: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
            tsr_temp_untrack(tmp);
        }
        free(tmp);
        return NULL;
    }
    tsr_writer *w = new_writer(f, opts, e);
    if (!w) {
        fclose(f);
        unlink(tmp);
        tsr_temp_untrack(tmp);
        free(tmp);
        return NULL;
    }
    w->tmp = tmp;
    w->path = strdup(path);
    return w;
}

long tsr_writer_count(const tsr_writer *w) { return w->count; }

int tsr_write(tsr_writer *w, const tsr_record *rec, eddy_err *e)
{
    if ((unsigned)rec->dtype >= TSR_NDTYPE) return eddy_fail(e, "record '%s': unknown dtype", rec->name);
    if (rec->rank < 0 || rec->rank > TSR_MAX_RANK) return eddy_fail(e, "record '%s': bad rank", rec->name);
    for (int i = 0; i < rec->rank; i++)
        if (rec->shape[i] > TSR_MAX_AXIS) return eddy_fail(e, "record '%s': axis %d is too long", rec->name, i);
    uint64_t n = tsr_numel(rec) * tsr_dtype_size(rec->dtype);
    if (n != rec->nbytes || (n && !rec->data))
        return eddy_fail(e, "record '%s': data size disagrees with shape x dtype", rec->name);
    size_t nlen = strlen(rec->name), alen = attrs_encoded_size(rec);
    if (!tsr_utf8_valid(rec->name, nlen)) return eddy_fail(e, "record %ld: name is not UTF-8", w->count);
    for (int i = 0; i < rec->nattrs; i++)
        if (!tsr_utf8_valid(rec->attrs[i].key, strlen(rec->attrs[i].key)))
            return eddy_fail(e, "record '%s': attribute key is not UTF-8", rec->name);
    size_t hsize = RECORD_FIXED + 8 * (size_t)rec->rank + nlen + alen;
    if (hsize > TSR_MAX_HEADER)
        return eddy_fail(e, "record '%s': header of %zu bytes exceeds %u (attributes too long)", rec->name,
                         hsize, TSR_MAX_HEADER);

    int shuf = w->opts.shuffle && tsr_dtype_is_float(rec->dtype) && rec->nbytes > 0;
    const void *src = rec->data ? rec->data : "";
    if (shuf) {
        if (grow(&w->sbuf, &w->scap, rec->nbytes)) return eddy_fail(e, "out of memory");
        shuffle(w->sbuf, rec->data, rec->nbytes, shuffle_unit(rec->dtype));
        src = w->sbuf;
    }
    size_t bound = ZSTD_compressBound(rec->nbytes);
    if (grow(&w->zbuf, &w->zcap, bound)) return eddy_fail(e, "out of memory");
    size_t zlen = ZSTD_compress2(w->cctx, w->zbuf, bound, src, rec->nbytes);
    if (ZSTD_isError(zlen)) return eddy_fail(e, "record '%s': zstd: %s", rec->name, ZSTD_getErrorName(zlen));

    unsigned char *h = malloc(8 + hsize);
    if (!h) return eddy_fail(e, "out of memory");
    unsigned char *c = h + 8;
    put32(h, MAGIC_RECORD);
    put32(h + 4, (uint32_t)hsize);
    put32(c, (uint32_t)w->count);
    c[4] = shuf ? FLAG_SHUFFLE : 0;
    c[5] = (unsigned char)rec->rank;
    put16(c + 6, (uint16_t)nlen);
    put32(c + 8, (uint32_t)alen);
    memset(c + 12, 0, 4);
    memcpy(c + 12, tsr_dtype_descr(rec->dtype), strlen(tsr_dtype_descr(rec->dtype)));
    put64(c + 16, rec->nbytes);
    put64(c + 24, zlen);
    unsigned char *p = c + 32;
    for (int i = 0; i < rec->rank; i++, p += 8) put64(p, rec->shape[i]);
    memcpy(p, rec->name, nlen);
    p = attrs_encode(p + nlen, rec);
    put32(p, crc32c(0, c, hsize - 4));
    int rc = write_full(w, h, 8 + hsize, e);
    free(h);
    if (rc == 0) rc = write_full(w, w->zbuf, zlen, e);
    if (rc) return eddy_wrap(e, "record %ld '%s'", w->count, rec->name);
    w->count++;
    return 0;
}

int tsr_writer_finish(tsr_writer *w, eddy_err *e)
{
    unsigned char b[8 + END_CONTENT];
    put32(b, MAGIC_END);
    put32(b + 4, END_CONTENT);
    put64(b + 8, (uint64_t)w->count);
    put32(b + 16, crc32c(0, b + 8, 8));
    int rc = write_full(w, b, sizeof b, e);
    if (rc == 0 && fflush(w->f)) rc = eddy_fail(e, "write failed: %s", strerror(errno));
    if (w->tmp) {
        if (rc == 0 && fsync(fileno(w->f))) rc = eddy_fail(e, "%s: fsync: %s", w->tmp, strerror(errno));
        if (fclose(w->f) && rc == 0) rc = eddy_fail(e, "%s: close: %s", w->tmp, strerror(errno));
        if (rc == 0 && rename(w->tmp, w->path))
            rc = eddy_fail(e, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
        if (rc) unlink(w->tmp);
    } else if (w->own && fclose(w->f) && rc == 0) {
        rc = eddy_fail(e, "close: %s", strerror(errno));
    }
    free_writer(w);
    return rc;
}

void tsr_writer_abort(tsr_writer *w)
{
    if (!w) return;
    if (w->tmp) {
        fclose(w->f);
        unlink(w->tmp);
    } else if (w->own) {
        fclose(w->f);
    } else {
        fflush(w->f);
    }
    free_writer(w);
}
