// tsv-plot: line plots of TSV tables (spectra, error curves) to PNG.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"

static const char *okabe_ito[] = { "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#e69f00", "#f0e442", "#000000" };

static const char *description =
    "Reads a tab-separated table whose first line names the columns (what spectrum --tsv\n"
    "and relerr write) and draws column --y against column --x, one line per distinct value\n"
    "of --by (e.g. the channel c or the record), in the order they first appear; the legend\n"
    "names each series 'BY=value' (or --legend's title over the values; without --by the\n"
    "one series is named by the y label).  Rows whose --where\n"
    "column differs from the given value are skipped (e.g. --where metric=rel_l2).  A value\n"
    "like 't=6' is read as 6, so relerr's keys plot directly; any other value that is not a\n"
    "number is an error (nothing is written).  gnuplot (pngcairo) draws the figure: title,\n"
    "axis labels (default: the column names; give units with --xlabel/--ylabel), ticks, log\n"
    "axes marked '(log scale)' with decade ticks, and the legend.  Series colours, in order:\n"
    "blue, vermilion, green, purple, sky blue, orange, yellow, black (Okabe-Ito, colour-blind\n"
    "safe), then dashed.  --script saves the gnuplot commands, data inline, to re-run by hand.";

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

// The number in a cell ("6" or "t=6"); 0 when it is not one.
static int num(const char *s, double *v)
{
    const char *eq = strchr(s, '=');
    if (eq) s = eq + 1;
    char *end;
    *v = strtod(s, &end);
    while (*end == ' ' || *end == '\r') end++;
    return end != s && !*end;
}

// What to plot and how: the options.
typedef struct {
    const char *xc, *yc, *by, *where, *title, *xlabel, *ylabel, *legend;
    int logx, logy;
    char wcol[256], wval[256];   // --where COL=VALUE
} plot;

// Points grouped by series; each series gets its own x array, so rows of
// different series need not share x values: plotted one series at a time.
typedef struct {
    int ns;
    char **names;
    double **xs, **ys;
    size_t *cnt, *scap;
} series;

static void parse_where(plot *P)
{
    const char *where = P->where, *eq = strchr(where, '=');
    if (!eq || eq == where || (size_t)(eq - where) >= sizeof P->wcol || strlen(eq + 1) >= sizeof P->wval)
        cli_die(EXIT_USAGE, "option --where: '%s' is not COL=VALUE", where);
    memcpy(P->wcol, where, (size_t)(eq - where));
    strcpy(P->wval, eq + 1);
}

// The index of series key, added when new.
static int series_of(series *S, const char *key)
{
    int s = 0;
    while (s < S->ns && strcmp(S->names[s], key)) s++;
    if (s < S->ns) return s;
    int ns = S->ns;
    S->names = realloc(S->names, (size_t)(ns + 1) * sizeof *S->names);
    S->xs = realloc(S->xs, (size_t)(ns + 1) * sizeof *S->xs);
    S->ys = realloc(S->ys, (size_t)(ns + 1) * sizeof *S->ys);
    S->cnt = realloc(S->cnt, (size_t)(ns + 1) * sizeof *S->cnt);
    S->scap = realloc(S->scap, (size_t)(ns + 1) * sizeof *S->scap);
    if (!S->names || !S->xs || !S->ys || !S->cnt || !S->scap) cli_die(EXIT_DATA, "out of memory");
    S->names[ns] = strdup(key);
    S->xs[ns] = S->ys[ns] = NULL;
    S->cnt[ns] = S->scap[ns] = 0;
    S->ns++;
    return s;
}

// Reads the header and the rows of the table into S.
static void read_table(const plot *P, FILE *in, series *S)
{
    const char *xc = P->xc, *yc = P->yc, *by = P->by, *where = P->where;
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
        if (where && !strcmp(f[i], P->wcol)) iw = i;
    }
    if (ix < 0) cli_die(EXIT_DATA, "no column '%s' in the header", xc);
    if (iy < 0) cli_die(EXIT_DATA, "no column '%s' in the header", yc);
    if (by && ib < 0) cli_die(EXIT_DATA, "no column '%s' in the header", by);
    if (where && iw < 0) cli_die(EXIT_DATA, "no column '%s' in the header", P->wcol);
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
        if (where && strcmp(f[iw], P->wval)) continue;
        int s = series_of(S, ib >= 0 ? f[ib] : "");
        if (S->cnt[s] == S->scap[s]) {
            S->scap[s] = S->scap[s] ? 2 * S->scap[s] : 64;
            S->xs[s] = realloc(S->xs[s], S->scap[s] * sizeof(double));
            S->ys[s] = realloc(S->ys[s], S->scap[s] * sizeof(double));
            if (!S->xs[s] || !S->ys[s]) cli_die(EXIT_DATA, "out of memory");
        }
        if (!num(f[ix], &S->xs[s][S->cnt[s]])) cli_die(EXIT_DATA, "row %ld, column '%s': '%s' is not a number", row, xc, f[ix]);
        if (!num(f[iy], &S->ys[s][S->cnt[s]])) cli_die(EXIT_DATA, "row %ld, column '%s': '%s' is not a number", row, yc, f[iy]);
        S->cnt[s]++;
    }
    free(line);
    if (S->ns == 0) cli_die(EXIT_DATA, "no rows to plot");
}

// One datablock per series (points a log axis cannot show are left out);
// the range of the points kept into range (x min, max, y min, max).
static void script_data(const plot *P, const series *S, sbuf *g, double range[4])
{
    size_t kept = 0;
    for (int s = 0; s < S->ns; s++) {
        sb_printf(g, "$s%d << EOD\n", s);
        for (size_t i = 0; i < S->cnt[s]; i++) {
            double x = S->xs[s][i], y = S->ys[s][i];
            if (!isfinite(x) || !isfinite(y) || (P->logx && x <= 0) || (P->logy && y <= 0)) {
                sb_printf(g, "\n");   // a gap breaks the line
                continue;
            }
            sb_printf(g, "%.17g %.17g\n", x, y);
            range[0] = fmin(range[0], x), range[1] = fmax(range[1], x);
            range[2] = fmin(range[2], y), range[3] = fmax(range[3], y);
            kept++;
        }
        sb_printf(g, "EOD\n");
    }
    if (!kept) cli_die(EXIT_DATA, "no finite points to plot%s", P->logx || P->logy ? " (a log axis drops values <= 0)" : "");
}

// Title, axes, key, then one plot command naming each series.
static void script_plot(const plot *P, const series *S, const double range[4], sbuf *g)
{
    const char *xc = P->xc, *yc = P->yc, *by = P->by, *xlabel = P->xlabel, *ylabel = P->ylabel, *legend = P->legend;
    const char *title = P->title;
    char buf[1024];
    if (!title) snprintf(buf, sizeof buf, "%s against %s", ylabel ? ylabel : yc, xlabel ? xlabel : xc), title = buf;
    sb_printf(g, "set title ");
    sb_quote(g, title);
    sb_printf(g, " noenhanced\n");
    const char *axl[2] = { xlabel ? xlabel : xc, ylabel ? ylabel : yc };
    int lg[2] = { P->logx, P->logy };
    for (int a = 0; a < 2; a++) {
        char lab[600];
        snprintf(lab, sizeof lab, "%s%s", axl[a], lg[a] ? " (log scale)" : "");
        sb_printf(g, "set %clabel ", "xy"[a]);
        sb_quote(g, lab);
        sb_printf(g, " noenhanced\n");
        if (lg[a]) sb_printf(g, "set logscale %c 10\nset format %c '10^{%%L}'\nset m%ctics 10\n", "xy"[a], "xy"[a], "xy"[a]);
        else sb_printf(g, "set m%ctics\n", "xy"[a]);
    }
    sb_printf(g, "set grid xtics ytics mxtics mytics lc rgb '#e0e0e0' lw 0.5, lc rgb '#f0f0f0' lw 0.5\n");
    // One series needs no legend: the y label names it.
    if (by) sb_printf(g, "set key outside right top vertical box opaque reverse Left samplen 3 spacing 1.1 width 1\n");
    else sb_printf(g, "unset key\n");
    if (legend) { sb_printf(g, "set key title "); sb_quote(g, legend); sb_printf(g, " noenhanced\n"); }
    if (range[0] == range[1]) sb_printf(g, "set xrange [%.17g:%.17g]\n", range[0] - 0.5, range[0] + 0.5);
    sb_printf(g, "plot");
    for (int s = 0; s < S->ns; s++) {
        char nm[600];
        if (!by) snprintf(nm, sizeof nm, "%s", yc);
        else if (legend) snprintf(nm, sizeof nm, "%s", S->names[s]);
        else snprintf(nm, sizeof nm, "%s=%s", by, S->names[s]);
        sb_printf(g, "%s $s%d using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 lc rgb '%s' dt %d title ", s ? ", \\\n    " : " ", s,
                  okabe_ito[s % 8], 1 + (s / 8) % 5);
        sb_quote(g, nm);
        sb_printf(g, " noenhanced");
    }
    sb_printf(g, "\n");
}

int main(int argc, char **argv)
{
    const char *xc = NULL, *yc = NULL, *by = NULL, *where = NULL, *out = NULL;
    const char *title = NULL, *xlabel = NULL, *ylabel = NULL, *legend = NULL, *script = NULL;
    int logx = 0, logy = 0, w = 640, h = 400, quiet = 0;
    cli_opt opts[] = {
        { "x", 'x', OPT_STRING, &xc, "COL", "column for x (required)" },
        { "y", 'y', OPT_STRING, &yc, "COL", "column for y (required)" },
        { "by", 0, OPT_STRING, &by, "COL", "one line per value of this column" },
        { "where", 0, OPT_STRING, &where, "COL=VAL", "keep only rows whose COL equals VAL" },
        { "logx", 0, OPT_FLAG, &logx, NULL, "logarithmic x axis (drops x <= 0)" },
        { "logy", 0, OPT_FLAG, &logy, NULL, "logarithmic y axis (drops y <= 0)" },
        { "title", 't', OPT_STRING, &title, "TEXT", "figure title (default: 'Y against X')" },
        { "xlabel", 0, OPT_STRING, &xlabel, "TEXT", "x axis label, with units (default: the column name)" },
        { "ylabel", 0, OPT_STRING, &ylabel, "TEXT", "y axis label, with units (default: the column name)" },
        { "legend", 0, OPT_STRING, &legend, "TEXT", "legend title; series are then named by their value alone" },
        { "script", 0, OPT_STRING, &script, "FILE", "also save the gnuplot script (data inline)" },
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
    plot P = { xc, yc, by, where, title, xlabel, ylabel, legend, logx, logy, "", "" };
    if (where) parse_where(&P);
    FILE *in = cli_open_in(nops ? ops[0] : "-");
    series S = { 0 };
    read_table(&P, in, &S);
    sbuf g = { 0 };
    double range[4] = { INFINITY, -INFINITY, INFINITY, -INFINITY };
    script_data(&P, &S, &g, range);
    script_plot(&P, &S, range, &g);
    if (!strcmp(out, "-")) cli_stdout_binary();
    eddy_err e;
    if (render_png(&g, w, h, out, script, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    sb_free(&g);
    if (!quiet) {
        fprintf(stderr, "tsv-plot: x %s [%.6g, %.6g]%s, y %s [%.6g, %.6g]%s; series:", xc, range[0], range[1],
                logx ? " log" : "", yc, range[2], range[3], logy ? " log" : "");
        for (int s = 0; s < S.ns; s++) fprintf(stderr, " %s%s%s (%zu points)", by ? by : "all", by ? "=" : "", S.names[s], S.cnt[s]);
        fputc('\n', stderr);
    }
    for (int s = 0; s < S.ns; s++) { free(S.xs[s]); free(S.ys[s]); free(S.names[s]); }
    free(S.xs); free(S.ys); free(S.names); free(S.cnt); free(S.scap);
    return 0;
}
