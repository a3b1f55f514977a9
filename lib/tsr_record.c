// Records of the tensor stream in memory: dtypes, shapes, data and attributes.
// The byte layout on the wire lives in tsr.c.
#include "tsr.h"

#include <complex.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    size_t size;
} dtypes[TSR_NDTYPE] = {
    [TSR_I1] = {"|i1", 1}, [TSR_U1] = {"|u1", 1}, [TSR_I2] = {"<i2", 2}, [TSR_U2] = {"<u2", 2},
    [TSR_I4] = {"<i4", 4}, [TSR_U4] = {"<u4", 4}, [TSR_I8] = {"<i8", 8}, [TSR_U8] = {"<u8", 8},
    [TSR_F4] = {"<f4", 4}, [TSR_F8] = {"<f8", 8}, [TSR_C8] = {"<c8", 8}, [TSR_C16] = {"<c16", 16},
};

const char *tsr_dtype_descr(tsr_dtype t) { return (unsigned)t < TSR_NDTYPE ? dtypes[t].descr : "?"; }
size_t tsr_dtype_size(tsr_dtype t) { return (unsigned)t < TSR_NDTYPE ? dtypes[t].size : 0; }
int tsr_dtype_is_float(tsr_dtype t) { return t == TSR_F4 || t == TSR_F8 || t == TSR_C8 || t == TSR_C16; }

int tsr_dtype_parse(const char *descr, tsr_dtype *t)
{
    for (int i = 0; i < TSR_NDTYPE; i++) {
        if (strcmp(descr, dtypes[i].descr) == 0) {
            *t = (tsr_dtype)i;
            return 0;
        }
    }
    return -1;
}

void tsr_record_init(tsr_record *r)
{
    memset(r, 0, sizeof *r);
    r->dtype = TSR_F4;
}

void tsr_record_free(tsr_record *r)
{
    for (int i = 0; i < r->nattrs; i++) {
        free(r->attrs[i].key);
        free(r->attrs[i].value);
    }
    free(r->attrs);
    free(r->data);
    tsr_record_init(r);
}

uint64_t tsr_numel(const tsr_record *r)
{
    uint64_t n = 1;
    for (int i = 0; i < r->rank; i++) n *= r->shape[i];
    return n;
}

int tsr_record_alloc(tsr_record *r, const char *name, tsr_dtype t, int rank,
                     const uint64_t *shape, eddy_err *e)
{
    if ((unsigned)t >= TSR_NDTYPE) return eddy_fail(e, "unknown dtype %d", (int)t);
    if (rank < 0 || rank > TSR_MAX_RANK) return eddy_fail(e, "rank %d is outside 0..%d", rank, TSR_MAX_RANK);
    if (strlen(name) > TSR_MAX_NAME) return eddy_fail(e, "record name longer than %d bytes", TSR_MAX_NAME);
    uint64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (__builtin_mul_overflow(n, shape[i], &n)) return eddy_fail(e, "shape product overflows");
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)dtypes[t].size, &bytes) || bytes > SIZE_MAX)
        return eddy_fail(e, "record of %llu elements is too large", (unsigned long long)n);
    void *data = calloc(bytes ? bytes : 1, 1);
    if (!data) return eddy_fail(e, "cannot allocate %llu bytes", (unsigned long long)bytes);
    free(r->data);
    r->data = data;
    r->nbytes = bytes;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->dtype = t;
    r->rank = rank;
    memset(r->shape, 0, sizeof r->shape);
    for (int i = 0; i < rank; i++) r->shape[i] = shape[i];
    return 0;
}

// ---------------------------------------------------------------- attributes

static int find_attr(const tsr_record *r, const char *key)
{
    for (int i = 0; i < r->nattrs; i++)
        if (strcmp(r->attrs[i].key, key) == 0) return i;
    return -1;
}

const char *tsr_attr_get(const tsr_record *r, const char *key)
{
    int i = find_attr(r, key);
    return i < 0 ? NULL : r->attrs[i].value;
}

// Keys are restricted so that "key=value" lines parse without escaping keys.
static int valid_key(const char *key)
{
    if (!*key) return 0;
    for (const char *p = key; *p; p++)
        if (*p == '=' || *p == '\n' || *p == '\\' || (unsigned char)*p < 0x20) return 0;
    return 1;
}

int tsr_attr_set(tsr_record *r, const char *key, const char *value)
{
    if (!valid_key(key)) return -1;
    char *v = strdup(value);
    if (!v) return -1;
    int i = find_attr(r, key);
    if (i >= 0) {
        free(r->attrs[i].value);
        r->attrs[i].value = v;
        return 0;
    }
    if (r->nattrs == r->cap_attrs) {
        int cap = r->cap_attrs ? 2 * r->cap_attrs : 8;
        tsr_attr *a = realloc(r->attrs, (size_t)cap * sizeof *a);
        if (!a) {
            free(v);
            return -1;
        }
        r->attrs = a;
        r->cap_attrs = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return -1;
    }
    r->attrs[r->nattrs].key = k;
    r->attrs[r->nattrs].value = v;
    r->nattrs++;
    return 0;
}

int tsr_attr_setf(tsr_record *r, const char *key, const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int rc = tsr_attr_set(r, key, s);
    free(s);
    return rc;
}

int tsr_attr_set_double(tsr_record *r, const char *key, double v)
{
    return tsr_attr_setf(r, key, "%.17g", v);
}

int tsr_attr_del(tsr_record *r, const char *key)
{
    int i = find_attr(r, key);
    if (i < 0) return 1;
    free(r->attrs[i].key);
    free(r->attrs[i].value);
    memmove(r->attrs + i, r->attrs + i + 1, (size_t)(r->nattrs - i - 1) * sizeof *r->attrs);
    r->nattrs--;
    return 0;
}

// An attribute as a number (integer: base-10 long, else double): 1 when absent.
static int attr_number(const tsr_record *r, const char *key, int integer, double *d, long *l, eddy_err *e)
{
    const char *s = tsr_attr_get(r, key);
    if (!s) return 1;
    char *end;
    errno = 0;
    double dv = 0;
    long lv = 0;
    if (integer) lv = strtol(s, &end, 10);
    else dv = strtod(s, &end);
    if (end == s || *end || errno == ERANGE)
        return eddy_fail(e, "record '%s': attribute %s=%s is not %s", r->name, key, s, integer ? "an integer" : "a number");
    if (integer) *l = lv;
    else *d = dv;
    return 0;
}

int tsr_attr_double(const tsr_record *r, const char *key, double *out, eddy_err *e)
{
    return attr_number(r, key, 0, out, NULL, e);
}

int tsr_attr_long(const tsr_record *r, const char *key, long *out, eddy_err *e)
{
    return attr_number(r, key, 1, NULL, out, e);
}

int tsr_attrs_copy(tsr_record *dst, const tsr_record *src)
{
    for (int i = 0; i < src->nattrs; i++)
        if (tsr_attr_set(dst, src->attrs[i].key, src->attrs[i].value)) return -1;
    return 0;
}

int tsr_history_append(tsr_record *r, const char *line)
{
    const char *old = tsr_attr_get(r, "history");
    if (!old || !*old) return tsr_attr_set(r, "history", line);
    return tsr_attr_setf(r, "history", "%s\n%s", old, line);
}

int tsr_record_clone(tsr_record *dst, const tsr_record *src, eddy_err *e)
{
    tsr_record_free(dst);
    if (tsr_record_alloc(dst, src->name, src->dtype, src->rank, src->shape, e)) return -1;
    memcpy(dst->data, src->data, src->nbytes);
    if (tsr_attrs_copy(dst, src)) {
        tsr_record_free(dst);
        return eddy_fail(e, "out of memory copying attributes");
    }
    return 0;
}

// ---------------------------------------------------------------- conversion

static double get_real(const void *p, tsr_dtype t, size_t i)
{
    switch (t) {
    case TSR_I1: return ((const int8_t *)p)[i];
    case TSR_U1: return ((const uint8_t *)p)[i];
    case TSR_I2: return ((const int16_t *)p)[i];
    case TSR_U2: return ((const uint16_t *)p)[i];
    case TSR_I4: return ((const int32_t *)p)[i];
    case TSR_U4: return ((const uint32_t *)p)[i];
    case TSR_I8: return (double)((const int64_t *)p)[i];
    case TSR_U8: return (double)((const uint64_t *)p)[i];
    case TSR_F4: return ((const float *)p)[i];
    case TSR_F8: return ((const double *)p)[i];
    default: return 0;
    }
}

static void put_real(void *p, tsr_dtype t, size_t i, double v)
{
    switch (t) {
    case TSR_I1: ((int8_t *)p)[i] = (int8_t)v; break;
    case TSR_U1: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case TSR_I2: ((int16_t *)p)[i] = (int16_t)v; break;
    case TSR_U2: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case TSR_I4: ((int32_t *)p)[i] = (int32_t)v; break;
    case TSR_U4: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case TSR_I8: ((int64_t *)p)[i] = (int64_t)v; break;
    case TSR_U8: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case TSR_F4: ((float *)p)[i] = (float)v; break;
    case TSR_F8: ((double *)p)[i] = v; break;
    default: break;
    }
}

static int is_complex(tsr_dtype t) { return t == TSR_C8 || t == TSR_C16; }

int tsr_record_convert(tsr_record *r, tsr_dtype to, eddy_err *e)
{
    if (r->dtype == to) return 0;
    if ((unsigned)to >= TSR_NDTYPE) return eddy_fail(e, "unknown dtype %d", (int)to);
    if (is_complex(r->dtype) != is_complex(to))
        return eddy_fail(e, "record '%s': cannot convert %s to %s", r->name,
                         tsr_dtype_descr(r->dtype), tsr_dtype_descr(to));
    size_t n = (size_t)tsr_numel(r), bytes = n * dtypes[to].size;
    void *out = malloc(bytes ? bytes : 1);
    if (!out) return eddy_fail(e, "cannot allocate %zu bytes", bytes);
    if (is_complex(to)) {
        for (size_t i = 0; i < n; i++) {
            double complex z = r->dtype == TSR_C8 ? ((const float complex *)r->data)[i]
                                                  : ((const double complex *)r->data)[i];
            if (to == TSR_C8) ((float complex *)out)[i] = (float complex)z;
            else ((double complex *)out)[i] = z;
        }
    } else {
        for (size_t i = 0; i < n; i++) put_real(out, to, i, get_real(r->data, r->dtype, i));
    }
    free(r->data);
    r->data = out;
    r->nbytes = bytes;
    r->dtype = to;
    return 0;
}
