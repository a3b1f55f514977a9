// tsv-plot: line plots of TSV tables (spectra, error curves) to PNG.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"

static const char *description =
    "Reads a tab-separated table whose first line names the columns (what spectrum --tsv\n"
    "and relerr write) and draws column --y against column --x, one line per distinct value\n"
    "of --by (e.g. the channel c or the record), in the order they first appear.  Rows whose\n"
    "--where column differs from the given value are skipped (e.g. --where metric=rel_l2).\n"
    "A value like 't=6' is read as 6, so relerr's keys plot directly.  There are no text\n"
    "labels: the axis ranges and series are reported on stderr (unless --quiet); grid lines\n"
    "fall on decades of log axes and on fifths of linear ones.  Series colours, in order:\n"
    "blue, vermilion, green, purple, sky blue, orange (Okabe-Ito, colour-blind safe).\n"
    "For publication plots, the same tables feed gnuplot (installed by make deps).";

static const char *example =
    "  spectrum --mean --tsv kf.tsr | tsv-plot --x wavenumber --y value --by c --logx --logy -o E.png\n"
    "  relerr truth.tsr pred.tsr | tsv-plot --where metric=rel_l2 --x key --y value -o err.png";

#define MAXCOL 32

static int split(char *line, char **f)
{
    int n = 0;
    for (char *s = line;; ) {
        if (n == MAXCOL) break;
        f[n++] = s;
        char *t = strchr(s, '\t');
        if (!t) break;
        *t = 0;
        s = t + 1;
    }
    return n;
}

static double num(const char *s)
{
    const char *eq = strchr(s, '=');
    if (eq) s = eq + 1;
    char *end;
    double v = strtod(s, &end);
    return end == s ? NAN : v;
}

int main(int argc, char **argv)
{
    const char *xc = NULL, *yc = NULL, *by = NULL, *where = NULL, *out = NULL;
    int logx = 0, logy = 0, w = 640, h = 400, quiet = 0;
    cli_opt opts[] = {
        { "x", 'x', OPT_STRING, &xc, "COL", "column for x (required)" },
        { "y", 'y', OPT_STRING, &yc, "COL", "column for y (required)" },
        { "by", 0, OPT_STRING, &by, "COL", "one line per value of this column" },
        { "where", 0, OPT_STRING, &where, "COL=VAL", "keep only rows whose COL equals VAL" },
        { "logx", 0, OPT_FLAG, &logx, NULL, "logarithmic x axis (drops x <= 0)" },
        { "logy", 0, OPT_FLAG, &logy, NULL, "logarithmic y axis (drops y <= 0)" },
        { "width", 0, OPT_INT, &w, "PX", "image width in pixels", 16, 32768},
        { "height", 0, OPT_INT, &h, "PX", "image height in pixels", 16, 32768},
        CLI_OPT_OUTPUT(&out, "the PNG to write (required)"),
        { "quiet", 'q', OPT_FLAG, &quiet, NULL, "do not report ranges on stderr" },
        CLI_OPT_END,
    };
    cli_spec spec = { "tsv-plot", "[options] -x COL -y COL -o OUT.png [FILE]", "line plots of TSV tables to PNG",
                      description, example, opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops > 1) cli_die(EXIT_USAGE, "one input table at most");
    if (!xc || !yc) cli_die(EXIT_USAGE, "options --x and --y are required");
    if (!out) cli_die(EXIT_USAGE, "option --output (-o FILE.png) is required");
    if (w < 64 || h < 64 || w > 8192 || h > 8192) cli_die(EXIT_USAGE, "image size %dx%d not in 64..8192", w, h);
    char wcol[256] = "", wval[256] = "";
    if (where) {
        const char *eq = strchr(where, '=');
        if (!eq || eq == where || (size_t)(eq - where) >= sizeof wcol || strlen(eq + 1) >= sizeof wval)
            cli_die(EXIT_USAGE, "option --where: '%s' is not COL=VALUE", where);
        memcpy(wcol, where, (size_t)(eq - where));
        strcpy(wval, eq + 1);
    }
    FILE *in = cli_open_in(nops ? ops[0] : "-");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, in);
    if (len <= 0) cli_die(EXIT_DATA, "empty table (no header line)");
    if (line[len - 1] == '\n') line[len - 1] = 0;
    char *f[MAXCOL];
    int nf = split(line, f), ix = -1, iy = -1, ib = -1, iw = -1;
    for (int i = 0; i < nf; i++) {
        if (!strcmp(f[i], xc)) ix = i;
        if (!strcmp(f[i], yc)) iy = i;
        if (by && !strcmp(f[i], by)) ib = i;
        if (where && !strcmp(f[i], wcol)) iw = i;
    }
    if (ix < 0) cli_die(EXIT_DATA, "no column '%s' in the header", xc);
    if (iy < 0) cli_die(EXIT_DATA, "no column '%s' in the header", yc);
    if (by && ib < 0) cli_die(EXIT_DATA, "no column '%s' in the header", by);
    if (where && iw < 0) cli_die(EXIT_DATA, "no column '%s' in the header", wcol);

    // Points grouped by series; each series gets its own x array, so rows of
    // different series need not share x values: plotted one series at a time.
    int ns = 0;
    char **names = NULL;
    double **xs = NULL, **ys = NULL;
    size_t *cnt = NULL, *scap = NULL;
    long row = 1;
    while ((len = getline(&line, &cap, in)) > 0) {
        row++;
        if (line[len - 1] == '\n') line[--len] = 0;
        if (!len) continue;
        nf = split(line, f);
        int need = ix > iy ? ix : iy;
        if (ib > need) need = ib;
        if (iw > need) need = iw;
        if (nf <= need) cli_die(EXIT_DATA, "row %ld has %d columns, fewer than the header's", row, nf);
        if (where && strcmp(f[iw], wval)) continue;
        const char *key = ib >= 0 ? f[ib] : "";
        int s = 0;
        while (s < ns && strcmp(names[s], key)) s++;
        if (s == ns) {
            names = realloc(names, (size_t)(ns + 1) * sizeof *names);
            xs = realloc(xs, (size_t)(ns + 1) * sizeof *xs);
            ys = realloc(ys, (size_t)(ns + 1) * sizeof *ys);
            cnt = realloc(cnt, (size_t)(ns + 1) * sizeof *cnt);
            scap = realloc(scap, (size_t)(ns + 1) * sizeof *scap);
            if (!names || !xs || !ys || !cnt || !scap) cli_die(EXIT_DATA, "out of memory");
            names[ns] = strdup(key);
            xs[ns] = ys[ns] = NULL;
            cnt[ns] = scap[ns] = 0;
            ns++;
        }
        if (cnt[s] == scap[s]) {
            scap[s] = scap[s] ? 2 * scap[s] : 64;
            xs[s] = realloc(xs[s], scap[s] * sizeof(double));
            ys[s] = realloc(ys[s], scap[s] * sizeof(double));
            if (!xs[s] || !ys[s]) cli_die(EXIT_DATA, "out of memory");
        }
        xs[s][cnt[s]] = num(f[ix]);
        ys[s][cnt[s]] = num(f[iy]);
        cnt[s]++;
    }
    if (ns == 0) cli_die(EXIT_DATA, "no rows to plot");
    // One plot range for all series: draw them concatenated with a NaN
    // between series, which breaks the line.
    size_t total = 0;
    for (int s = 0; s < ns; s++) total += cnt[s] + 1;
    image im;
    eddy_err e;
    if (image_new(&im, w, h, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    const int ml = 10, mt = 10;
    double range[4];
    // Common range first (all points as one series), then each series in
    // its colour over that range.
    double *X = malloc(total * sizeof *X), *Y = malloc((size_t)ns * total * sizeof *Y);
    if (!X || !Y) cli_die(EXIT_DATA, "out of memory");
    size_t k = 0;
    for (int s = 0; s < ns; s++) {
        for (size_t i = 0; i < cnt[s]; i++, k++) {
            X[k] = xs[s][i];
            for (int t = 0; t < ns; t++) Y[(size_t)t * total + k] = t == s ? ys[s][i] : NAN;
        }
        X[k] = NAN;
        for (int t = 0; t < ns; t++) Y[(size_t)t * total + k] = NAN;
        k++;
    }
    render_lines(&im, ml, mt, w - 2 * ml, h - 2 * mt, X, Y, ns, total, logx, logy, range);
    if (!strcmp(out, "-")) cli_stdout_binary();
    if (image_save_png(&im, out, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (!quiet) {
        fprintf(stderr, "tsv-plot: x %s [%.6g, %.6g]%s, y %s [%.6g, %.6g]%s; series:", xc,
                logx ? pow(10, range[0]) : range[0], logx ? pow(10, range[1]) : range[1], logx ? " log" : "", yc,
                logy ? pow(10, range[2]) : range[2], logy ? pow(10, range[3]) : range[3], logy ? " log" : "");
        for (int s = 0; s < ns; s++) fprintf(stderr, " %s%s%s (%zu points)", by ? by : "all", by ? "=" : "", names[s], cnt[s]);
        fputc('\n', stderr);
    }
    free(X); free(Y); free(line);
    for (int s = 0; s < ns; s++) { free(xs[s]); free(ys[s]); free(names[s]); }
    free(xs); free(ys); free(names); free(cnt); free(scap);
    image_free(&im);
    return 0;
}
