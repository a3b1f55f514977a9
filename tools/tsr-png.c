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
    "2-D fields are drawn with y upwards (row 0 at the bottom), as a field on [0, L)^2.\n"
    "\n"
    "Colours: a diverging blue-white-red map symmetric about zero (white = 0) when the\n"
    "values take both signs (vorticity, closure terms), else the sequential viridis map;\n"
    "--cmap forces one.  The range is the data's (symmetric: +-max|u|) over everything\n"
    "drawn, or --range.  A colour bar runs along the bottom, and the range is reported on\n"
    "stderr (unless --quiet).  Non-finite values are drawn grey.";

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

int main(int argc, char **argv)
{
    const char *out = NULL, *frames_s = NULL, *cmap_s = "auto", *range_s = NULL, *dims = NULL;
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
        { "scale", 's', OPT_INT, &scale, "N", "pixels per grid point (0: auto, images >= 256 px)", 0, 4096},
        { "cols", 0, OPT_INT, &cols, "N", "montage columns (0: about square)", 0, 65536},
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names, overriding the dims attribute" },
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
    int cmap_auto = !strcmp(cmap_s, "auto");
    cmap_kind cmap = CMAP_SEQ;
    if (!strcmp(cmap_s, "div")) cmap = CMAP_DIV;
    else if (!strcmp(cmap_s, "seq")) cmap = CMAP_SEQ;
    else if (!cmap_auto) cli_die(EXIT_USAGE, "option --cmap: '%s' is not auto, div or seq", cmap_s);
    double lo = NAN, hi = NAN;
    if (range_s) {
        char *end;
        lo = strtod(range_s, &end);
        if (*end != ',' || !isfinite(lo)) cli_die(EXIT_USAGE, "option --range: '%s' is not LO,HI", range_s);
        const char *h = end + 1;
        hi = strtod(h, &end);
        if (end == h || *end || !isfinite(hi) || !(hi > lo)) cli_die(EXIT_USAGE, "option --range: '%s' is not LO,HI with LO < HI", range_s);
    }
    if (!strcmp(out, "-")) cli_stdout_binary();

    tsr_reader *rd = cli_reader(nops ? ops[0] : "-", NULL);
    tsr_record rec;
    tsr_record_init(&rec);
    eddy_err e;
    int rc;
    long idx = 0;
    while ((rc = tsr_read(rd, &rec, &e)) == 1 && idx < record) idx++;
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (rc == 0) cli_die(EXIT_DATA, "the stream has %ld records; record %ld does not exist", idx, record);
    if (rec.dtype != TSR_F4 && rec.dtype != TSR_F8)
        cli_die(EXIT_DATA, "record %ld: dtype %s, expected a real float field (<f4 or <f8)", record, tsr_dtype_descr(rec.dtype));
    layout l;
    if (layout_of(&rec, dims, &l, &e)) cli_die(EXIT_DATA, "record %ld: %s", record, e.msg);
    if ((size_t)channel >= l.C) cli_die(EXIT_USAGE, "channel %ld but the record has %zu", channel, l.C);
    if ((size_t)path >= l.npaths) cli_die(EXIT_USAGE, "path %ld but the record has %zu", path, l.npaths);
    double *u = malloc(l.T * l.D * sizeof *u);
    if (!u) cli_die(EXIT_DATA, "out of memory");
    layout_gather(&l, &rec, (size_t)path, (size_t)channel, u);

    // What to draw: a list of (ny, nx) panels.
    int hov = l.nspace == 1 && l.T > 1 && !frames_s;
    int line1d = l.nspace == 1 && !hov;
    size_t *fr = NULL;
    int nf = 1;
    if (!hov) nf = parse_frames(frames_s ? frames_s : "0", l.T, &fr);
    int ph = hov ? (int)l.T : l.ny, pw = l.nx;
    if (line1d && nf > 1) cli_die(EXIT_USAGE, "several frames of a 1-D field: leave out --frames for a Hovmoller image");

    double dmin = INFINITY, dmax = -INFINITY, amax = 0;
    size_t ndraw = hov ? l.T * l.D : (size_t)nf * l.D;
    for (size_t i = 0; i < ndraw; i++) {
        double v = hov ? u[i] : u[fr[i / l.D] * l.D + i % l.D];
        if (!isfinite(v)) continue;
        dmin = fmin(dmin, v);
        dmax = fmax(dmax, v);
        amax = fmax(amax, fabs(v));
    }
    if (!(dmax >= dmin)) cli_die(EXIT_DATA, "record %ld: no finite values to draw", record);
    if (cmap_auto) cmap = (dmin < 0 && dmax > 0) ? CMAP_DIV : CMAP_SEQ;
    if (isnan(lo)) {
        if (cmap == CMAP_DIV) lo = -amax, hi = amax;
        else lo = dmin, hi = dmax;
        if (!(hi > lo)) lo -= 0.5, hi += 0.5;
    }

    image im;
    const int gap = 2, bar = 10;
    if (line1d) {
        if (image_new(&im, 640, 400, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        double *x = malloc(l.D * sizeof *x), r[4];
        for (size_t i = 0; i < l.D; i++) x[i] = l.L * (double)i / (double)l.D;
        render_lines(&im, 40, 20, 580, 340, x, u + fr[0] * l.D, 1, l.D, 0, 0, r);
        free(x);
    } else {
        int s = scale;
        if (s == 0) {
            int big = ph > pw ? ph : pw;
            s = big >= 256 ? 1 : (256 + big - 1) / big;
            if (s > 8) s = 8;
        }
        if (cols == 0) cols = (int)ceil(sqrt((double)nf));
        if (cols > nf) cols = nf;
        int rows = (nf + cols - 1) / cols;
        int W = cols * (pw * s + gap) - gap, H = rows * (ph * s + gap) + bar;
        if ((double)W * H > 1e8) cli_die(EXIT_USAGE, "image of %dx%d pixels is too large; lower --scale or the frames", W, H);
        if (image_new(&im, W, H, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        for (int i = 0; i < nf; i++) {
            int x0 = (i % cols) * (pw * s + gap), y0 = (i / cols) * (ph * s + gap);
            // Hovmoller: time downwards; fields: y upwards.
            const double *panel = hov ? u : u + fr[i] * l.D;
            render_field(&im, x0, y0, panel, ph, pw, s, lo, hi, cmap, !hov);
        }
        render_colorbar(&im, 0, H - bar, W, bar, cmap);
    }
    if (image_save_png(&im, out, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (!quiet)
        fprintf(stderr, "tsr-png: record %ld channel %ld: %s, %s map, range [%.6g, %.6g], data [%.6g, %.6g]\n", record,
                channel, hov ? "Hovmoller (t down, x across)" : line1d ? "line plot" : nf > 1 ? "montage" : "field",
                line1d ? "no" : cmap == CMAP_DIV ? "diverging" : "sequential", lo, hi, dmin, dmax);
    image_free(&im);
    free(u);
    free(fr);
    tsr_record_free(&rec);
    tsr_reader_close(rd);
    return 0;
}
