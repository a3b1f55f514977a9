// relerr: error metrics of a predicted stream against the true one (lib/metrics.h
// names the papers they come from), as TSV, one row per metric.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "layout.h"
#include "metrics.h"
#include "spectrum.h"

static const char *description =
    "Compares PRED with TRUTH record by record.  Axes come from the dims attribute (see\n"
    "rg-coarsen --help; --dims overrides it for both streams); shapes, dims and L must match.\n"
    "A sample is one path: one record, or one index of its batch axes (axes other than\n"
    "t, c, y, x).  Fields must be <f4 or <f8 without NaN or Inf; a record with no values\n"
    "(zero frames, points or paths) is an error.  Output: TSV on stdout, header\n"
    "'metric<TAB>key<TAB>value' (plus '<TAB>lo<TAB>hi' with --bootstrap), values with 10\n"
    "significant digits.\n"
    "\n"
    "Metrics (u truth, v prediction):\n"
    "  rel_l2   t=N   ||u_t - v_t||_2 / ||u_t||_2 at frame t, norms pooled over channels and\n"
    "                 space, averaged over samples (seed 001 reports t=6); 'mean' averages\n"
    "                 the frames.  With more than one channel also per channel:\n"
    "           c=C,t=N / c=C,mean   the same with the norms over channel C alone.\n"
    "  d_fro    sample=I / mean   ||U_i - V_i||_F / ||U_i||_F over the whole path, then the\n"
    "                 mean over samples (seed 000's D_Fro).\n"
    "  rel_max  sample=I / mean   max|U_i - V_i| / max|U_i|, then the mean over samples.\n"
    "  mse      all   mean of (u - v)^2 over every value.\n"
    "  spec_err c=C   sum|P - Q| / sum|P|, P and Q the power spectra of truth and prediction\n"
    "                 averaged over all their samples, per channel.  P is |FFT(u)/n|^2 over\n"
    "                 time and space jointly when paths have a t axis with more than one\n"
    "                 frame (seed 001 eq. 64), else over space; n is the number of points\n"
    "                 transformed; mirror modes are folded together (one-sided in x, so sum P\n"
    "                 is the mean square).  The mean mode (omega=0, k=0, the squared path\n"
    "                 mean) is INCLUDED; no window, no detrending, no burn-in: cut the burn-in\n"
    "                 off the streams first.\n"
    "\n"
    "Raw or standardised.  Without --standardize every metric is on the raw fields (the\n"
    "definitions above).  Seed 001 (appendix B.5) computes both of its metrics 'after\n"
    "standardizing u and v with shared normalization parameters': --standardize SPEC maps\n"
    "channel c of BOTH streams to (u - m_c)/s_c before anything is computed, with one shared\n"
    "(m_c, s_c) per channel, where SPEC is\n"
    "  m0:s0,m1:s1,...  the constants, one pair per channel (written by --stats on the\n"
    "                 training set: relerr --stats train.tsr > norm.txt, then\n"
    "                 relerr --standardize $(cat norm.txt) ...); or\n"
    "  truth          the mean and std of the TRUTH operand itself (a file, read twice).\n"
    "Then spec_err (per channel already) changes only in its mean mode (the shift moves it;\n"
    "the scale cancels), and rel_l2 c=C,t=N is seed 001's per-channel L2 of eq. 63; rel_l2\n"
    "t=N pools the standardised channels, so each weighs by its variance, not its units.\n"
    "--stats FILE (one operand) prints the per-channel mean and population std over every\n"
    "value of FILE in that form and exits.\n"
    "\n"
    "Intervals.  --bootstrap N (with --seed S) draws N bootstrap replicates over the truth\n"
    "paths (a truth path carries its prediction, or its K members, along), recomputes every\n"
    "mean row (rel_l2, d_fro mean, rel_max mean, mse, the ensemble rows) and every spec_err\n"
    "(the averaged PSDs of truth and prediction recomputed from the resampled paths) and\n"
    "prints the 2.5 and 97.5 % quantiles of the replicates as lo and hi (per-sample rows\n"
    "leave them empty).  Truth and prediction are resampled with the same indices, so two\n"
    "identical sets give [0, 0]; for unpaired sets of equal size (generation against test\n"
    "paths) the pairing is arbitrary and the interval is that of independent resampling.\n"
    "Replicate b depends on (S, b) alone.  A spectral error is a sum of absolute differences:\n"
    "resampling adds its own noise to them, so its replicates lie mostly above the estimate\n"
    "(by about the floor below); read its interval as the spread at this count.\n"
    "Noise floor: the same metric between two disjoint sets of true paths of the size\n"
    "compared (relerr A.tsr B.tsr, e.g. two seeds of the generator; tsr-cat -r to cut a\n"
    "set to size) is the smallest value sampling alone explains at that size; the PDD\n"
    "pipelines print it beside every spectral error and L2 mean.\n"
    "\n"
    "Ensembles: when PRED holds K records per TRUTH record (consecutive: records i*K ..\n"
    "i*K+K-1 belong to truth record i), K is given by --members or, when both operands\n"
    "are regular files, found by counting.  Then the metrics above treat every member as\n"
    "a sample (the expected one-sample error), the spectra average all members, and:\n"
    "  ens_rel_l2  t=N / mean  ||u_t - mean_k v_t,k|| / ||u_t||, the ensemble-mean error.\n"
    "  ens_spread  t=N / mean  sqrt(sum over points of the unbiased member variance) /\n"
    "                 ||u_t||, the same normalisation (a calibrated ensemble has spread close\n"
    "                 to ens_rel_l2).\n"
    "  crps        all   the CRPS of the members' empirical distribution, averaged over every\n"
    "                 point: (1/K) sum|v_k - u| - 1/(2K^2) sum|v_j - v_k|, in field units.\n"
    "A truth frame or path that is identically zero makes a relative error undefined: an\n"
    "error, not a silent NaN.";

static const char *example =
    "  relerr truth.tsr pred.tsr\n"
    "  relerr truth.tsr ens.tsr --members 8 | awk '$1==\"crps\"'\n"
    "  relerr --stats train.tsr > norm.txt\n"
    "  relerr --standardize $(cat norm.txt) --bootstrap 1000 --summary test.tsr gen.tsr";

// A reported mean is linear in per-unit sums (a unit is one truth path with
// its K predictions): value = Σ_u w_u S[u][slot] / (Σ_u w_u · denom), w = 1
// for the estimate and the bootstrap counts for a replicate.
typedef struct {
    const char *metric;
    char key[48];
    size_t slot;
    double denom;
} mrow;

typedef struct {
    size_t T, C, D, K, nspec, nslots;
    size_t nunits, cap;
    double *S;         // (cap, nslots) per-unit sums
    double *P, *Q;     // (cap or 1, C, nspec) per-unit spectra (Q summed over members)
    int keep_units;    // per-unit spectra kept (bootstrap); else one running sum
} acc;

static void die_rec(long i, const char *what) { cli_die(EXIT_DATA, "truth record %ld: %s", i, what); }

static int spec_shape(const layout *l, int *n)
{
    int rank = 0;
    if (l->T > 1) n[rank++] = (int)l->T;
    if (l->nspace == 2) n[rank++] = l->ny;
    n[rank++] = l->nx;
    return rank;
}

static size_t count_records(const char *path)
{
    FILE *f;
    tsr_reader *r = cli_reader(path, &f);
    tsr_record rec;
    tsr_record_init(&rec);
    eddy_err e;
    int rc;
    size_t n = 0;
    while ((rc = tsr_read_header_only(r, &rec, &e)) == 1) n++;
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    tsr_record_free(&rec);
    tsr_reader_close(r);
    fclose(f);
    return n;
}

static int regular(const char *path)
{
    struct stat st;
    return strcmp(path, "-") && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void check_same(const tsr_record *u, const layout *lu, const tsr_record *v, const layout *lv, long i, long j)
{
    int same = u->rank == v->rank && !strcmp(lu->dims, lv->dims);
    for (int a = 0; same && a < u->rank; a++) same = u->shape[a] == v->shape[a];
    char su[128] = "", sv[128] = "";
    int ku = 0, kv = 0;
    for (int a = 0; a < u->rank; a++) ku += snprintf(su + ku, sizeof su - (size_t)ku, "%s%llu", a ? "x" : "", (unsigned long long)u->shape[a]);
    for (int a = 0; a < v->rank; a++) kv += snprintf(sv + kv, sizeof sv - (size_t)kv, "%s%llu", a ? "x" : "", (unsigned long long)v->shape[a]);
    if (!same)
        cli_die(EXIT_DATA, "truth record %ld has shape %s (dims %s) but pred record %ld has %s (dims %s)", i, su,
                lu->dims, j, sv, lv->dims);
    if (fabs(lu->L - lv->L) > 1e-12 * lu->L)
        cli_die(EXIT_DATA, "truth record %ld is on a domain of length L=%g but pred record %ld on L=%g", i, lu->L, j, lv->L);
}

// A record whose fields hold no value gives averages over nothing (NaN):
// refused, naming the record.
static void check_values(const layout *l, const char *which, long i)
{
    if (l->T == 0 || l->D == 0 || l->npaths == 0 || l->C == 0)
        cli_die(EXIT_DATA, "%s record %ld holds no values (%zu frames, %zu channels, %zu points, %zu paths; dims %s)",
                which, i, l->T, l->C, l->D, l->npaths, l->dims);
}

// Reads record and layout, checked; 0 at the end of the stream.
static int read_field(tsr_reader *r, tsr_record *rec, const char *dims, layout *l, const char *which, long i)
{
    eddy_err e;
    int rc = tsr_read(r, rec, &e);
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (rc == 0) return 0;
    if (field_check(rec, &e) || layout_of(rec, dims, l, &e)) cli_die(EXIT_DATA, "%s record %ld: %s", which, i, e.msg);
    check_values(l, which, i);
    return 1;
}

// Per-channel mean and population std over every value of a stream.
static size_t channel_stats(const char *path, const char *dims, double **mean, double **sd)
{
    tsr_reader *r = cli_reader(path, NULL);
    tsr_record rec;
    tsr_record_init(&rec);
    met_moments *m = NULL;
    size_t C = 0;
    layout l, l0 = { 0 };
    double *buf = NULL;
    long i = 0;
    while (read_field(r, &rec, dims, &l, "record", i)) {
        if (i == 0) {
            l0 = l;
            C = l.C;
            m = calloc(C, sizeof *m);
        } else if (l.C != C) {
            cli_die(EXIT_DATA, "record %ld has %zu channels but record 0 has %zu", i, l.C, C);
        }
        buf = realloc(buf, l.T * l.D * sizeof(double));
        if (!m || !buf) cli_die(EXIT_DATA, "out of memory");
        for (size_t p = 0; p < l.npaths; p++)
            for (size_t c = 0; c < C; c++) {
                layout_gather(&l, &rec, p, c, buf);
                met_moments_add(&m[c], buf, l.T * l.D);
            }
        i++;
    }
    (void)l0;
    if (i == 0) cli_die(EXIT_DATA, "%s: no records", path);
    *mean = malloc(C * sizeof(double));
    *sd = malloc(C * sizeof(double));
    for (size_t c = 0; c < C; c++) {
        (*mean)[c] = m[c].mean;
        (*sd)[c] = met_moments_std(&m[c]);
    }
    free(m);
    free(buf);
    tsr_record_free(&rec);
    tsr_reader_close(r);
    return C;
}

// "m0:s0,m1:s1,..." -> pairs; the count of channels it gives.
static size_t parse_norm(const char *spec, double **mean, double **sd)
{
    size_t n = 1;
    for (const char *q = spec; *q; q++) n += *q == ',';
    *mean = malloc(n * sizeof(double));
    *sd = malloc(n * sizeof(double));
    const char *q = spec;
    for (size_t c = 0; c < n; c++) {
        char *end;
        (*mean)[c] = strtod(q, &end);
        if (end == q || *end != ':')
            cli_die(EXIT_USAGE, "option --standardize: '%s' is not 'truth' or MEAN:STD[,MEAN:STD...]", spec);
        q = end + 1;
        (*sd)[c] = strtod(q, &end);
        if (end == q || (*end && *end != ','))
            cli_die(EXIT_USAGE, "option --standardize: '%s' is not 'truth' or MEAN:STD[,MEAN:STD...]", spec);
        if (!isfinite((*mean)[c]) || !isfinite((*sd)[c]) || !((*sd)[c] > 0))
            cli_die(EXIT_USAGE, "option --standardize: channel %zu needs a finite mean and a positive finite std", c);
        q = *end ? end + 1 : end;
    }
    return n;
}

static void unit_reserve(acc *A)
{
    if (A->nunits < A->cap) return;
    A->cap = A->cap ? 2 * A->cap : 64;
    A->S = realloc(A->S, A->cap * A->nslots * sizeof(double));
    if (!A->S) cli_die(EXIT_DATA, "out of memory");
    if (A->keep_units) {
        size_t m = A->C * A->nspec;
        A->P = realloc(A->P, A->cap * m * sizeof(double));
        A->Q = realloc(A->Q, A->cap * m * sizeof(double));
        if (!A->P || !A->Q) cli_die(EXIT_DATA, "out of memory");
    }
}

// A string, so that an explicit 0 is told from the option's absence.
static long parse_bootstrap(const char *boot_s)
{
    char *end;
    errno = 0;
    long nboot = strtol(boot_s, &end, 10);
    if (end == boot_s || *end || errno) cli_die(EXIT_USAGE, "option --bootstrap: '%s' is not an integer", boot_s);
    if (nboot < 1) cli_die(EXIT_USAGE, "option --bootstrap: %ld replicates; give at least 1", nboot);
    return nboot;
}

static int print_stats(const char *stats, const char *dims)
{
    double *m, *sd;
    size_t C = channel_stats(stats, dims, &m, &sd);
    for (size_t c = 0; c < C; c++) printf("%s%.10g:%.10g", c ? "," : "", m[c], sd[c]);
    printf("\n");
    if (fflush(stdout) || ferror(stdout)) cli_die(EXIT_DATA, "writing stdout failed");
    return 0;
}

// The per-channel (m_c, s_c) of --standardize; the count of channels (0: none).
static size_t load_norm(const char *stdz, const char *truth, const char *dims, double **nm, double **ns)
{
    size_t nC = 0;
    if (stdz && !strcmp(stdz, "truth")) {
        if (!regular(truth)) cli_die(EXIT_USAGE, "--standardize truth reads TRUTH twice: it must be a file");
        nC = channel_stats(truth, dims, nm, ns);
        for (size_t c = 0; c < nC; c++)
            if (!((*ns)[c] > 0)) cli_die(EXIT_DATA, "%s: channel %zu is constant; it cannot be standardised", truth, c);
    } else if (stdz) {
        nC = parse_norm(stdz, nm, ns);
    }
    return nC;
}

// Pred records per truth record: --members, else counted when both are files, else 1.
static size_t members_of(long members, char **ops)
{
    if (members) return (size_t)members;
    if (!regular(ops[0]) || !regular(ops[1])) return 1;
    size_t nt = count_records(ops[0]), np = count_records(ops[1]);
    if (nt == 0) cli_die(EXIT_DATA, "%s: no records", ops[0]);
    if (np % nt) cli_die(EXIT_DATA, "PRED has %zu records and TRUTH %zu: not K per truth record", np, nt);
    return np / nt;
}

// What the comparison reads and how.
typedef struct {
    const char *dims;
    int stdz, summary;
    long members, nboot;
    size_t nC;
    double *nm, *ns;   // (nC) the --standardize constants
} run;

// Working arrays sized on truth record 0.
typedef struct {
    double *buf, *cb, *vp, *scratch, *dfro, *rmax;
} work;

static void first_record(const run *R, acc *A, met_slots *sl, work *W, const layout *lu)
{
    size_t K = A->K;
    A->T = lu->T;
    A->C = lu->C;
    A->D = lu->D;
    if (R->stdz && R->nC != A->C)
        cli_die(EXIT_DATA, "--standardize gives %zu channel(s) but the records have %zu", R->nC, A->C);
    int n[3], rank = spec_shape(lu, n);
    A->nspec = spec_half_size(rank, n);
    met_slots_init(sl, A->T, A->C, A->D, K);
    A->nslots = sl->nslots;
    if (!A->keep_units) {
        A->P = calloc(A->C * A->nspec, sizeof(double));
        A->Q = calloc(A->C * A->nspec, sizeof(double));
    }
    size_t pathn = lu->T * lu->C * lu->D;
    W->buf = malloc(pathn * sizeof(double));
    W->cb = malloc(lu->T * lu->D * sizeof(double));
    W->vp = malloc(K * pathn * sizeof(double));
    W->scratch = malloc(met_unit_scratch(sl) * sizeof(double));
    W->dfro = malloc(K * sizeof(double));
    W->rmax = malloc(K * sizeof(double));
    if (!W->buf || !W->cb || !W->vp || !W->scratch || !W->dfro || !W->rmax || (!A->keep_units && (!A->P || !A->Q)))
        cli_die(EXIT_DATA, "out of memory");
}

// Path p of the truth record u (into W->buf) and of its K members (into
// W->vp), each as (T, C, D), standardised when asked, their spectra added to
// Pu and Qu on the way.
static void gather_unit(const run *R, const acc *A, work *W, const tsr_record *u, const tsr_record *v, const layout *lu,
                        size_t p, double *Pu, double *Qu, long it, long ip)
{
    size_t T = A->T, C = A->C, D = A->D, K = A->K, fd = C * D;
    int n[3], rank = spec_shape(lu, n);
    eddy_err e;
    for (size_t k = 0; k <= K; k++) {
        const tsr_record *rec = k == 0 ? u : &v[k - 1];
        double *dst = k == 0 ? W->buf : W->vp + (k - 1) * T * fd, *cb = W->cb;
        for (size_t c = 0; c < C; c++) {
            layout_gather(lu, rec, p, c, cb);
            if (R->stdz) met_standardize(cb, T * D, R->nm[c], R->ns[c]);
            if (spec_power_acc(cb, rank, n, (k == 0 ? Pu : Qu) + c * A->nspec, &e))
                cli_die(EXIT_DATA, "%s record %ld: %s", k ? "pred" : "truth", k ? ip - (long)K + (long)k - 1 : it, e.msg);
            for (size_t t = 0; t < T; t++) memcpy(dst + t * fd + c * D, cb + t * D, D * sizeof(double));
        }
    }
}

// Reads TRUTH and PRED to the end, one unit per truth path into A; the
// per-sample rows go to rowf.  The slot layout into sl.
static void accumulate(const run *R, tsr_reader *rt, tsr_reader *rp, acc *A, met_slots *sl, FILE *rowf)
{
    size_t K = A->K;
    tsr_record u, *v = calloc(K, sizeof *v);
    tsr_record_init(&u);
    for (size_t k = 0; k < K; k++) tsr_record_init(&v[k]);
    eddy_err e;
    long it = 0, ip = 0;
    layout l0 = { 0 }, lu;
    work W = { 0 };
    size_t nsamples = 0;
    while (read_field(rt, &u, R->dims, &lu, "truth", it)) {
        for (size_t k = 0; k < K; k++, ip++) {
            layout lv;
            if (!read_field(rp, &v[k], R->dims, &lv, "pred", ip))
                cli_die(EXIT_DATA, "PRED ends after %ld records but TRUTH has at least %ld (x %zu members)", ip, it + 1, K);
            check_same(&u, &lu, &v[k], &lv, it, ip);
        }
        if (it == 0) {
            l0 = lu;
            first_record(R, A, sl, &W, &lu);
        } else if (lu.T != l0.T || lu.C != l0.C || lu.D != l0.D || lu.ny != l0.ny || strcmp(lu.dims, l0.dims)) {
            die_rec(it, "shape differs from truth record 0 (spectra and per-frame averages need one shape)");
        }
        size_t ms = A->C * A->nspec;
        for (size_t p = 0; p < lu.npaths; p++) {
            unit_reserve(A);
            double *S = A->S + A->nunits * A->nslots;
            double *Pu = A->keep_units ? A->P + A->nunits * ms : A->P, *Qu = A->keep_units ? A->Q + A->nunits * ms : A->Q;
            memset(S, 0, A->nslots * sizeof(double));
            if (A->keep_units) {
                memset(Pu, 0, ms * sizeof(double));
                memset(Qu, 0, ms * sizeof(double));
            }
            gather_unit(R, A, &W, &u, v, &lu, p, Pu, Qu, it, ip);
            if (met_unit_sums(sl, W.buf, W.vp, S, W.dfro, W.rmax, W.scratch, &e)) {
                char m[sizeof e.msg + 32];
                snprintf(m, sizeof m, "path %zu %s", p, e.msg);
                die_rec(it, m);
            }
            for (size_t k = 0; k < K; k++, nsamples++)
                if (!R->summary) {
                    fprintf(rowf, "d_fro\tsample=%zu\t%.10g%s\n", nsamples, W.dfro[k], R->nboot > 0 ? "\t\t" : "");
                    fprintf(rowf, "rel_max\tsample=%zu\t%.10g%s\n", nsamples, W.rmax[k], R->nboot > 0 ? "\t\t" : "");
                }
            A->nunits++;
        }
        it++;
    }
    if (it == 0) cli_die(EXIT_DATA, "TRUTH has no records");
    tsr_record extra;
    tsr_record_init(&extra);
    int rc = tsr_read_header_only(rp, &extra, &e);
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (rc == 1)
        cli_die(EXIT_DATA, "PRED has more records than TRUTH (%ld) x members (%zu)%s", it, K,
                R->members ? "" : "; give --members K for an ensemble read from a pipe");
}

// The rows, in print order (spec_err rows follow them); *nmain the count
// before the ensemble rows.
static mrow *make_rows(const acc *A, const met_slots *s, size_t *nrows, size_t *nmain)
{
    size_t T = A->T, C = A->C, K = A->K, nr = 0, maxr = 2 * T + 2 * (C * T + C) + 16;
    mrow *R = calloc(maxr, sizeof *R);
    if (!R) cli_die(EXIT_DATA, "out of memory");
    double dK = (double)K, vals = (double)(T * C * A->D);
#define ROW(m, d, sl, ...) do { R[nr].metric = m; snprintf(R[nr].key, sizeof R[nr].key, __VA_ARGS__); \
        R[nr].slot = (sl); R[nr].denom = (d); nr++; } while (0)
    for (size_t t = 0; t < T; t++) ROW("rel_l2", dK, s->relt + t, "t=%zu", t);
    ROW("rel_l2", dK, s->relm, "mean");
    if (C > 1)
        for (size_t c = 0; c < C; c++) {
            for (size_t t = 0; t < T; t++) ROW("rel_l2", dK, s->relct + c * T + t, "c=%zu,t=%zu", c, t);
            ROW("rel_l2", dK, s->relcm + c, "c=%zu,mean", c);
        }
    ROW("d_fro", dK, s->dfro, "mean");
    ROW("rel_max", dK, s->rmax, "mean");
    ROW("mse", dK * vals, s->se, "all");
    *nmain = nr;
    if (K > 1) {
        for (size_t t = 0; t < T; t++) {
            ROW("ens_rel_l2", 1, s->ens + t, "t=%zu", t);
            ROW("ens_spread", 1, s->spread + t, "t=%zu", t);
        }
        ROW("ens_rel_l2", 1, s->ensm, "mean");
        ROW("ens_spread", 1, s->spreadm, "mean");
        ROW("crps", vals, s->crps, "all");
    }
#undef ROW
    *nrows = nr;
    return R;
}

// The estimate est (nr + C values), and with nboot > 0 the 2.5 and 97.5 %
// quantiles of the bootstrap replicates in lo and hi.
static void estimate(const acc *A, const mrow *R, size_t nr, long nboot, long seed, double *est, double *lo, double *hi)
{
    met_units U = { A->nunits, A->nslots, A->C, A->nspec, A->K, A->S, A->P, A->Q, A->keep_units };
    size_t *slot = malloc((nr + 1) * sizeof *slot);
    double *denom = malloc((nr + 1) * sizeof *denom);
    if (!slot || !denom) cli_die(EXIT_DATA, "out of memory");
    for (size_t r = 0; r < nr; r++) slot[r] = R[r].slot, denom[r] = R[r].denom;
    eddy_err e;
    if (met_units_estimate(&U, slot, denom, nr, nboot, (unsigned long long)seed, est, lo, hi, &e))
        cli_die(EXIT_DATA, "%s", e.msg);
    free(slot);
    free(denom);
}

static void print_table(const acc *A, const mrow *R, size_t nr, size_t nmain, long nboot, const double *est,
                        const double *lo, const double *hi, const char *rows, size_t rows_len)
{
    size_t C = A->C, nv = nr + C;
    // One write of the whole table (up to 1 MiB) rather than 4 KiB pieces: a
    // reader that stops early (relerr ... | head, under pipefail) then meets
    // a finished writer instead of killing it by SIGPIPE mid-table.
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    printf(nboot > 0 ? "metric\tkey\tvalue\tlo\thi\n" : "metric\tkey\tvalue\n");
    for (size_t j = 0; j < nv; j++) {
        if (j == nmain) // spec_err rows after the single-sample metrics, as before
            for (size_t c = 0; c < C; c++) {
                printf("spec_err\tc=%zu\t%.10g", c, est[nr + c]);
                if (nboot > 0) printf("\t%.10g\t%.10g", lo[nr + c], hi[nr + c]);
                printf("\n");
            }
        if (j >= nr) break;
        printf("%s\t%s\t%.10g", R[j].metric, R[j].key, est[j]);
        if (nboot > 0) printf("\t%.10g\t%.10g", lo[j], hi[j]);
        printf("\n");
    }
    if (A->K > 1) printf("members\tall\t%zu%s\n", A->K, nboot > 0 ? "\t\t" : "");
    fwrite(rows, 1, rows_len, stdout);
    if (fflush(stdout) || ferror(stdout)) cli_die(EXIT_DATA, "writing stdout failed");
}

int main(int argc, char **argv)
{
    const char *dims = NULL, *stdz = NULL, *stats = NULL, *boot_s = NULL;
    long members = 0, nboot = 0, seed = 0;
    int summary = 0;
    cli_opt opts[] = {
        { "members", 'k', OPT_LONG, &members, "K", "pred records per truth record (0: 1, or counted when both are files)", 0, CLI_BIG},
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names for both streams, overriding dims attributes" },
        { "summary", 0, OPT_FLAG, &summary, NULL, "only the averaged rows (no per-sample rows)" },
        { "standardize", 0, OPT_STRING, &stdz, "SPEC", "(u - m_c)/s_c on both streams: 'truth' or m0:s0,m1:s1,..." },
        { "stats", 0, OPT_STRING, &stats, "FILE", "print FILE's per-channel mean:std,... (for --standardize) and exit" },
        { "bootstrap", 'b', OPT_STRING, &boot_s, "N", "bootstrap replicates over truth paths: 2.5-97.5 % intervals (lo, hi)" },
        CLI_OPT_SEED(&seed, "seed of the bootstrap replicates"),
        CLI_OPT_END,
    };
    cli_spec spec = { "relerr", "[options] TRUTH PRED | --stats FILE", "error metrics of a prediction against the truth (TSV)",
                      description, example, opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (boot_s) nboot = parse_bootstrap(boot_s);
    if (seed < 0) cli_die(EXIT_USAGE, "option --seed: %ld is negative", seed);
    if (stats) {
        if (nops) cli_die(EXIT_USAGE, "--stats takes no operands (got %d)", nops);
        return print_stats(stats, dims);
    }
    if (nops != 2) cli_die(EXIT_USAGE, "need two operands, TRUTH and PRED (got %d)", nops);
    if (!strcmp(ops[0], "-") && !strcmp(ops[1], "-")) cli_die(EXIT_USAGE, "TRUTH and PRED cannot both be stdin");
    if (members < 0) cli_die(EXIT_USAGE, "option --members: %ld is negative", members);
    run R = { .dims = dims, .stdz = stdz != NULL, .summary = summary, .members = members, .nboot = nboot };
    R.nC = load_norm(stdz, ops[0], dims, &R.nm, &R.ns);
    acc A = { .K = members_of(members, ops), .keep_units = nboot > 0 };

    tsr_reader *rt = cli_reader(ops[0], NULL), *rp = cli_reader(ops[1], NULL);
    char *rows = NULL;   // per-sample rows, printed after the means
    size_t rows_len = 0, nr, nmain;
    FILE *rowf = open_memstream(&rows, &rows_len);
    met_slots sl;
    accumulate(&R, rt, rp, &A, &sl, rowf);
    fclose(rowf);
    mrow *M = make_rows(&A, &sl, &nr, &nmain);
    double *est = malloc((nr + A.C) * sizeof(double)), *lo = malloc((nr + A.C) * sizeof(double)),
           *hi = malloc((nr + A.C) * sizeof(double));
    if (!est || !lo || !hi) cli_die(EXIT_DATA, "out of memory");
    estimate(&A, M, nr, nboot, seed, est, lo, hi);
    print_table(&A, M, nr, nmain, nboot, est, lo, hi, rows, rows_len);
    free(rows);
    return 0;
}
