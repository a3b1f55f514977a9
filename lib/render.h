// Figures through gnuplot (pngcairo): the tools prepare the data and the
// commands, gnuplot draws titles, axes, ticks, legends and colour bars.
// A script is built in memory (data inline as datablocks, so it is
// self-contained and can be saved, edited and re-run), then gnuplot writes
// the PNG to a temporary file beside the target that is renamed when done:
// never a half-written picture.
#ifndef EDDY_RENDER_H
#define EDDY_RENDER_H

#include <stddef.h>

#include "err.h"

typedef enum {
    CMAP_SEQ,   // viridis: perceptually uniform, for magnitudes
    CMAP_DIV    // blue–white–red (ColorBrewer RdBu), symmetric about 0: vorticity, closure terms
} cmap_kind;

// A growing text buffer; an allocation failure sticks (oom) and is reported
// by render_png.
typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Appends text as a gnuplot double-quoted string ("..." with \\ \" \n escaped).
void sb_quote(sbuf *b, const char *text);
void sb_free(sbuf *b);

// Appends `set palette ...` for the map.
void render_palette(sbuf *b, cmap_kind k);

// Runs gnuplot on the script body (everything after the terminal and output
// lines, which this function writes) to make a w × h PNG at path ("-":
// stdout).  When script_path is non-NULL the full script is also saved
// there, with `set output` naming path, so it can be re-run by hand.
// gnuplot's own messages become the error text on failure.
int render_png(const sbuf *body, int w, int h, const char *path, const char *script_path, eddy_err *e);

// ext = {min, max, max|v|} over the finite values of the frames drawn:
// frames[0..nframes) of u, each D values, or (frames NULL) the first nframes.
// min > max when there is none.
void render_extent(const double *u, size_t D, const size_t *frames, size_t nframes, double ext[3]);

#endif
