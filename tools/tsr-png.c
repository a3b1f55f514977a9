// tsr-png: look at a field.  One record of a stream to a PNG picture.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "layout.h"
#include "render.h"

static const char *description =
    "Draws one record: a 2-D field (a frame of it), a montage of several frames, a\n"
    "space-time (Hovmoller) image of a 1-D path (time downwards, x across), or a line plot\n"
    "of a single 1-D field.  Axes come from the dims attribute (see rg-coarsen --help).\n"
    "2-D fields are drawn with y upwards (row 0 at the bottom), as a field on [0, L)^2;\n"
    "axes are labelled x and y in the units of L, time in the units of dt (attribute dt,\n"
    "else frames); montage panels are titled with their time.\n"
    "\n"
    "Colours: a diverging blue-white-red map symmetric about zero (white = 0) when the\n"
    "values take both signs (vorticity, closure terms), else the sequential viridis map;\n"
    "--cmap forces one.  The range is the data's (symmetric: +-max|u|) over everything\n"
    "drawn, or --range.  A colour bar with values and a label (--label; default the\n"
    "record's long_name or name, with its units attribute) stands beside the image, and\n"
    "the range is reported on stderr (unless --quiet).  Non-finite values are left blank.\n"
    "gnuplot (pngcairo) draws the figure; --script saves its commands, data inline.";

static const char *example =
    "  ns-gen --preset kolmogorov | tsr-png -o w.png            # frame 0 of record 0\n"
    "  tsr-png --frames all -o montage.png kf.tsr               # every frame\n"
    "  l96-gen | tsr-png --channel 1 -o hov.png                 # Hovmoller of Y";

static int parse_frames(const char *s, size_t T, size_t **out)
{
    size_t *f = malloc((T + 1) * sizeof *f);
    int n = 0;
    if (!f) cli_die(EXIT_DATA, "out of memory");
    if (!strcmp(s, "all")) {
        for (size_t t = 0; t < T; t++) f[n++] = t;
    } else {
        char *dup = strdup(s), *save = NULL;
        for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *end;
            long v = strtol(tok, &end, 10);
            if (end == tok || *end || v < 0) cli_die(EXIT_USAGE, "option --frames: '%s' is not a frame index", tok);
            if ((size_t)v >= T) cli_die(EXIT_USAGE, "option --frames: frame %ld but the record has %zu", v, T);
            if ((size_t)n > T) cli_die(EXIT_USAGE, "option --frames: too many frames");
            f[n++] = (size_t)v;
        }
        free(dup);
    }
    if (n == 0) cli_die(EXIT_USAGE, "option --frames: no frames");
    *out = f;
    return n;
}

// What one figure draws: the field u of the record, its panels and labels.
typedef struct {
    const tsr_record *rec;
    layout l;
    long record, channel, path;
    double *u;        // (T, D) the gathered field
    int hov, line1d;  // Hovmoller image of a 1-D path; line plot of one 1-D field
    size_t *fr;       // the frames drawn (not for hov)
    int nf, ph, pw;   // panels; panel rows and columns of grid points
    cmap_kind cmap;
    double lo, hi;    // colour range
    double ext[3];    // min, max, max|u| of the finite values drawn
    double dt, t0;
    int has_dt;
    char vlabel[512], ttl[768], tlabel[64];
} fig;

static void parse_range(const char *range_s, double *lo, double *hi)
{
    char *end;
    *lo = strtod(range_s, &end);
    if (*end != ',' || !isfinite(*lo)) cli_die(EXIT_USAGE, "option --range: '%s' is not LO,HI", range_s);
    const char *h = end + 1;
    *hi = strtod(h, &end);
    if (end == h || *end || !isfinite(*hi) || !(*hi > *lo)) cli_die(EXIT_USAGE, "option --range: '%s' is not LO,HI with LO < HI", range_s);
}

// Record `record` of the stream, checked to be a real float field, and the
// field of (path, channel) gathered into F->u.
static void read_field(fig *F, tsr_reader *rd, tsr_record *rec, const char *dims)
{
    eddy_err e;
    int rc;
    long idx = 0, record = F->record;
    while ((rc = tsr_read(rd, rec, &e)) == 1 && idx < record) idx++;
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (rc == 0) cli_die(EXIT_DATA, "the stream has %ld records; record %ld does not exist", idx, record);
    if (rec->dtype != TSR_F4 && rec->dtype != TSR_F8)
        cli_die(EXIT_DATA, "record %ld: dtype %s, expected a real float field (<f4 or <f8)", record, tsr_dtype_descr(rec->dtype));
    layout *l = &F->l;
    if (layout_of(rec, dims, l, &e)) cli_die(EXIT_DATA, "record %ld: %s", record, e.msg);
    if ((size_t)F->channel >= l->C) cli_die(EXIT_USAGE, "channel %ld but the record has %zu", F->channel, l->C);
    if ((size_t)F->path >= l->npaths) cli_die(EXIT_USAGE, "path %ld but the record has %zu", F->path, l->npaths);
    F->u = malloc(l->T * l->D * sizeof *F->u);
    if (!F->u) cli_die(EXIT_DATA, "out of memory");
    layout_gather(l, rec, (size_t)F->path, (size_t)F->channel, F->u);
    F->rec = rec;
}

// What to draw: a list of (ny, nx) panels.
static void choose_panels(fig *F, const char *frames_s)
{
    const layout *l = &F->l;
    F->hov = l->nspace == 1 && l->T > 1 && !frames_s;
    F->line1d = l->nspace == 1 && !F->hov;
    F->nf = 1;
    if (!F->hov) F->nf = parse_frames(frames_s ? frames_s : "0", l->T, &F->fr);
    F->ph = F->hov ? (int)l->T : l->ny, F->pw = l->nx;
    if (F->line1d && F->nf > 1) cli_die(EXIT_USAGE, "several frames of a 1-D field: leave out --frames for a Hovmoller image");
}

// The colour range: --range, else the data's (symmetric for a diverging map).
static void colour_range(fig *F, int cmap_auto)
{
    double dmin = F->ext[0], dmax = F->ext[1], amax = F->ext[2];
    if (!(dmax >= dmin)) cli_die(EXIT_DATA, "record %ld: no finite values to draw", F->record);
    if (cmap_auto) F->cmap = (dmin < 0 && dmax > 0) ? CMAP_DIV : CMAP_SEQ;
    if (isnan(F->lo)) {
        if (F->cmap == CMAP_DIV) F->lo = -amax, F->hi = amax;
        else F->lo = dmin, F->hi = dmax;
        if (!(F->hi > F->lo)) F->lo -= 0.5, F->hi += 0.5;
    }
}

static void make_labels(fig *F, const char *label, const char *title)
{
    const tsr_record rec = *F->rec;
    const layout l = F->l;
    long record = F->record, channel = F->channel, path = F->path;
    int hov = F->hov, nf = F->nf;
    // Labels from the record's attributes.
    const char *units = tsr_attr_get(&rec, "units"), *lname = tsr_attr_get(&rec, "long_name");
    // Time between frames: `interval` (ns-gen, l96-gen, whose dt is the solver's step),
    // else `dt` (the paths of pd-sample); the first frame's time `t0`, else 0.
    const char *dt_s = tsr_attr_get(&rec, "interval"), *t0_s = tsr_attr_get(&rec, "t0");
    if (!dt_s) dt_s = tsr_attr_get(&rec, "dt");
    double dt = dt_s ? strtod(dt_s, NULL) : NAN, t0 = t0_s ? strtod(t0_s, NULL) : 0;
    if (!isfinite(t0)) t0 = 0;
    int has_dt = isfinite(dt) && dt > 0;
    char *vlabel = F->vlabel, *ttl = F->ttl, *tlabel = F->tlabel;
    snprintf(vlabel, sizeof F->vlabel, "%s%s%s%s", lname ? lname : *rec.name ? rec.name : "value", units ? " [" : "",
             units ? units : "", units ? "]" : "");
    // A channel named by the channels attribute (e.g. channels=X,Y) names the value.
    const char *chs = tsr_attr_get(&rec, "channels");
    if (chs && l.C > 1) {
        const char *p = chs;
        for (long c = 0; c < channel && p; c++) p = strchr(p, ','), p = p ? p + 1 : NULL;
        if (p) {
            size_t n = strcspn(p, ",");
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%.*s%s%s%s", (int)(n < 200 ? n : 200), p, units ? " [" : "", units ? units : "", units ? "]" : "");
            memcpy(vlabel, tmp, sizeof tmp);
        }
    }
    if (label) snprintf(vlabel, sizeof F->vlabel, "%s", label);
    snprintf(tlabel, sizeof F->tlabel, "%s", has_dt ? "time t" : "frame");
    if (title) snprintf(ttl, sizeof F->ttl, "%s", title);
    else {
        int n = snprintf(ttl, sizeof F->ttl, "%s (record %ld", *rec.name ? rec.name : "record", record);
        if (l.C > 1 && n < (int)sizeof F->ttl) n += snprintf(ttl + n, sizeof F->ttl - n, ", channel %ld", channel);
        if (l.npaths > 1 && n < (int)sizeof F->ttl) n += snprintf(ttl + n, sizeof F->ttl - n, ", path %ld", path);
        if (n < (int)sizeof F->ttl) n += snprintf(ttl + n, sizeof F->ttl - n, "%s)", hov ? ": Hovmoller diagram" : nf > 1 ? ": frames" : "");
    }
    F->dt = dt, F->t0 = t0, F->has_dt = has_dt;
}

// A line plot of one 1-D field; the picture size into *W, *H.
static void script_line(const fig *F, sbuf *g, int *W, int *H)
{
    const tsr_record rec = *F->rec;
    const layout l = F->l;
    const double *u = F->u, dt = F->dt, t0 = F->t0;
    const size_t *fr = F->fr;
    const char *ttl = F->ttl, *vlabel = F->vlabel;
    int has_dt = F->has_dt;
    *W = 720, *H = 440;
    sb_printf(g, "$d << EOD\n");
    for (size_t i = 0; i < l.D; i++) {
        double v = u[fr[0] * l.D + i];
        if (isfinite(v)) sb_printf(g, "%.17g %.17g\n", l.L * (double)i / (double)l.D, v);
        else sb_printf(g, "\n");
    }
    sb_printf(g, "EOD\nset title ");
    sb_quote(g, ttl);
    sb_printf(g, " noenhanced\nset xlabel 'x'\nset ylabel ");
    sb_quote(g, vlabel);
    sb_printf(g, " noenhanced\nset grid\nset mxtics\nset mytics\nset xrange [0:%.17g]\n", l.L);
    sb_printf(g, "set key outside right top box\nplot $d using 1:2 with lines lw 1.5 lc rgb '#0072b2' title ");
    char nm[512];
    snprintf(nm, sizeof nm, "%s at %s %g", *rec.name ? rec.name : "field", has_dt ? "t =" : "frame",
             has_dt ? t0 + dt * (double)fr[0] : (double)fr[0]);
    sb_quote(g, nm);
    sb_printf(g, " noenhanced\n");
}

// The panels of a 2-D field, a montage or a Hovmoller image; the picture
// size into *Wp, *Hp.
static void script_panels(const fig *F, sbuf *g, int scale, int cols, int *Wp, int *Hp)
{
    const layout l = F->l;
    const double *u = F->u, dt = F->dt, t0 = F->t0, lo = F->lo, hi = F->hi;
    const size_t *fr = F->fr;
    const char *ttl = F->ttl, *vlabel = F->vlabel, *tlabel = F->tlabel;
    int has_dt = F->has_dt, hov = F->hov, nf = F->nf, ph = F->ph, pw = F->pw;
    double dx = l.L / l.nx, dy = l.L / l.ny;
    // Panel size in pixels: --scale per grid point, else about 300 px.
    int big = ph > pw ? ph : pw, s = scale;
    double panel = s ? (double)big * s : 300;
    if (panel < 120) panel = 120;
    if (cols == 0) cols = (int)ceil(sqrt((double)nf));
    if (cols > nf) cols = nf;
    int rows = (nf + cols - 1) / cols;
    const double aspect = 1;   // fields span [0, L) on both axes; a Hovmoller image is drawn square too
    // Margins (pixels): left 85, right 130 (colour bar), top 50 (75 with panel titles)
    // bottom 55; between panels 75 across and 95 down (axis label, title).
    const int top = nf > 1 ? 75 : 50, gap = 95;
    int W = (int)(85 + cols * panel + (cols - 1) * 75 + 130);
    int H = (int)(top + rows * panel * aspect + (rows - 1) * gap + 55);
    if (W < 360) W = 360;
    if (H < 300) H = 300;
    if ((double)W * H > 1e8) cli_die(EXIT_USAGE, "image of %dx%d pixels is too large; lower --scale or the frames", W, H);
    for (int i = 0; i < nf; i++) {
        const double *pnl = hov ? u : u + fr[i] * l.D;
        sb_printf(g, "$f%d << EOD\n", i);
        for (int r = 0; r < ph; r++) {
            for (int c = 0; c < pw; c++) {
                double v = pnl[(size_t)r * pw + c];
                if (isfinite(v)) sb_printf(g, c ? " %.9g" : "%.9g", v);
                else sb_printf(g, c ? " NaN" : "NaN");
            }
            sb_printf(g, "\n");
        }
        sb_printf(g, "EOD\n");
    }
    render_palette(g, F->cmap);
    sb_printf(g, "set cbrange [%.17g:%.17g]\nset cblabel ", lo, hi);
    sb_quote(g, vlabel);
    sb_printf(g, " noenhanced\nset cbtics out nomirror\nset tics out nomirror\n");
    double ty = hov ? (has_dt ? dt : 1) : dy, yt0 = hov ? (has_dt ? t0 : 0) : 0;
    sb_printf(g, "set xlabel 'x'\nset ylabel ");
    sb_quote(g, hov ? tlabel : "y");
    sb_printf(g, "\nset xrange [%.12g:%.12g]\n", -dx / 2, l.L - dx / 2);
    if (hov) sb_printf(g, "set yrange [%.12g:%.12g]\n", yt0 + ty * ((double)ph - 0.5), yt0 - ty / 2);   // time downwards
    else sb_printf(g, "set yrange [%.12g:%.12g]\n", -dy / 2, l.L - dy / 2);
    // Panels at fixed screen positions; the colour bar once, on the right.
    double fw = (double)W, fh = (double)H;
    sb_printf(g, "set multiplot title ");
    sb_quote(g, ttl);
    sb_printf(g, " noenhanced font ',12'\n");
    for (int i = 0; i < nf; i++) {
        int c = i % cols, r = i / cols;
        double x0 = 85 + c * (panel + 75), y0 = top + r * (panel * aspect + gap);
        sb_printf(g, "set lmargin at screen %.5f\nset rmargin at screen %.5f\n", x0 / fw, (x0 + panel) / fw);
        sb_printf(g, "set tmargin at screen %.5f\nset bmargin at screen %.5f\n", 1 - y0 / fh,
                  1 - (y0 + panel * aspect) / fh);
        if (nf > 1) {
            char pt[128];
            double tv = has_dt ? t0 + dt * (double)fr[i] : (double)fr[i];
            snprintf(pt, sizeof pt, "%s %g", has_dt ? "t =" : "frame", tv);
            sb_printf(g, "set title ");
            sb_quote(g, pt);
            sb_printf(g, "\n");
        }
        if (i == 0)
            sb_printf(g, "set colorbox user origin screen %.5f,screen %.5f size screen %.5f,screen %.5f\n",
                      (fw - 115) / fw, 55 / fh, 16 / fw, (fh - top - 55) / fh);
        else sb_printf(g, "unset colorbox\n");
        sb_printf(g, "plot $f%d matrix using (%.17g*$1):(%.17g+%.17g*$2):3 with image pixels notitle\n", i, dx, yt0, ty);
    }
    sb_printf(g, "unset multiplot\n");
    *Wp = W, *Hp = H;
}

int main(int argc, char **argv)
{
    const char *out = NULL, *frames_s = NULL, *cmap_s = "auto", *range_s = NULL, *dims = NULL;
    const char *title = NULL, *label = NULL, *script = NULL;
    long record = 0, channel = 0, path = 0;
    int scale = 0, cols = 0, quiet = 0;
    cli_opt opts[] = {
        CLI_OPT_OUTPUT(&out, "the PNG to write (required; '-' is stdout, not a terminal)"),
        { "record", 'r', OPT_LONG, &record, "N", "record index in the stream", 0, CLI_BIG},
        { "frames", 'f', OPT_STRING, &frames_s, "LIST", "frames to draw: 'all' or e.g. 0,5,10 (default: 0; "
                                                            "1-D paths: all, as a Hovmoller image)" },
        { "channel", 'c', OPT_LONG, &channel, "N", "channel index (c axis)", 0, CLI_BIG},
        { "path", 'p', OPT_LONG, &path, "N", "index over the batch axes (axes other than t, c, y, x)", 0, CLI_BIG},
        { "cmap", 0, OPT_STRING, &cmap_s, "MAP", "auto, div (symmetric, blue-white-red) or seq (viridis)" },
        { "range", 0, OPT_STRING, &range_s, "LO,HI", "colour range (default: from the data)" },
        { "scale", 's', OPT_INT, &scale, "N", "pixels per grid point of a panel (0: auto, panels of about 300 px)", 0, 4096},
        { "cols", 0, OPT_INT, &cols, "N", "montage columns (0: about square)", 0, 65536},
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names, overriding the dims attribute" },
        { "title", 't', OPT_STRING, &title, "TEXT", "figure title (default: name, record, channel, path)" },
        { "label", 0, OPT_STRING, &label, "TEXT", "colour bar (or y axis) label with units" },
        { "script", 0, OPT_STRING, &script, "FILE", "also save the gnuplot script (data inline)" },
        { "quiet", 'q', OPT_FLAG, &quiet, NULL, "do not report the range on stderr" },
        CLI_OPT_END,
    };
    cli_spec spec = { "tsr-png", "[options] -o OUT.png [FILE]", "render a field of a tensor stream to PNG",
                      description, example, opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops > 1) cli_die(EXIT_USAGE, "one input stream at most (got %d operands)", nops);
    if (!out) cli_die(EXIT_USAGE, "option --output (-o FILE.png) is required");
    if (record < 0 || channel < 0 || path < 0) cli_die(EXIT_USAGE, "indices must be >= 0");
    if (scale < 0 || scale > 64) cli_die(EXIT_USAGE, "option --scale: %d is not in 0..64", scale);
    if (cols < 0) cli_die(EXIT_USAGE, "option --cols: %d is negative", cols);
    fig F = { .record = record, .channel = channel, .path = path, .cmap = CMAP_SEQ, .lo = NAN, .hi = NAN };
    int cmap_auto = !strcmp(cmap_s, "auto");
    if (!strcmp(cmap_s, "div")) F.cmap = CMAP_DIV;
    else if (!strcmp(cmap_s, "seq")) F.cmap = CMAP_SEQ;
    else if (!cmap_auto) cli_die(EXIT_USAGE, "option --cmap: '%s' is not auto, div or seq", cmap_s);
    if (range_s) parse_range(range_s, &F.lo, &F.hi);
    if (!strcmp(out, "-")) cli_stdout_binary();

    tsr_reader *rd = cli_reader(nops ? ops[0] : "-", NULL);
    tsr_record rec;
    tsr_record_init(&rec);
    read_field(&F, rd, &rec, dims);
    choose_panels(&F, frames_s);
    render_extent(F.u, F.l.D, F.fr, F.hov ? F.l.T : (size_t)F.nf, F.ext);
    colour_range(&F, cmap_auto);
    make_labels(&F, label, title);
    sbuf g = { 0 };
    int W, H;
    if (F.line1d) script_line(&F, &g, &W, &H);
    else script_panels(&F, &g, scale, cols, &W, &H);
    eddy_err e2;
    if (render_png(&g, W, H, out, script, &e2)) cli_die(EXIT_DATA, "%s", e2.msg);
    sb_free(&g);
    if (!quiet)
        fprintf(stderr, "tsr-png: record %ld channel %ld: %s, %s map, range [%.6g, %.6g], data [%.6g, %.6g]\n", record,
                channel, F.hov ? "Hovmoller (t down, x across)" : F.line1d ? "line plot" : F.nf > 1 ? "montage" : "field",
                F.line1d ? "no" : F.cmap == CMAP_DIV ? "diverging" : "sequential", F.lo, F.hi, F.ext[0], F.ext[1]);
    free(F.u);
    free(F.fr);
    tsr_record_free(&rec);
    tsr_reader_close(rd);
    return 0;
}
