// closure-cond: turns ns-gen --closure output into the condition records of
// the stochastic closure (lib/closure_score.h): the term U, the vorticity V and the
// filled sparse observations Y of U, frame by frame; and, on request, the
// term a coarse model computes from V itself, the baseline of V-only models.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closure_coarse.h"
#include "closure_obs.h"
#include "closure_score.h"

typedef struct {
    tsr_record rec;
    int used;
} pending;

// The records of one sample at one grid: same `sample` attribute, same shape.
static int same_field(const tsr_record *a, const tsr_record *b)
{
    const char *sa = tsr_attr_get(a, "sample"), *sb = tsr_attr_get(b, "sample");
    if ((sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb))) return 0;
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void check_field(const tsr_record *r, long idx)
{
    if (r->rank != 3 && r->rank != 2)
        cli_die(EXIT_DATA, "record %ld '%s': expected frames (T, N, N) or one field (N, N), got rank %d",
                idx, r->name, r->rank);
    int k = r->rank - 2;
    if (r->shape[k] != r->shape[k + 1] || r->shape[k] < 4 || r->shape[k] > 8192)
        cli_die(EXIT_DATA, "record %ld '%s': expected a square grid, got %llu×%llu", idx, r->name,
                (unsigned long long)r->shape[k], (unsigned long long)r->shape[k + 1]);
    if (r->dtype != TSR_F4 && r->dtype != TSR_F8)
        cli_die(EXIT_DATA, "record %ld '%s': dtype %s, expected <f4 or <f8", idx, r->name,
                tsr_dtype_descr(r->dtype));
}

static double attr_double(const tsr_record *r, const char *key, long idx)
{
    const char *v = tsr_attr_get(r, key);
    char *end;
    double x = v ? strtod(v, &end) : NAN;
    if (!v || *end || !isfinite(x))
        cli_die(EXIT_DATA, "record %ld: --coarse needs the attribute %s (as ns-gen writes it)", idx, key);
    return x;
}

// The term a coarse model computes from V (lib/closure_coarse.h) as one
// record 'U', (T, N, N), with V's attributes.
static void coarse_record(const tsr_record *V, const char *term, int T, int N, long idx, tsr_record *o)
{
    eddy_err e;
    coarse_term_kind k;
    coarse_term_parse(term, &k);
    uint64_t shp[3] = {(uint64_t)T, (uint64_t)N, (uint64_t)N};
    tsr_record_init(o);
    tsr_attrs_copy(o, V);
    if (tsr_record_alloc(o, "U", TSR_F4, 3, shp, &e) ||
        coarse_term(V->data, T, N, attr_double(V, "L", idx), attr_double(V, "nu", idx), k, o->data, &e))
        cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
    tsr_attr_del(o, "units");
    tsr_attr_set(o, "field", "coarse-term");
    tsr_attr_set(o, "term", term);
    tsr_attr_setf(o, "grid", "%d", N);
    tsr_history_append(o, cli_cmdline());
}

// Options (file scope so the table below can point at them).
static const char *term = "G", *vname = "omega", *fill = "bicubic", *out = "-", *coarse = NULL;
static int obs_n = 5, box = 0, grid = 0, y_coarse = 0;

    static const cli_opt opts[] = {
        {"term", 't', OPT_STRING, &term, "NAME", "closure term to learn: the record name (G or H)"},
        {"vorticity", 0, OPT_STRING, &vname, "NAME", "record name of the vorticity"},
        {"obs-n", 'n', OPT_INT, &obs_n, "N", "observations on a uniform N×N grid of points (reference: 16)", 1, 4096},
        {"fill", 0, OPT_STRING, &fill, "F", "observations to the grid: bicubic (periodic) or box"},
        {"box", 0, OPT_INT, &box, "W", "box: odd width in grid points (0: 2*floor(grid/N)-1)", 0, 1048576},
        {"grid", 'g', OPT_INT, &grid, "M", "only records on the M×M grid (0: every grid)", 0, 1048576},
        {"coarse", 0, OPT_STRING, &coarse, "FILE", "also write the term computed from V on its own grid (G, H only)"},
        {"y-coarse", 0, OPT_FLAG, &y_coarse, NULL, "Y is that term instead of observations (a V-only condition)"},
        CLI_OPT_OUTPUT(&out, "output stream"),
        CLI_OPT_END};
    static const cli_spec spec = {
        "closure-cond", "[options] [FILE]",
        "make closure conditions (term U, vorticity V, filled observations Y)",
        "Pairs each vorticity record with the term record of the same sample and grid\n"
        "(as ns-gen --closure writes them: frames (T, N, N)) and writes one record\n"
        "'closure' of shape (T, N, N, 3), channels U, V, Y, where Y is U observed at\n"
        "the N_obs × N_obs points (i L/N_obs, j L/N_obs) - read off the grid when\n"
        "N_obs divides N, periodic bicubic otherwise - and filled back to the grid by\n"
        "periodic bicubic interpolation (Keys, a = -1/2) or by a masked average over\n"
        "a periodic box around the nearest grid points.  The points are the same\n"
        "physical points at every resolution.  Attributes of the vorticity record are\n"
        "kept; term, obs_n, obs_fill, channels=U,V,Y and dims=t,y,x,c are added.\n"
        "--coarse writes, per output record, a record 'U' (T, N, N) of the term\n"
        "evaluated from V on V's own grid without noise (G: nu Lap V; H: -u.grad V,\n"
        "2/3-dealiased, from the attributes L and nu): what the coarse model computes\n"
        "by itself, the baseline a V-only closure must beat (relerr against U).\n"
        "--y-coarse puts that term in Y instead of filled observations (obs_n=0,\n"
        "obs_fill=coarse): still a condition on V alone, on which fno-train --cond\n"
        "v+obs --residual learns only what V does not predict.",
        "  ns-gen --preset closure --closure --out-grid 64 | closure-cond --term H --obs-n 16 > cond.tsr",
        opts};

// The condition record of the pair (V, U) of record idx, and its coarse term
// (wc, or Y with --y-coarse).
static void write_pair(tsr_writer *w, tsr_writer *wc, const tsr_record *V, const tsr_record *U,
                       const cs_obs *ob, long idx)
{
    eddy_err e;
    int N = (int)V->shape[V->rank - 1], T = V->rank == 3 ? (int)V->shape[0] : 1;
    if (obs_n > N) cli_die(EXIT_USAGE, "--obs-n %d exceeds the %d² grid of record %ld", obs_n, N, idx);
    tsr_record o, co;   // co: the coarse term, when Y or --coarse needs it
    tsr_record_init(&co);
    if (wc || y_coarse) coarse_record(V, term, T, N, idx, &co);
    if (cs_record_make(&o, V, U, term, ob, y_coarse ? &co : NULL, &e))
        cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
    tsr_history_append(&o, cli_cmdline());
    if (tsr_write(w, &o, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    tsr_record_free(&o);
    if (wc && tsr_write(wc, &co, &e)) cli_die(EXIT_DATA, "%s: %s", coarse, e.msg);
    tsr_record_free(&co);
}

// Pairs each vorticity record with the term record of the same sample and
// grid, in stream order, and writes each pair; returns the pairs written.
static long pair_records(tsr_reader *r, tsr_writer *w, tsr_writer *wc, const cs_obs *ob)
{
    eddy_err e;
    pending *pend = NULL;
    int npend = 0;
    long written = 0;
    tsr_record rec;
    tsr_record_init(&rec);
    int got;
    while ((got = tsr_read(r, &rec, &e)) == 1) {
        long idx = tsr_reader_index(r) - 1;
        int is_v = !strcmp(rec.name, vname), is_u = !strcmp(rec.name, term);
        if (!is_v && !is_u) continue;
        check_field(&rec, idx);
        if (grid > 0 && rec.shape[rec.rank - 1] != (uint64_t)grid) continue;
        for (size_t i = 0; i < tsr_numel(&rec); i++) if (!isfinite(rec.dtype == TSR_F8 ? ((double *)rec.data)[i] : ((float *)rec.data)[i])) cli_die(EXIT_DATA, "record %ld '%s': non-finite value (element %zu)", idx, rec.name, i);
        if (rec.dtype == TSR_F8 && tsr_record_convert(&rec, TSR_F4, &e))
            cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        int partner = -1;
        for (int i = 0; i < npend; i++)
            if (!pend[i].used && strcmp(pend[i].rec.name, rec.name) && same_field(&pend[i].rec, &rec))
                partner = i;
        if (partner < 0) {
            pending *np = realloc(pend, (size_t)(npend + 1) * sizeof *np);
            if (!np) cli_die(EXIT_DATA, "out of memory");
            pend = np;
            pend[npend].used = 0;
            tsr_record_init(&pend[npend].rec);
            if (tsr_record_clone(&pend[npend].rec, &rec, &e)) cli_die(EXIT_DATA, "%s", e.msg);
            npend++;
            continue;
        }
        write_pair(w, wc, is_v ? &rec : &pend[partner].rec, is_u ? &rec : &pend[partner].rec, ob, idx);
        tsr_record_free(&pend[partner].rec);
        pend[partner].used = 1;
        written++;
    }
    if (got < 0) cli_die(EXIT_DATA, "%s", e.msg);
    for (int i = 0; i < npend; i++)
        if (!pend[i].used)
            cli_die(EXIT_DATA, "record '%s' (sample %s) has no matching '%s' record of the same grid",
                    pend[i].rec.name, tsr_attr_get(&pend[i].rec, "sample") ? tsr_attr_get(&pend[i].rec, "sample") : "?",
                    strcmp(pend[i].rec.name, term) ? term : vname);
    tsr_record_free(&rec);
    free(pend);
    return written;
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    cs_obs ob = {.obs_n = obs_n, .box = box};
    if (obs_fill_parse(fill, &ob.fill)) cli_die(EXIT_USAGE, "--fill: bicubic or box, got '%s'", fill);
    if (obs_n < 1) cli_die(EXIT_USAGE, "--obs-n must be >= 1");
    if (box < 0 || (box > 0 && box % 2 == 0)) cli_die(EXIT_USAGE, "--box must be odd (or 0)");
    if (nops > 1) cli_die(EXIT_USAGE, "one input at most, got %d", nops);
    if (!strcmp(term, vname)) cli_die(EXIT_USAGE, "--term and --vorticity name the same record");
    coarse_term_kind ck;
    if ((coarse || y_coarse) && coarse_term_parse(term, &ck))
        cli_die(EXIT_USAGE, "--coarse knows the terms G and H, not '%s'", term);

    FILE *f;
    tsr_reader *r = cli_reader(nops ? ops[0] : "-", &f);
    tsr_writer *w = cli_writer(out, NULL);
    tsr_writer *wc = coarse ? cli_writer(coarse, NULL) : NULL;
    eddy_err e;
    if (pair_records(r, w, wc, &ob) == 0) cli_die(EXIT_DATA, "no '%s' and '%s' records in the input", vname, term);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (wc && tsr_writer_finish(wc, &e)) cli_die(EXIT_DATA, "%s: %s", coarse, e.msg);
    tsr_reader_close(r);
    if (f != stdin) fclose(f);
    return 0;
}
