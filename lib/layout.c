#include "layout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static char axis_kind(const char *name)
{
    if (!strcmp(name, "x")) return 'x';
    if (!strcmp(name, "y")) return 'y';
    if (!strcmp(name, "t") || !strcmp(name, "time") || !strcmp(name, "frame")) return 't';
    if (!strcmp(name, "c") || !strcmp(name, "ch") || !strcmp(name, "channel")) return 'c';
    if (!strcmp(name, "z")) return 'z';
    return 'b';
}

int layout_of(const tsr_record *r, const char *dims_override, layout *l, eddy_err *e)
{
    memset(l, 0, sizeof *l);
    l->rank = r->rank;
    const char *dims = dims_override ? dims_override : tsr_attr_get(r, "dims");
    static const char *guess[5] = { NULL, "x", "y,x", "t,y,x", "t,c,y,x" };
    if (!dims) {
        if (r->rank < 1 || r->rank > 4)
            return eddy_fail(e, "record '%s': rank %d and no dims attribute; say which axes are which with --dims",
                             r->name, r->rank);
        dims = guess[r->rank];
    }
    if (strlen(dims) >= sizeof l->dims) return eddy_fail(e, "record '%s': dims '%.40s...' too long", r->name, dims);
    strcpy(l->dims, dims);
    char buf[sizeof l->dims];
    strcpy(buf, dims);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        if (n >= r->rank) {
            n++;
            break;
        }
        l->axis[n++] = axis_kind(tok);
    }
    if (n != r->rank)
        return eddy_fail(e, "record '%s': dims '%s' names %d axes but the array has rank %d", r->name, dims, n, r->rank);
    l->t_axis = l->c_axis = -1;
    int nsp = 0;
    for (int a = 0; a < r->rank; a++) {
        char k = l->axis[a];
        l->shape[a] = r->shape[a];
        if (k == 'z') return eddy_fail(e, "record '%s': 3-D fields (axis z) are not supported", r->name);
        if (k == 'x' || k == 'y') nsp++;
        if (k == 't' || k == 'c') {
            int *slot = k == 't' ? &l->t_axis : &l->c_axis;
            if (*slot >= 0) return eddy_fail(e, "record '%s': dims '%s' has two '%c' axes", r->name, dims, k);
            *slot = a;
        }
    }
    int R = r->rank;
    if (R < 1 || l->axis[R - 1] != 'x')
        return eddy_fail(e, "record '%s': dims '%s': the last axis must be x (spatial axes trailing)", r->name, dims);
    if (nsp == 2 && !(R >= 2 && l->axis[R - 2] == 'y'))
        return eddy_fail(e, "record '%s': dims '%s': y must come directly before x", r->name, dims);
    if (nsp > 2) return eddy_fail(e, "record '%s': dims '%s' has repeated spatial axes", r->name, dims);
    l->nspace = nsp;
    l->nx = (int)r->shape[R - 1];
    l->ny = nsp == 2 ? (int)r->shape[R - 2] : 1;
    if (r->shape[R - 1] > (1u << 24) || (nsp == 2 && r->shape[R - 2] > (1u << 24)))
        return eddy_fail(e, "record '%s': spatial axis too large", r->name);
    l->D = (size_t)l->nx * (size_t)l->ny;
    if (l->D == 0) return eddy_fail(e, "record '%s': empty spatial axes", r->name);
    size_t s = 1;
    for (int a = R - 1; a >= 0; a--) {
        l->stride[a] = s;
        s *= (size_t)r->shape[a];
    }
    l->T = l->t_axis >= 0 ? r->shape[l->t_axis] : 1;
    l->C = l->c_axis >= 0 ? r->shape[l->c_axis] : 1;
    l->nfields = (size_t)tsr_numel(r) / l->D;
    l->npaths = 1;
    for (int a = 0; a < R; a++)
        if (l->axis[a] == 'b') l->npaths *= (size_t)r->shape[a];
    l->frame_chan = (l->c_axis >= 0 && l->c_axis == R - 1 - nsp) ? l->C : 1;
    l->L = 2 * M_PI;
    double L;
    int rc = tsr_attr_double(r, "L", &L, e);
    if (rc < 0) return eddy_wrap(e, "record '%s': attribute L", r->name);
    if (rc == 0) {
        if (!(L > 0) || !isfinite(L)) return eddy_fail(e, "record '%s': attribute L=%g is not positive", r->name, L);
        l->L = L;
    }
    return 0;
}

size_t layout_offset(const layout *l, size_t p, size_t t, size_t c)
{
    size_t off = 0;
    for (int a = l->rank - 1; a >= 0; a--) {
        switch (l->axis[a]) {
        case 't': off += t * l->stride[a]; break;
        case 'c': off += c * l->stride[a]; break;
        case 'b':
            off += (p % l->shape[a]) * l->stride[a];
            p /= l->shape[a];
            break;
        default: break;
        }
    }
    return off;
}

void layout_gather(const layout *l, const tsr_record *r, size_t p, size_t c, double *out)
{
    for (size_t t = 0; t < l->T; t++) {
        size_t off = layout_offset(l, p, t, c);
        double *o = out + t * l->D;
        if (r->dtype == TSR_F4) {
            const float *src = (const float *)r->data + off;
            for (size_t i = 0; i < l->D; i++) o[i] = src[i];
        } else {
            memcpy(o, (const double *)r->data + off, l->D * sizeof(double));
        }
    }
}

int field_check(const tsr_record *r, eddy_err *e)
{
    if (r->dtype != TSR_F4 && r->dtype != TSR_F8)
        return eddy_fail(e, "record '%s': dtype %s, expected a real float field (<f4 or <f8)", r->name,
                         tsr_dtype_descr(r->dtype));
    size_t n = (size_t)tsr_numel(r);
    for (size_t i = 0; i < n; i++) {
        double v = field_get(r, i);
        if (!isfinite(v)) {
            char where[160] = "";
            size_t k = i;
            int len = 0;
            size_t idx[TSR_MAX_RANK];
            for (int a = r->rank - 1; a >= 0; a--) {
                idx[a] = k % r->shape[a];
                k /= r->shape[a];
            }
            for (int a = 0; a < r->rank && len < (int)sizeof where - 24; a++)
                len += snprintf(where + len, sizeof where - (size_t)len, "%s%zu", a ? "," : "", idx[a]);
            return eddy_fail(e, "record '%s': %s at index (%s)", r->name, isnan(v) ? "NaN" : "Inf", where);
        }
    }
    return 0;
}
