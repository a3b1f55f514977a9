#include "render.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int image_new(image *im, int w, int h, eddy_err *e)
{
    if (w < 1 || h < 1 || (size_t)w * (size_t)h > (size_t)1 << 28)
        return eddy_fail(e, "render: image size %dx%d out of range", w, h);
    im->w = w;
    im->h = h;
    im->rgb = malloc((size_t)w * h * 3);
    if (!im->rgb) return eddy_fail(e, "render: out of memory for a %dx%d image", w, h);
    memset(im->rgb, 255, (size_t)w * h * 3);
    return 0;
}

void image_free(image *im)
{
    free(im->rgb);
    im->rgb = NULL;
}

// Control points, evenly spaced in t.  Viridis (matplotlib, sampled at 9
// points) is perceptually uniform and readable in grey and by colour-blind
// readers; the diverging map is ColorBrewer RdBu (reversed: blue negative),
// whose white centre marks zero.
static const unsigned char viridis[9][3] = {
    { 68, 1, 84 }, { 71, 44, 122 }, { 59, 81, 139 }, { 44, 113, 142 }, { 33, 144, 141 },
    { 39, 173, 129 }, { 92, 200, 99 }, { 170, 220, 50 }, { 253, 231, 37 },
};
static const unsigned char rdbu[11][3] = {
    { 5, 48, 97 }, { 33, 102, 172 }, { 67, 147, 195 }, { 146, 197, 222 }, { 209, 229, 240 }, { 247, 247, 247 },
    { 253, 219, 199 }, { 244, 165, 130 }, { 214, 96, 77 }, { 178, 24, 43 }, { 103, 0, 31 },
};

void cmap_color(cmap_kind k, double t, unsigned char rgb[3])
{
    if (isnan(t)) {
        rgb[0] = rgb[1] = rgb[2] = 128;
        return;
    }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const unsigned char(*tab)[3] = k == CMAP_DIV ? rdbu : viridis;
    int n = k == CMAP_DIV ? 11 : 9;
    double s = t * (n - 1);
    int i = (int)s;
    if (i >= n - 1) i = n - 2;
    double f = s - i;
    for (int c = 0; c < 3; c++) rgb[c] = (unsigned char)lround(tab[i][c] * (1 - f) + tab[i + 1][c] * f);
}

static void put(image *im, int x, int y, const unsigned char c[3])
{
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    memcpy(im->rgb + ((size_t)y * im->w + x) * 3, c, 3);
}

void render_field(image *im, int x0, int y0, const double *u, int ny, int nx, int scale, double lo, double hi,
                  cmap_kind k, int flip)
{
    double span = hi > lo ? hi - lo : 1;
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < nx; j++) {
            unsigned char c[3];
            cmap_color(k, (u[(size_t)i * nx + j] - lo) / span, c);
            int row = flip ? ny - 1 - i : i;
            for (int a = 0; a < scale; a++)
                for (int b = 0; b < scale; b++) put(im, x0 + j * scale + b, y0 + row * scale + a, c);
        }
}

void render_colorbar(image *im, int x0, int y0, int w, int h, cmap_kind k)
{
    for (int x = 0; x < w; x++) {
        unsigned char c[3];
        cmap_color(k, w > 1 ? (double)x / (w - 1) : 0.5, c);
        for (int y = 0; y < h; y++) put(im, x0 + x, y0 + y, c);
    }
}

static void line(image *im, int x0, int y0, int x1, int y1, const unsigned char c[3])
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    for (;;) {       // Bresenham
        put(im, x0, y0, c);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

static const unsigned char series_colors[6][3] = {
    { 0, 114, 178 }, { 213, 94, 0 }, { 0, 158, 115 }, { 204, 121, 167 }, { 86, 180, 233 }, { 230, 159, 0 },
};

static int usable(double v, int logv) { return isfinite(v) && (!logv || v > 0); }

void render_lines(image *im, int x0, int y0, int w, int h, const double *x, const double *y, int nser, size_t n,
                  int logx, int logy, double range[4])
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!usable(x[i], logx)) continue;
        double xv = logx ? log10(x[i]) : x[i];
        for (int s = 0; s < nser; s++) {
            double v = y[(size_t)s * n + i];
            if (!usable(v, logy)) continue;
            double yv = logy ? log10(v) : v;
            xmin = fmin(xmin, xv); xmax = fmax(xmax, xv);
            ymin = fmin(ymin, yv); ymax = fmax(ymax, yv);
        }
    }
    if (!(xmax >= xmin)) { xmin = 0; xmax = 1; }
    if (!(ymax >= ymin)) { ymin = 0; ymax = 1; }
    if (xmax == xmin) { xmin -= 0.5; xmax += 0.5; }
    if (ymax == ymin) { ymin -= 0.5; ymax += 0.5; }
    if (logx) { xmin = floor(xmin); xmax = ceil(xmax); }
    if (logy) { ymin = floor(ymin); ymax = ceil(ymax); }
    range[0] = xmin; range[1] = xmax; range[2] = ymin; range[3] = ymax;
    const unsigned char black[3] = { 0, 0, 0 }, grey[3] = { 220, 220, 220 };
    // grid lines at decades (log) or fifths (linear)
    for (int a = 0; a < 2; a++) {
        int logv = a ? logy : logx;
        double lo = a ? ymin : xmin, hi = a ? ymax : xmax;
        int nt = logv ? (int)(hi - lo) : 5;
        if (nt > 40) nt = 40;
        for (int t = 0; t <= nt; t++) {
            double f = nt ? (double)t / nt : 0;
            if (a) { int py = y0 + h - 1 - (int)lround(f * (h - 1)); line(im, x0, py, x0 + w - 1, py, grey); }
            else { int px = x0 + (int)lround(f * (w - 1)); line(im, px, y0, px, y0 + h - 1, grey); }
        }
    }
    line(im, x0, y0 + h - 1, x0 + w - 1, y0 + h - 1, black);
    line(im, x0, y0, x0, y0 + h - 1, black);
    for (int s = 0; s < nser; s++) {
        int have = 0, px0 = 0, py0 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = y[(size_t)s * n + i];
            if (!usable(x[i], logx) || !usable(v, logy)) { have = 0; continue; }
            double xv = logx ? log10(x[i]) : x[i], yv = logy ? log10(v) : v;
            int px = x0 + (int)lround((xv - xmin) / (xmax - xmin) * (w - 1));
            int py = y0 + h - 1 - (int)lround((yv - ymin) / (ymax - ymin) * (h - 1));
            if (have) line(im, px0, py0, px, py, series_colors[s % 6]);
            else put(im, px, py, series_colors[s % 6]);
            px0 = px; py0 = py; have = 1;
        }
    }
}

int image_write_png(const image *im, FILE *f, eddy_err *e)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        return eddy_fail(e, "render: libpng could not start");
    }
    png_bytep *rows = malloc((size_t)im->h * sizeof *rows);
    if (!rows || setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_write_struct(&png, &info);
        return eddy_fail(e, "render: writing the PNG failed");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->w, (png_uint_32)im->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int i = 0; i < im->h; i++) rows[i] = im->rgb + (size_t)i * im->w * 3;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (fflush(f) || ferror(f)) return eddy_fail(e, "render: writing the PNG failed");
    return 0;
}

int image_save_png(const image *im, const char *path, eddy_err *e)
{
    if (!strcmp(path, "-")) return image_write_png(im, stdout, e);
    char *tmp;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) return eddy_fail(e, "out of memory");
    FILE *f = fopen(tmp, "wb");
    int rc;
    if (!f) {
        rc = eddy_fail(e, "%s: cannot write: %s", path, strerror(errno));
    } else {
        rc = image_write_png(im, f, e);
        if (fclose(f) && rc == 0) rc = eddy_fail(e, "%s: cannot write: %s", path, strerror(errno));
        if (rc == 0 && rename(tmp, path)) rc = eddy_fail(e, "%s: cannot write: %s", path, strerror(errno));
        if (rc) unlink(tmp);
    }
    free(tmp);
    return rc;
}
