// relerr: error metrics of a predicted stream against the true one (SPEC §4),
// as TSV, one row per metric.
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
    "t, c, y, x).  Fields must be <f4 or <f8 without NaN or Inf.  Output: TSV on stdout,\n"
    "header 'metric<TAB>key<TAB>value', values with 10 significant digits.\n"
    "\n"
    "Metrics (u truth, v prediction):\n"
    "  rel_l2   t=N   ||u_t - v_t||_2 / ||u_t||_2 at frame t, norms pooled over channels and\n"
    "                 space, averaged over samples (seed 001 reports t=6); 'mean' averages\n"
    "                 the frames.\n"
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
    "  relerr truth.tsr ens.tsr --members 8 | awk '$1==\"crps\"'";

// Accumulators over the whole comparison.
typedef struct {
    size_t T, C, nspec;
    double *relt;      // (T) Σ over samples of rel L2 at frame t
    double *ens_relt, *ens_spreadt;   // (T)
    size_t nsamples, ntruth;
    double dfro, relmax, se, nvalues, crps;
    double *P, *Q;     // (C, nspec) spectra sums
    size_t nP, nQ;
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

// Adds the power spectra of every sample and channel of rec into S.
static void add_spectra(const layout *l, const tsr_record *rec, double *S, double *buf, size_t nspec, long idx)
{
    int n[3], rank = spec_shape(l, n);
    eddy_err e;
    for (size_t p = 0; p < l->npaths; p++)
        for (size_t c = 0; c < l->C; c++) {
            layout_gather(l, rec, p, c, buf);
            if (spec_power_acc(buf, rank, n, S + c * nspec, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        }
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

int main(int argc, char **argv)
{
    const char *dims = NULL;
    long members = 0;
    int summary = 0;
    cli_opt opts[] = {
        { "members", 'k', OPT_LONG, &members, "K", "pred records per truth record (0: 1, or counted when both are files)", 0, CLI_BIG},
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names for both streams, overriding dims attributes" },
        { "summary", 0, OPT_FLAG, &summary, NULL, "only the averaged rows (no per-sample rows)" },
        CLI_OPT_END,
    };
    cli_spec spec = { "relerr", "[options] TRUTH PRED", "error metrics of a prediction against the truth (TSV)",
                      description, example, opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops != 2) cli_die(EXIT_USAGE, "need two operands, TRUTH and PRED (got %d)", nops);
    if (!strcmp(ops[0], "-") && !strcmp(ops[1], "-")) cli_die(EXIT_USAGE, "TRUTH and PRED cannot both be stdin");
    if (members < 0) cli_die(EXIT_USAGE, "option --members: %ld is negative", members);
    size_t K = (size_t)members;
    if (K == 0) {
        K = 1;
        if (regular(ops[0]) && regular(ops[1])) {
            size_t nt = count_records(ops[0]), np = count_records(ops[1]);
            if (nt == 0) cli_die(EXIT_DATA, "%s: no records", ops[0]);
            if (np % nt) cli_die(EXIT_DATA, "PRED has %zu records and TRUTH %zu: not K per truth record", np, nt);
            K = np / nt;
        }
    }

    tsr_reader *rt = cli_reader(ops[0], NULL), *rp = cli_reader(ops[1], NULL);
    tsr_record u, *v = calloc(K, sizeof *v);
    tsr_record_init(&u);
    for (size_t k = 0; k < K; k++) tsr_record_init(&v[k]);
    eddy_err e;
    acc A = { 0 };
    long it = 0, ip = 0;
    layout l0 = { 0 };
    double *buf = NULL, *bufv = NULL, *mean = NULL, *ens = NULL, *work = malloc(K * sizeof(double));
    char *rows = NULL;   // per-sample rows, printed after the means
    size_t rows_len = 0;
    FILE *rowf = open_memstream(&rows, &rows_len);
    int rc;
    while ((rc = tsr_read(rt, &u, &e)) == 1) {
        layout lu;
        if (field_check(&u, &e) || layout_of(&u, dims, &lu, &e)) die_rec(it, e.msg);
        for (size_t k = 0; k < K; k++, ip++) {
            int r2 = tsr_read(rp, &v[k], &e);
            if (r2 < 0) cli_die(EXIT_DATA, "%s", e.msg);
            if (r2 == 0)
                cli_die(EXIT_DATA, "PRED ends after %ld records but TRUTH has at least %ld (x %zu members)", ip, it + 1, K);
            layout lv;
            if (field_check(&v[k], &e) || layout_of(&v[k], dims, &lv, &e))
                cli_die(EXIT_DATA, "pred record %ld: %s", ip, e.msg);
            check_same(&u, &lu, &v[k], &lv, it, ip);
        }
        if (it == 0) {
            l0 = lu;
            A.T = lu.T;
            A.C = lu.C;
            int n[3], rank = spec_shape(&lu, n);
            A.nspec = spec_half_size(rank, n);
            A.relt = calloc(A.T, sizeof(double));
            A.ens_relt = calloc(A.T, sizeof(double));
            A.ens_spreadt = calloc(A.T, sizeof(double));
            A.P = calloc(A.C * A.nspec, sizeof(double));
            A.Q = calloc(A.C * A.nspec, sizeof(double));
            size_t pathn = lu.T * lu.C * lu.D;
            buf = malloc(pathn * sizeof(double));
            bufv = malloc(pathn * sizeof(double));
            mean = malloc(lu.C * lu.D * sizeof(double));
            ens = malloc(K * lu.C * lu.D * sizeof(double));
            if (!buf || !bufv || !mean || !ens || !A.P || !A.Q || !work) cli_die(EXIT_DATA, "out of memory");
        } else if (lu.T != l0.T || lu.C != l0.C || lu.D != l0.D || lu.ny != l0.ny || strcmp(lu.dims, l0.dims)) {
            die_rec(it, "shape differs from truth record 0 (spectra and per-frame averages need one shape)");
        }
        size_t fd = lu.C * lu.D;   // values per frame of one path
        for (size_t p = 0; p < lu.npaths; p++) {
            // Gather the truth path as (T, C, D), each member likewise.
            for (size_t c = 0; c < lu.C; c++) {
                layout_gather(&lu, &u, p, c, bufv);
                for (size_t t = 0; t < lu.T; t++) memcpy(buf + t * fd + c * lu.D, bufv + t * lu.D, lu.D * sizeof(double));
            }
            double *vp = malloc(K * lu.T * fd * sizeof(double));
            if (!vp) cli_die(EXIT_DATA, "out of memory");
            for (size_t k = 0; k < K; k++)
                for (size_t c = 0; c < lu.C; c++) {
                    layout_gather(&lu, &v[k], p, c, bufv);
                    for (size_t t = 0; t < lu.T; t++)
                        memcpy(vp + (k * lu.T + t) * fd + c * lu.D, bufv + t * lu.D, lu.D * sizeof(double));
                }
            for (size_t k = 0; k < K; k++) {
                const double *w = vp + k * lu.T * fd;
                met_acc whole = { 0 };
                for (size_t t = 0; t < lu.T; t++) {
                    met_acc fr = { 0 };
                    met_acc_add(&fr, buf + t * fd, w + t * fd, fd);
                    double r = met_acc_rel_l2(&fr);
                    if (isnan(r)) {
                        char m[96];
                        snprintf(m, sizeof m, "path %zu frame %zu is identically zero: relative L2 undefined", p, t);
                        die_rec(it, m);
                    }
                    A.relt[t] += r;
                    met_acc_add(&whole, buf + t * fd, w + t * fd, fd);
                }
                double sample = (double)(A.nsamples);
                A.dfro += met_acc_rel_l2(&whole);
                A.relmax += met_acc_rel_max(&whole);
                A.se += whole.diff2;
                A.nvalues += (double)(lu.T * fd);
                if (!summary) {
                    fprintf(rowf, "d_fro\tsample=%.0f\t%.10g\n", sample, met_acc_rel_l2(&whole));
                    fprintf(rowf, "rel_max\tsample=%.0f\t%.10g\n", sample, met_acc_rel_max(&whole));
                }
                A.nsamples++;
            }
            if (K > 1) {
                for (size_t t = 0; t < lu.T; t++) {
                    for (size_t k = 0; k < K; k++) memcpy(ens + k * fd, vp + (k * lu.T + t) * fd, fd * sizeof(double));
                    met_ens_mean(ens, (int)K, fd, mean);
                    double ref = 0;
                    for (size_t i = 0; i < fd; i++) ref += buf[t * fd + i] * buf[t * fd + i];
                    A.ens_relt[t] += met_rel_l2(buf + t * fd, mean, fd);
                    A.ens_spreadt[t] += sqrt(met_ens_var_sum(ens, (int)K, fd, mean) / ref);
                    A.crps += met_crps_sum(ens, (int)K, buf + t * fd, fd, work);
                }
            }
            free(vp);
            A.ntruth++;
        }
        add_spectra(&lu, &u, A.P, buf, A.nspec, it);
        A.nP += lu.npaths;
        for (size_t k = 0; k < K; k++) add_spectra(&lu, &v[k], A.Q, buf, A.nspec, ip - (long)K + (long)k);
        A.nQ += K * lu.npaths;
        it++;
    }
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (it == 0) cli_die(EXIT_DATA, "TRUTH has no records");
    tsr_record extra;
    tsr_record_init(&extra);
    rc = tsr_read_header_only(rp, &extra, &e);
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (rc == 1)
        cli_die(EXIT_DATA, "PRED has more records than TRUTH (%ld) x members (%zu)%s", it, K,
                members ? "" : "; give --members K for an ensemble read from a pipe");
    fclose(rowf);

    printf("metric\tkey\tvalue\n");
    double ns = (double)A.nsamples, nt = (double)A.ntruth, relmean = 0, ensmean = 0, spreadmean = 0;
    for (size_t t = 0; t < A.T; t++) {
        printf("rel_l2\tt=%zu\t%.10g\n", t, A.relt[t] / ns);
        relmean += A.relt[t] / ns / (double)A.T;
    }
    printf("rel_l2\tmean\t%.10g\n", relmean);
    printf("d_fro\tmean\t%.10g\n", A.dfro / ns);
    printf("rel_max\tmean\t%.10g\n", A.relmax / ns);
    printf("mse\tall\t%.10g\n", A.se / A.nvalues);
    for (size_t c = 0; c < A.C; c++) {
        for (size_t m = 0; m < A.nspec; m++) {
            A.P[c * A.nspec + m] /= (double)A.nP;
            A.Q[c * A.nspec + m] /= (double)A.nQ;
        }
        printf("spec_err\tc=%zu\t%.10g\n", c, met_spec_err(A.P + c * A.nspec, A.Q + c * A.nspec, A.nspec));
    }
    if (K > 1) {
        for (size_t t = 0; t < A.T; t++) {
            printf("ens_rel_l2\tt=%zu\t%.10g\n", t, A.ens_relt[t] / nt);
            printf("ens_spread\tt=%zu\t%.10g\n", t, A.ens_spreadt[t] / nt);
            ensmean += A.ens_relt[t] / nt / (double)A.T;
            spreadmean += A.ens_spreadt[t] / nt / (double)A.T;
        }
        printf("ens_rel_l2\tmean\t%.10g\n", ensmean);
        printf("ens_spread\tmean\t%.10g\n", spreadmean);
        printf("crps\tall\t%.10g\n", A.crps / (nt * (double)A.T * (double)(A.C * l0.D)));
        printf("members\tall\t%zu\n", K);
    }
    fwrite(rows, 1, rows_len, stdout);
    free(rows);
    if (fflush(stdout) || ferror(stdout)) cli_die(EXIT_DATA, "writing stdout failed");
    return 0;
}
