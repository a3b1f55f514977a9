// .npy reading and writing.  The header is a Python dict literal; we parse
// just the subset numpy writes (string keys, a descr string, True/False, a
// tuple of integers), bounded in length, and refuse anything else by name.
#include "npy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
enum { ALIGN = 64, GROWTH_DIGITS = 21 };

// ---------------------------------------------------------------- header dict

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int take(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

// A quoted string without escapes, into out (size n).
static int parse_string(cursor *c, char *out, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= n) return -1;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[k] = 0;
    return 0;
}

static int parse_uint(cursor *c, uint64_t *v)
{
    skip_ws(c);
    if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return -1;
    uint64_t x = 0;
    while (c->p < c->end && isdigit((unsigned char)*c->p)) {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, (uint64_t)(*c->p - '0'), &x)) return -1;
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++;   // Python 2 long literals
    *v = x;
    return 0;
}

static int parse_shape(cursor *c, int *rank, uint64_t *shape, const char *where, eddy_err *e)
{
    if (!take(c, '(')) return eddy_fail(e, "%s: header 'shape' is not a tuple", where);
    *rank = 0;
    if (take(c, ')')) return 0;
    for (;;) {
        uint64_t v;
        if (parse_uint(c, &v)) return eddy_fail(e, "%s: header 'shape' holds a bad dimension", where);
        if (*rank == TSR_MAX_RANK) return eddy_fail(e, "%s: rank above %d is not supported", where, TSR_MAX_RANK);
        shape[(*rank)++] = v;
        if (take(c, ')')) return 0;
        if (!take(c, ',')) return eddy_fail(e, "%s: header 'shape' is malformed", where);
        if (take(c, ')')) return 0;
    }
}

typedef struct {
    char descr[32];
    int fortran;
    int rank;
    uint64_t shape[TSR_MAX_RANK];
} npy_header;

static int parse_dict(const char *s, size_t n, npy_header *h, const char *where, eddy_err *e)
{
    cursor c = {s, s + n};
    int seen = 0;   // bits: descr, fortran_order, shape
    if (!take(&c, '{')) return eddy_fail(e, "%s: header is not a dict", where);
    while (!take(&c, '}')) {
        char key[32];
        if (parse_string(&c, key, sizeof key) || !take(&c, ':'))
            return eddy_fail(e, "%s: malformed header dict", where);
        skip_ws(&c);
        if (strcmp(key, "descr") == 0) {
            if (c.p < c.end && (*c.p == '[' || *c.p == '('))
                return eddy_fail(e, "%s: structured dtypes are not supported", where);
            if (parse_string(&c, h->descr, sizeof h->descr))
                return eddy_fail(e, "%s: header 'descr' is not a dtype string", where);
            seen |= 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(c.end - c.p) >= 4 && memcmp(c.p, "True", 4) == 0) h->fortran = 1, c.p += 4;
            else if ((size_t)(c.end - c.p) >= 5 && memcmp(c.p, "False", 5) == 0) h->fortran = 0, c.p += 5;
            else return eddy_fail(e, "%s: header 'fortran_order' is not True or False", where);
            seen |= 2;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(&c, &h->rank, h->shape, where, e)) return -1;
            seen |= 4;
        } else {
            return eddy_fail(e, "%s: unexpected header key '%s'", where, key);
        }
        if (take(&c, '}')) break;
        if (!take(&c, ',')) return eddy_fail(e, "%s: malformed header dict", where);
    }
    skip_ws(&c);
    if (c.p != c.end) return eddy_fail(e, "%s: trailing bytes after the header dict", where);
    if (seen != 7) return eddy_fail(e, "%s: header lacks descr, fortran_order or shape", where);
    return 0;
}

// Maps a numpy descr to ours; *swap is set for big-endian data.
static int map_descr(const char *d, tsr_dtype *t, int *swap, const char *where, eddy_err *e)
{
    char order = d[0];
    if (!strchr("<>|=", order) || !d[1])
        return eddy_fail(e, "%s: unsupported dtype '%s'", where, d);
    char kind = d[1];
    char *end;
    long size = strtol(d + 2, &end, 10);
    char norm[16];
    if (*end || size <= 0 || size > 16) return eddy_fail(e, "%s: unsupported dtype '%s'", where, d);
    snprintf(norm, sizeof norm, "%c%c%ld", size == 1 ? '|' : '<', kind, size);
    if (tsr_dtype_parse(norm, t))
        return eddy_fail(e, "%s: unsupported dtype '%s' (supported: i1 u1 i2 u2 i4 u4 i8 u8 f4 f8 c8 c16)",
                         where, d);
    *swap = order == '>' && size > 1;
    return 0;
}

// ---------------------------------------------------------------- reading

// Reads n bytes into a buffer that grows only as bytes arrive, so a header
// claiming a huge array on a short input fails without allocating the claim.
static int read_growing(FILE *f, size_t n, void **out, const char *where, eddy_err *e)
{
    unsigned char *buf = malloc(1);   // an empty array still owns a buffer
    size_t have = 0, cap = 1;
    if (!buf) return eddy_fail(e, "%s: out of memory", where);
    while (have < n) {
        size_t step = have > (1u << 20) ? have : (1u << 20);
        size_t want = n - have > step ? have + step : n;
        if (want > cap) {
            unsigned char *b = realloc(buf, want);
            if (!b) {
                free(buf);
                return eddy_fail(e, "%s: cannot allocate %zu bytes", where, want);
            }
            buf = b;
            cap = want;
        }
        have += fread(buf + have, 1, want - have, f);
        if (have < want) {
            free(buf);
            return eddy_fail(e, "%s: truncated data (%zu of %zu bytes)", where, have, n);
        }
    }
    *out = buf;
    return 0;
}

static void byteswap(unsigned char *p, size_t nbytes, size_t unit)
{
    for (size_t i = 0; i + unit <= nbytes; i += unit)
        for (size_t a = 0, b = unit - 1; a < b; a++, b--) {
            unsigned char t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

// Fortran order to C order: element (i0..ir-1) sits at sum_k i_k * prod_{j<k} s_j.
static void fortran_to_c(unsigned char *dst, const unsigned char *src, int rank, const uint64_t *shape,
                         size_t item)
{
    uint64_t fstride[TSR_MAX_RANK], idx[TSR_MAX_RANK] = {0}, n = 1;
    for (int k = 0; k < rank; k++) fstride[k] = n, n *= shape[k];
    uint64_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        memcpy(dst + i * item, src + off * item, item);
        for (int k = rank - 1; k >= 0; k--) {   // C-order odometer
            idx[k]++;
            off += fstride[k];
            if (idx[k] < shape[k]) break;
            off -= idx[k] * fstride[k];
            idx[k] = 0;
        }
    }
}

int npy_read(FILE *f, const char *label, tsr_record *rec, eddy_err *e)
{
    char where[300];
    snprintf(where, sizeof where, "%s", label);
    unsigned char pre[12];
    size_t got = fread(pre, 1, 8, f);
    if (got == 0) return 0;
    if (got < 8 || memcmp(pre, MAGIC, 6) != 0) {
        if (got >= 4 && pre[0] == 0x50 && pre[1] == 0x2A && pre[2] == 0x4D && pre[3] == 0x18)
            return eddy_fail(e, "%s: not a .npy file: this is a tensor stream (use tsr2npy)", where);
        return eddy_fail(e, "%s: not a .npy file (bad magic)", where);
    }
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) return eddy_fail(e, "%s: truncated .npy header", where);
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 8, 1, 4, f) != 4) return eddy_fail(e, "%s: truncated .npy header", where);
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        return eddy_fail(e, "%s: unsupported .npy format version %d.%d", where, major, pre[7]);
    }
    if (hlen > NPY_MAX_HEADER) return eddy_fail(e, "%s: .npy header of %zu bytes is too long", where, hlen);
    char *hs = malloc(hlen + 1);
    if (!hs) return eddy_fail(e, "%s: out of memory", where);
    if (fread(hs, 1, hlen, f) != hlen) {
        free(hs);
        return eddy_fail(e, "%s: truncated .npy header", where);
    }
    npy_header h = {{0}, 0, 0, {0}};
    int rc = parse_dict(hs, hlen, &h, where, e);
    free(hs);
    if (rc) return -1;
    tsr_dtype t;
    int swap = 0;
    if (map_descr(h.descr, &t, &swap, where, e)) return -1;
    uint64_t n = 1, bytes;
    for (int k = 0; k < h.rank; k++)
        if (__builtin_mul_overflow(n, h.shape[k], &n)) return eddy_fail(e, "%s: shape product overflows", where);
    if (__builtin_mul_overflow(n, (uint64_t)tsr_dtype_size(t), &bytes) || bytes > SIZE_MAX)
        return eddy_fail(e, "%s: shape product overflows", where);
    void *data = NULL;
    if (read_growing(f, (size_t)bytes, &data, where, e)) return -1;
    size_t item = tsr_dtype_size(t);
    if (swap) byteswap(data, (size_t)bytes, (t == TSR_C8 || t == TSR_C16) ? item / 2 : item);
    if (h.fortran && h.rank > 1) {
        void *c = malloc(bytes ? bytes : 1);
        if (!c) {
            free(data);
            return eddy_fail(e, "%s: out of memory", where);
        }
        fortran_to_c(c, data, h.rank, h.shape, item);
        free(data);
        data = c;
    }
    free(rec->data);
    rec->data = data;
    rec->nbytes = (size_t)bytes;
    rec->dtype = t;
    rec->rank = h.rank;
    memset(rec->shape, 0, sizeof rec->shape);
    memcpy(rec->shape, h.shape, sizeof h.shape);
    return 1;
}

// ---------------------------------------------------------------- writing

int npy_write_header(FILE *f, tsr_dtype t, int rank, const uint64_t *shape, eddy_err *e)
{
    // The dict exactly as numpy.lib.format._write_array_header spells it.
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", tsr_dtype_descr(t));
    for (int i = 0; i < rank; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", rank == 1 ? "," : "");
    if (rank > 0) {
        char d0[24];
        int g = GROWTH_DIGITS - snprintf(d0, sizeof d0, "%llu", (unsigned long long)shape[0]);
        for (int i = 0; i < g; i++) dict[k++] = ' ';
    }
    size_t hlen = (size_t)k + 1;   // with the final newline
    int v2 = 0;
    size_t pad = ALIGN - (10 + hlen) % ALIGN;
    if (hlen + pad > 65535) {
        v2 = 1;
        pad = ALIGN - (12 + hlen) % ALIGN;
    }
    unsigned char pre[12];
    memcpy(pre, MAGIC, 6);
    pre[6] = v2 ? 2 : 1;
    pre[7] = 0;
    size_t total = hlen + pad, np = v2 ? 12 : 10;
    for (size_t i = 0; i < (v2 ? 4u : 2u); i++) pre[8 + i] = (unsigned char)(total >> 8 * i);
    char spaces[ALIGN];
    memset(spaces, ' ', sizeof spaces);
    if (fwrite(pre, 1, np, f) != np || fwrite(dict, 1, (size_t)k, f) != (size_t)k ||
        fwrite(spaces, 1, pad, f) != pad || fputc('\n', f) == EOF)
        return eddy_fail(e, "write failed");
    return 0;
}

int npy_write(FILE *f, const tsr_record *rec, eddy_err *e)
{
    if (npy_write_header(f, rec->dtype, rec->rank, rec->shape, e)) return -1;
    if (rec->nbytes && fwrite(rec->data, 1, rec->nbytes, f) != rec->nbytes) return eddy_fail(e, "write failed");
    return 0;
}
