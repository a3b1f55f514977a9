// Fields to pictures: perceptual colormaps, scalar arrays to RGB images,
// simple line plots, and PNG output through libpng.
#ifndef EDDY_RENDER_H
#define EDDY_RENDER_H

#include <stddef.h>
#include <stdio.h>

#include "err.h"

typedef enum {
    CMAP_SEQ,   // viridis-like: perceptually uniform, for magnitudes
    CMAP_DIV    // blue–white–red, symmetric about 0: vorticity, closure terms
} cmap_kind;

typedef struct {
    int w, h;
    unsigned char *rgb;   // (h, w, 3), row 0 at the top
} image;

int image_new(image *im, int w, int h, eddy_err *e);   // filled white
void image_free(image *im);

// Colour of t in [0, 1] (clamped; NaN gives grey).
void cmap_color(cmap_kind k, double t, unsigned char rgb[3]);

// Draws a (ny, nx) field into im at (x0, y0), each value a scale×scale
// block, colour range [lo, hi].  Row 0 of the field goes at the top unless
// flip (then y grows upwards, the usual picture of a field on [0, L)²).
void render_field(image *im, int x0, int y0, const double *u /* (ny, nx) */, int ny, int nx, int scale,
                  double lo, double hi, cmap_kind k, int flip);

// A horizontal colour bar of the map, w × h pixels at (x0, y0).
void render_colorbar(image *im, int x0, int y0, int w, int h, cmap_kind k);

// Line plot of nser series sharing x into the rectangle (x0,y0,w,h): axes,
// tick marks at decades (log) or at 5 even steps, one colour per series.
// Points that are non-finite (or <= 0 on a log axis) break the line.
void render_lines(image *im, int x0, int y0, int w, int h, const double *x /* (n) */,
                  const double *y /* (nser, n) */, int nser, size_t n, int logx, int logy,
                  double range[4] /* out: xmin xmax ymin ymax actually used */);

// Writes im as an 8-bit RGB PNG.
int image_write_png(const image *im, FILE *f, eddy_err *e);
// Writes im to path ("-": stdout) through a temporary file beside it that is
// renamed when complete: never a half-written picture.
int image_save_png(const image *im, const char *path, eddy_err *e);

#endif
