// Tensor stream records ↔ NetCDF-4; see netcdf_io.h for the mapping.
#include "netcdf_io.h"

#include <errno.h>
#include <netcdf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// On a NetCDF error: the message, then libnetcdf's reason; jumps to fail.
#define NC_TRY(call, ...)                                                                          \
    do {                                                                                           \
        int st_ = (call);                                                                          \
        if (st_ != NC_NOERR) {                                                                     \
            eddy_fail(e, __VA_ARGS__);                                                             \
            nc_reason(e, st_);                                                                     \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

static void nc_reason(eddy_err *e, int st)
{
    size_t l = strlen(e->msg);
    snprintf(e->msg + l, sizeof e->msg - l, ": %s", nc_strerror(st));
}

static nc_type nc_of(tsr_dtype t)
{
    static const nc_type map[] = { NC_BYTE, NC_UBYTE, NC_SHORT, NC_USHORT, NC_INT, NC_UINT,
                                   NC_INT64, NC_UINT64, NC_FLOAT, NC_DOUBLE };
    return t < TSR_C8 ? map[t] : NC_NAT;
}

static int same_shape(const tsr_record *a, const tsr_record *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++) if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void shape_str(const tsr_record *r, char *buf, size_t n)
{
    int k = snprintf(buf, n, "(");
    for (int i = 0; i < r->rank && k < (int)n; i++) k += snprintf(buf + k, n - k, i ? ", %llu" : "%llu", (unsigned long long)r->shape[i]);
    if (k < (int)n) snprintf(buf + k, n - k, ") %s", tsr_dtype_descr(r->dtype));
}

static int same_attrs(const tsr_record *a, const tsr_record *b)
{
    if (a->nattrs != b->nattrs) return 0;
    for (int i = 0; i < a->nattrs; i++)
        if (strcmp(a->attrs[i].key, b->attrs[i].key) || strcmp(a->attrs[i].value, b->attrs[i].value)) return 0;
    return 1;
}

// The attribute text of a record as on the wire (formats/tsr.md §7).
static char *attr_text(const tsr_record *r)
{
    size_t n = 1;
    for (int i = 0; i < r->nattrs; i++) n += strlen(r->attrs[i].key) + 2 * strlen(r->attrs[i].value) + 2;
    char *s = malloc(n), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < r->nattrs; i++) {
        p += sprintf(p, "%s=", r->attrs[i].key);
        for (const char *v = r->attrs[i].value; *v; v++) {
            if (*v == '\\') *p++ = '\\', *p++ = '\\';
            else if (*v == '\n') *p++ = '\\', *p++ = 'n';
            else *p++ = *v;
        }
        *p++ = '\n';
    }
    *p = 0;
    return s;
}

static int attr_text_parse(tsr_record *r, const char *s, const char *var, eddy_err *e)
{
    while (*s) {
        const char *nl = strchr(s, '\n'), *eq = strchr(s, '=');
        if (!nl || !eq || eq > nl || eq == s) return eddy_fail(e, "variable '%s': malformed %s__tsr_attrs entry", var, var);
        char *key = strndup(s, (size_t)(eq - s)), *val = malloc((size_t)(nl - eq)), *q = val;
        if (!key || !val) { free(key); free(val); return eddy_fail(e, "out of memory"); }
        for (const char *p = eq + 1; p < nl; p++) {
            if (*p == '\\' && p + 1 < nl && (p[1] == 'n' || p[1] == '\\')) *q++ = p[1] == 'n' ? '\n' : '\\', p++;
            else *q++ = *p;
        }
        *q = 0;
        int bad = tsr_attr_set(r, key, val);
        free(key);
        free(val);
        if (bad) return eddy_fail(e, "variable '%s': invalid attribute in %s__tsr_attrs", var, var);
        s = nl + 1;
    }
    return 0;
}

typedef struct { char name[NC_MAX_NAME + 1]; size_t len; int id; char var[NC_MAX_NAME + 1]; } dimdef;

// CF long_name of the fields the tools write (their `field` attribute: ns-gen,
// closure-cond), added when a record has none and listed in the global
// attribute tsr_added so that nc2tsr leaves it out again.
static const char *known_long_name(const tsr_record *r)
{
    static const char *map[][2] = {
        { "omega", "vorticity" },
        { "G", "closure term G of the vorticity equation (README.md, ns-gen --closure)" },
        { "H", "closure term H of the vorticity equation (README.md, ns-gen --closure)" },
        { "coarse-term", "closure term computed from the coarse vorticity" },
        { "closure", "closure-score conditions: channels U (term), V (coarse vorticity), Y (observations)" },
    };
    const char *f = tsr_attr_get(r, "field");
    if (!f || tsr_attr_get(r, "long_name")) return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(f, map[i][0])) return map[i][1];
    return NULL;
}

int ncio_write(const char *path, const tsr_record *recs, size_t n, const char *history_line, eddy_err *e)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) return eddy_fail(e, "%s: path too long", path);
    // Group records by name, in order of first appearance.
    size_t *grp = malloc((n ? n : 1) * sizeof *grp), ng = 0, *first = malloc((n ? n : 1) * sizeof *first);
    size_t *count = calloc(n ? n : 1, sizeof *count);
    dimdef *dims = malloc((n * (TSR_MAX_RANK + 1) + 1) * sizeof *dims);
    char (*vname)[NC_MAX_NAME + 1] = malloc((n ? n : 1) * sizeof *vname);
    int ncid = -1, ndims = 0, complex_id[2] = { -1, -1 }, rc = -1, created = 0;
    size_t *rec_index = malloc((n ? n : 1) * sizeof *rec_index);
    int *varid = NULL, *attrvar = NULL;
    char *added = NULL;
    if (!grp || !first || !count || !dims || !vname || !rec_index) { eddy_fail(e, "out of memory"); goto fail; }
    for (size_t i = 0; i < n; i++) {
        char nm[NC_MAX_NAME + 1];
        snprintf(nm, sizeof nm, "%s", *recs[i].name ? recs[i].name : "record");
        size_t g = 0;
        while (g < ng && strcmp(vname[g], nm)) g++;
        if (g == ng) { snprintf(vname[ng], sizeof vname[ng], "%s", nm); first[ng] = i; ng++; }
        grp[i] = g;
        rec_index[i] = count[g]++;
        const tsr_record *r0 = &recs[first[g]];
        if (!same_shape(r0, &recs[i])) {
            char a[200], b[200];
            shape_str(&recs[i], a, sizeof a);
            shape_str(r0, b, sizeof b);
            eddy_fail(e, "variable '%s': record %zu is %s but record %zu is %s; records of different shapes "
                         "cannot share one variable (rename one, e.g. with tsr-cat)", nm, i, a, first[g], b);
            goto fail;
        }
        const char *d0 = tsr_attr_get(r0, "dims"), *d1 = tsr_attr_get(&recs[i], "dims");
        if ((d0 || d1) && (!d0 || !d1 || strcmp(d0, d1))) {
            eddy_fail(e, "variable '%s': record %zu has dims=%s but record %zu dims=%s", nm, i, d1 ? d1 : "(none)",
                      first[g], d0 ? d0 : "(none)");
            goto fail;
        }
    }
    int nmulti = 0;
    for (size_t g = 0; g < ng; g++) nmulti += count[g] > 1;
    NC_TRY(nc_create(tmp, NC_NETCDF4 | NC_CLOBBER, &ncid), "%s: cannot create", path);
    created = 1;
    varid = malloc((ng ? ng : 1) * sizeof *varid), attrvar = malloc((ng ? ng : 1) * sizeof *attrvar);
    if (!varid || !attrvar) { eddy_fail(e, "out of memory"); goto fail; }
    for (size_t g = 0; g < ng; g++) {
        const tsr_record *r = &recs[first[g]];
        const char *var = vname[g];
        int ids[TSR_MAX_RANK + 1], nd = 0;
        attrvar[g] = -1;
        char names[TSR_MAX_RANK + 1][NC_MAX_NAME + 1];
        size_t lens[TSR_MAX_RANK + 1];
        if (count[g] > 1) {
            if (nmulti == 1) snprintf(names[nd], sizeof names[nd], "record");
            else snprintf(names[nd], sizeof names[nd], "record_%s", var);
            lens[nd++] = NC_UNLIMITED;
        }
        const char *ds = tsr_attr_get(r, "dims");
        if (ds) {
            int k = 0;
            for (const char *p = ds;; k++) {
                size_t m = strcspn(p, ",");
                if (k >= r->rank) break;
                if (m == 0 || m > NC_MAX_NAME) { eddy_fail(e, "variable '%s': bad dims attribute '%s'", var, ds); goto fail; }
                snprintf(names[nd + k], sizeof names[0], "%.*s", (int)m, p);
                lens[nd + k] = r->shape[k];
                p += m;
                if (!*p) { k++; break; }
                p++;
            }
            int commas = 0;
            for (const char *p = ds; *p; p++) commas += *p == ',';
            if (commas + 1 != r->rank && !(r->rank == 0 && !*ds)) {
                eddy_fail(e, "variable '%s': dims=%s names %d axes but the record has rank %d", var, ds, commas + 1, r->rank);
                goto fail;
            }
        } else {
            for (int k = 0; k < r->rank; k++) {
                snprintf(names[nd + k], sizeof names[0], "%s_dim%d", var, k);
                lens[nd + k] = r->shape[k];
            }
        }
        nd += r->rank;
        for (int k = 0; k < nd; k++) {
            int j = 0;
            while (j < ndims && strcmp(dims[j].name, names[k])) j++;
            if (j < ndims) {
                if (dims[j].len != lens[k] || lens[k] == NC_UNLIMITED) {
                    eddy_fail(e, "variable '%s': dimension '%s' has length %zu but %zu in variable '%s' "
                                 "(a dimension-name clash: rename the axis in its dims attribute)", var, names[k],
                              lens[k], dims[j].len, dims[j].var);
                    goto fail;
                }
            } else {
                snprintf(dims[j].name, sizeof dims[j].name, "%s", names[k]);
                snprintf(dims[j].var, sizeof dims[j].var, "%s", var);
                dims[j].len = lens[k];
                NC_TRY(nc_def_dim(ncid, names[k], lens[k], &dims[j].id), "variable '%s': dimension '%s'", var, names[k]);
                ndims++;
            }
            for (int a = 0; a < k; a++)
                if (!strcmp(names[a], names[k])) { eddy_fail(e, "variable '%s': dimension '%s' named twice", var, names[k]); goto fail; }
            ids[k] = dims[j].id;
        }
        nc_type t = nc_of(r->dtype);
        if (r->dtype == TSR_C8 || r->dtype == TSR_C16) {
            int c = r->dtype == TSR_C16;
            if (complex_id[c] < 0) {
                size_t sz = c ? sizeof(double) : sizeof(float);
                NC_TRY(nc_def_compound(ncid, 2 * sz, c ? "complex128" : "complex64", &complex_id[c]), "complex type");
                NC_TRY(nc_insert_compound(ncid, complex_id[c], "r", 0, c ? NC_DOUBLE : NC_FLOAT), "complex type");
                NC_TRY(nc_insert_compound(ncid, complex_id[c], "i", sz, c ? NC_DOUBLE : NC_FLOAT), "complex type");
            }
            t = complex_id[c];
        }
        NC_TRY(nc_def_var(ncid, var, t, nd, ids, &varid[g]), "variable '%s'", var);
        int uniform = 1;
        for (size_t i = 0; i < n && uniform; i++) if (grp[i] == g && !same_attrs(r, &recs[i])) uniform = 0;
        for (int a = 0; a < r->nattrs; a++) {
            const tsr_attr *at = &r->attrs[a];
            int common = 1;
            for (size_t i = 0; i < n && common; i++) {
                if (grp[i] != g) continue;
                const char *v = tsr_attr_get(&recs[i], at->key);
                common = v && !strcmp(v, at->value);
            }
            if (!common) continue;
            NC_TRY(nc_put_att_text(ncid, varid[g], at->key, strlen(at->value), at->value), "variable '%s': attribute '%s'",
                   var, at->key);
        }
        const char *ln = known_long_name(r);
        if (ln) {
            NC_TRY(nc_put_att_text(ncid, varid[g], "long_name", strlen(ln), ln), "variable '%s': attribute long_name", var);
            size_t l = added ? strlen(added) : 0;
            char *na = realloc(added, l + strlen(var) + 12);
            if (!na) { eddy_fail(e, "out of memory"); goto fail; }
            added = na;
            sprintf(added + l, "%s%s:long_name", l ? "\n" : "", var);
        }
        if (!uniform) {
            char an[NC_MAX_NAME + 1];
            snprintf(an, sizeof an, "%s__tsr_attrs", var);
            NC_TRY(nc_def_var(ncid, an, NC_STRING, 1, ids, &attrvar[g]), "variable '%s'", an);
            const char *ln = "attributes of each record of the variable, as key=value lines (formats/tsr.md)";
            NC_TRY(nc_put_att_text(ncid, attrvar[g], "long_name", strlen(ln), ln), "variable '%s'", an);
        }
    }
    const char *conv = "CF-1.8";
    NC_TRY(nc_put_att_text(ncid, NC_GLOBAL, "Conventions", strlen(conv), conv), "global attributes");
    if (history_line) NC_TRY(nc_put_att_text(ncid, NC_GLOBAL, "history", strlen(history_line), history_line), "global attributes");
    if (added) NC_TRY(nc_put_att_text(ncid, NC_GLOBAL, "tsr_added", strlen(added), added), "global attribute tsr_added");
    if (n > 1) {
        size_t len = 1;
        for (size_t i = 0; i < n; i++) len += strlen(vname[grp[i]]) + 1;
        char *order = malloc(len), *p = order;
        if (!order) { eddy_fail(e, "out of memory"); goto fail; }
        for (size_t i = 0; i < n; i++) p += sprintf(p, i ? "\n%s" : "%s", vname[grp[i]]);
        int st = nc_put_att_text(ncid, NC_GLOBAL, "tsr_order", strlen(order), order);
        free(order);
        NC_TRY(st, "global attribute tsr_order");
    }
    NC_TRY(nc_enddef(ncid), "%s", path);
    for (size_t i = 0; i < n; i++) {
        size_t g = grp[i], start[TSR_MAX_RANK + 1] = { 0 }, cnt[TSR_MAX_RANK + 1];
        const tsr_record *r = &recs[i];
        int k = 0;
        if (count[g] > 1) start[0] = rec_index[i], cnt[k++] = 1;
        for (int d = 0; d < r->rank; d++) cnt[k++] = r->shape[d];
        NC_TRY(nc_put_vara(ncid, varid[g], start, cnt, r->data ? r->data : ""), "variable '%s' (record %zu): writing", vname[g], i);
        if (attrvar[g] >= 0) {
            char *txt = attr_text(r);
            if (!txt) { eddy_fail(e, "out of memory"); goto fail; }
            size_t one = 1;
            int st = nc_put_vara_string(ncid, attrvar[g], &start[0], &one, (const char **)&txt);
            free(txt);
            NC_TRY(st, "variable '%s__tsr_attrs': writing", vname[g]);
        }
    }
    int st = nc_close(ncid);
    ncid = -1;
    NC_TRY(st, "%s: closing", path);
    if (rename(tmp, path)) { eddy_fail(e, "%s: %s", path, strerror(errno)); goto fail; }
    rc = 0;
    goto done;
fail:
    rc = -1;
done:
    free(varid);
    free(attrvar);
    free(added);
    if (ncid >= 0) nc_abort(ncid);
    if (rc && created) unlink(tmp);
    free(grp); free(first); free(count); free(dims); free(vname); free(rec_index);
    return rc;
}

void ncio_free(tsr_record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) tsr_record_free(&recs[i]);
    free(recs);
}

static const char *type_name(int ncid, nc_type t, char *buf, size_t n)
{
    static const char *names[] = { "nat", "byte", "char", "short", "int", "float", "double", "ubyte", "ushort",
                                   "uint", "int64", "uint64", "string" };
    if (t >= 0 && t <= NC_STRING) return names[t];
    int cls = 0;
    char nm[NC_MAX_NAME + 1] = "";
    nc_inq_user_type(ncid, t, nm, NULL, NULL, NULL, &cls);
    snprintf(buf, n, "%s '%s'", cls == NC_VLEN ? "vlen" : cls == NC_OPAQUE ? "opaque" : cls == NC_ENUM ? "enum" : "compound", nm);
    return buf;
}

// The stream dtype of a NetCDF type, or -1.
static int dtype_of(int ncid, nc_type t)
{
    switch (t) {
    case NC_BYTE: return TSR_I1;
    case NC_UBYTE: return TSR_U1;
    case NC_SHORT: return TSR_I2;
    case NC_USHORT: return TSR_U2;
    case NC_INT: return TSR_I4;
    case NC_UINT: return TSR_U4;
    case NC_INT64: return TSR_I8;
    case NC_UINT64: return TSR_U8;
    case NC_FLOAT: return TSR_F4;
    case NC_DOUBLE: return TSR_F8;
    default: break;
    }
    // A compound of two floats (or doubles) at offsets 0 and one size: complex.
    size_t size, nf, off[2];
    int cls;
    if (nc_inq_user_type(ncid, t, NULL, &size, NULL, &nf, &cls) || cls != NC_COMPOUND || nf != 2) return -1;
    nc_type ft[2];
    for (int k = 0; k < 2; k++) {
        int nd;
        if (nc_inq_compound_field(ncid, t, k, NULL, &off[k], &ft[k], &nd, NULL) || nd != 0) return -1;
    }
    if (ft[0] != ft[1] || (ft[0] != NC_FLOAT && ft[0] != NC_DOUBLE)) return -1;
    size_t s = ft[0] == NC_FLOAT ? 4 : 8;
    if (off[0] != 0 || off[1] != s || size != 2 * s) return -1;
    return ft[0] == NC_FLOAT ? TSR_C8 : TSR_C16;
}

// An attribute as text: text as is, numbers as %.9g / %.17g / integers, comma-separated.
static char *att_as_text(int ncid, int varid, const char *name, eddy_err *e)
{
    nc_type t;
    size_t len;
    if (nc_inq_att(ncid, varid, name, &t, &len)) { eddy_fail(e, "attribute '%s': cannot read", name); return NULL; }
    if (t == NC_CHAR) {
        char *s = malloc(len + 1);
        if (!s || nc_get_att_text(ncid, varid, name, s)) { free(s); eddy_fail(e, "attribute '%s': cannot read", name); return NULL; }
        s[len] = 0;
        return s;
    }
    if (t == NC_STRING) {
        char **v = calloc(len ? len : 1, sizeof *v);
        if (!v || nc_get_att_string(ncid, varid, name, v)) { free(v); eddy_fail(e, "attribute '%s': cannot read", name); return NULL; }
        size_t tot = 1;
        for (size_t i = 0; i < len; i++) tot += strlen(v[i] ? v[i] : "") + 1;
        char *s = malloc(tot), *p = s;
        if (s) { *s = 0; for (size_t i = 0; i < len; i++) p += sprintf(p, i ? "\n%s" : "%s", v[i] ? v[i] : ""); }
        nc_free_string(len, v);
        free(v);
        if (!s) eddy_fail(e, "out of memory");
        return s;
    }
    if (t > NC_UINT64 || t == NC_CHAR) { eddy_fail(e, "attribute '%s': a user-defined type, not text or numbers", name); return NULL; }
    double *d = malloc((len ? len : 1) * sizeof *d);
    long long *ll = malloc((len ? len : 1) * sizeof *ll);
    unsigned long long *ull = malloc((len ? len : 1) * sizeof *ull);
    char *s = malloc(len * 32 + 1);
    int st = 0;
    if (!d || !ll || !ull || !s) st = -1;
    else if (t == NC_FLOAT || t == NC_DOUBLE) st = nc_get_att_double(ncid, varid, name, d);
    else if (t == NC_UINT64) st = nc_get_att_ulonglong(ncid, varid, name, ull);
    else st = nc_get_att_longlong(ncid, varid, name, ll);
    if (st) { free(d); free(ll); free(ull); free(s); eddy_fail(e, "attribute '%s': cannot read", name); return NULL; }
    char *p = s;
    *p = 0;
    for (size_t i = 0; i < len; i++) {
        if (i) *p++ = ',';
        if (t == NC_FLOAT) p += sprintf(p, "%.9g", d[i]);
        else if (t == NC_DOUBLE) p += sprintf(p, "%.17g", d[i]);
        else if (t == NC_UINT64) p += sprintf(p, "%llu", ull[i]);
        else p += sprintf(p, "%lld", ll[i]);
    }
    *p = 0;
    free(d); free(ll); free(ull);
    return s;
}

int ncio_read(const char *path, tsr_record **out, size_t *nout, eddy_err *e)
{
    int ncid, nvars, ngatts, unlim[NC_MAX_DIMS], nunlim = 0;
    int st = nc_open(path, NC_NOWRITE, &ncid);
    if (st) return eddy_fail(e, "%s: not a readable NetCDF file (%s)", path, nc_strerror(st));
    tsr_record *recs = NULL;
    size_t n = 0, cap = 0;
    char *ghist = NULL, *order = NULL, *added = NULL;
    char **vnames = NULL;
    size_t *vfirst = NULL, *vcount = NULL;
    int nv = 0;
    tsr_record globals;
    tsr_record_init(&globals);
    if (nc_inq(ncid, NULL, &nvars, &ngatts, NULL) || nc_inq_unlimdims(ncid, &nunlim, unlim)) {
        eddy_fail(e, "%s: corrupt NetCDF file (cannot list its contents)", path);
        goto fail;
    }
    for (int a = 0; a < ngatts; a++) {
        char an[NC_MAX_NAME + 1];
        if (nc_inq_attname(ncid, NC_GLOBAL, a, an)) { eddy_fail(e, "%s: corrupt global attributes", path); goto fail; }
        char *v = att_as_text(ncid, NC_GLOBAL, an, e);
        if (!v) { eddy_wrap(e, "%s: global", path); goto fail; }
        if (!strcmp(an, "history")) ghist = v;
        else if (!strcmp(an, "tsr_order")) order = v;
        else if (!strcmp(an, "tsr_added")) added = v;
        else {
            if (strcmp(an, "Conventions")) tsr_attr_set(&globals, an, v);
            free(v);
        }
    }
    vnames = calloc(nvars ? nvars : 1, sizeof *vnames);
    vfirst = calloc(nvars ? nvars : 1, sizeof *vfirst);
    vcount = calloc(nvars ? nvars : 1, sizeof *vcount);
    if (!vnames || !vfirst || !vcount) { eddy_fail(e, "out of memory"); goto fail; }
    for (int v = 0; v < nvars; v++) {
        char var[NC_MAX_NAME + 1];
        nc_type t;
        int nd, dimids[NC_MAX_VAR_DIMS], natts;
        if (nc_inq_var(ncid, v, var, &t, &nd, dimids, &natts)) { eddy_fail(e, "%s: variable %d: corrupt", path, v); goto fail; }
        size_t vl = strlen(var);
        if (vl > 11 && !strcmp(var + vl - 11, "__tsr_attrs") && t == NC_STRING) continue;   // read with its variable
        int dt = dtype_of(ncid, t);
        char tb[NC_MAX_NAME + 32];
        if (dt < 0) {
            eddy_fail(e, "%s: variable '%s': type %s has no stream dtype", path, var, type_name(ncid, t, tb, sizeof tb));
            goto fail;
        }
        if (nd > TSR_MAX_RANK + 1) { eddy_fail(e, "%s: variable '%s': %d dimensions, more than a record's %d", path, var, nd, TSR_MAX_RANK); goto fail; }
        size_t len[NC_MAX_VAR_DIMS];
        char dn[NC_MAX_VAR_DIMS][NC_MAX_NAME + 1];
        for (int d = 0; d < nd; d++)
            if (nc_inq_dim(ncid, dimids[d], dn[d], &len[d])) { eddy_fail(e, "%s: variable '%s': corrupt dimension", path, var); goto fail; }
        int is_unlim = 0;
        for (int u = 0; u < nunlim; u++) is_unlim |= nd > 0 && unlim[u] == dimids[0];
        int split = is_unlim && (!strcmp(dn[0], "record") || !strncmp(dn[0], "record_", 7));
        if (!split && nd > TSR_MAX_RANK) { eddy_fail(e, "%s: variable '%s': %d dimensions, more than a record's %d", path, var, nd, TSR_MAX_RANK); goto fail; }
        size_t nrec = split ? len[0] : 1;
        int r0 = split ? 1 : 0;
        // Per-record attributes, when the writer kept them.
        char an[NC_MAX_NAME + 1];
        snprintf(an, sizeof an, "%s__tsr_attrs", var);
        int avar = -1;
        if (nc_inq_varid(ncid, an, &avar)) avar = -1;
        vnames[nv] = strdup(var);
        vfirst[nv] = n;
        vcount[nv] = nrec;
        nv++;
        for (size_t k = 0; k < nrec; k++) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                tsr_record *nr = realloc(recs, cap * sizeof *nr);
                if (!nr) { eddy_fail(e, "out of memory"); goto fail; }
                recs = nr;
            }
            tsr_record *r = &recs[n];
            tsr_record_init(r);
            n++;
            uint64_t shape[TSR_MAX_RANK];
            for (int d = r0; d < nd; d++) shape[d - r0] = len[d];
            if (tsr_record_alloc(r, var, (tsr_dtype)dt, nd - r0, shape, e)) { eddy_wrap(e, "%s: variable '%s'", path, var); goto fail; }
            size_t start[NC_MAX_VAR_DIMS] = { 0 }, cnt[NC_MAX_VAR_DIMS];
            for (int d = 0; d < nd; d++) cnt[d] = len[d];
            if (split) start[0] = k, cnt[0] = 1;
            if (r->nbytes && (st = nc_get_vara(ncid, v, start, cnt, r->data))) {
                eddy_fail(e, "%s: variable '%s': cannot read its data (%s)", path, var, nc_strerror(st));
                goto fail;
            }
            if (avar >= 0) {
                char *txt = NULL;
                size_t one = 1;
                if ((st = nc_get_vara_string(ncid, avar, &start[0], &one, &txt))) {
                    eddy_fail(e, "%s: variable '%s': cannot read %s (%s)", path, var, an, nc_strerror(st));
                    goto fail;
                }
                int bad = attr_text_parse(r, txt ? txt : "", var, e);
                nc_free_string(1, &txt);
                if (bad) { eddy_wrap(e, "%s", path); goto fail; }
            } else {
                for (int a = 0; a < natts; a++) {
                    char nm[NC_MAX_NAME + 1];
                    if (nc_inq_attname(ncid, v, a, nm)) { eddy_fail(e, "%s: variable '%s': corrupt attributes", path, var); goto fail; }
                    if (added) {   // an attribute tsr2nc added (var:key on a line of its own)
                        char want[2 * NC_MAX_NAME + 4];
                        snprintf(want, sizeof want, "%s:%s", var, nm);
                        int skip = 0;
                        for (const char *p = added; *p && !skip;) {
                            size_t l = strcspn(p, "\n");
                            skip = l == strlen(want) && !strncmp(p, want, l);
                            p += l + (p[l] == '\n');
                        }
                        if (skip) continue;
                    }
                    char *val = att_as_text(ncid, v, nm, e);
                    if (!val) { eddy_wrap(e, "%s: variable '%s'", path, var); goto fail; }
                    int bad = tsr_attr_set(r, nm, val);
                    free(val);
                    if (bad) { eddy_fail(e, "%s: variable '%s': attribute '%s' is not a valid stream key", path, var, nm); goto fail; }
                }
                // dims from the dimension names, unless they are the writer's placeholders.
                if (!tsr_attr_get(r, "dims") && nd - r0 > 0) {
                    char ds[TSR_MAX_RANK * (NC_MAX_NAME + 1) + 1] = "", ph[NC_MAX_NAME + 16];
                    int placeholder = 1;
                    for (int d = r0; d < nd; d++) {
                        snprintf(ph, sizeof ph, "%s_dim%d", var, d - r0);
                        placeholder &= !strcmp(ph, dn[d]);
                        if (strchr(dn[d], ',')) { eddy_fail(e, "%s: variable '%s': dimension name '%s' holds a comma", path, var, dn[d]); goto fail; }
                        strcat(ds, d > r0 ? "," : "");
                        strcat(ds, dn[d]);
                    }
                    if (!placeholder) tsr_attr_set(r, "dims", ds);
                }
                for (int a = 0; a < globals.nattrs; a++)
                    if (!tsr_attr_get(r, globals.attrs[a].key)) tsr_attr_set(r, globals.attrs[a].key, globals.attrs[a].value);
            }
            if (ghist && *ghist && tsr_history_append(r, ghist)) { eddy_fail(e, "out of memory"); goto fail; }
        }
    }
    if (order && n > 0) {
        // Restore the stream's order: the k-th mention of a variable is its record k.
        tsr_record *sorted = calloc(n, sizeof *sorted);
        size_t *used = calloc(nv ? nv : 1, sizeof *used), m = 0;
        if (!sorted || !used) { free(sorted); free(used); eddy_fail(e, "out of memory"); goto fail; }
        int bad = 0;
        for (char *p = order; *p && !bad;) {
            size_t l = strcspn(p, "\n");
            int j = 0;
            while (j < nv && (strlen(vnames[j]) != l || strncmp(vnames[j], p, l))) j++;
            if (j == nv || used[j] >= vcount[j] || m >= n) bad = 1;
            else sorted[m++] = recs[vfirst[j] + used[j]++];
            p += l + (p[l] == '\n');
        }
        if (bad || m != n) {
            free(sorted);
            free(used);
            eddy_fail(e, "%s: global attribute tsr_order disagrees with the variables", path);
            goto fail;
        }
        free(recs);
        recs = sorted;
        free(used);
    }
    nc_close(ncid);
    for (int j = 0; j < nv; j++) free(vnames[j]);
    free(vnames); free(vfirst); free(vcount); free(ghist); free(order); free(added);
    tsr_record_free(&globals);
    *out = recs;
    *nout = n;
    return 0;
fail:
    nc_close(ncid);
    ncio_free(recs, n);
    if (vnames) for (int j = 0; j < nv; j++) free(vnames[j]);
    free(vnames); free(vfirst); free(vcount); free(ghist); free(order); free(added);
    tsr_record_free(&globals);
    return -1;
}
