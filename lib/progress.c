#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

// A non-terminal stderr (a log file, CI) gets a line this often, not a flood.
#define LOG_INTERVAL 5.0

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(progress *p, const char *what, double total, int quiet)
{
    p->what = what;
    p->total = total;
    p->t0 = p->last = progress_now();
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->shown = 0;
}

static void show(progress *p, double done, const char *note, int final)
{
    double t = progress_now() - p->t0;
    char eta[32] = "";
    if (!final && done > 0 && p->total > done) snprintf(eta, sizeof eta, ", eta %.0fs", t * (p->total - done) / done);
    fprintf(stderr, "%s%s: %s %.0f/%.0f (%.0f%%) %.1fs%s%s%s%s", p->tty ? "\r" : "", cli_progname(), p->what,
            done, p->total, p->total > 0 ? 100.0 * done / p->total : 100.0, t, eta, note ? "  " : "",
            note ? note : "", p->tty ? "\033[K" : "\n");
    if (final && p->tty) fputc('\n', stderr);
    fflush(stderr);
    p->shown = 1;
}

void progress_update(progress *p, double done, const char *note)
{
    if (p->quiet) return;
    double now = progress_now();
    if (now - p->last < (p->tty ? 0.2 : LOG_INTERVAL)) return;
    p->last = now;
    show(p, done, note, 0);
}

void progress_end(progress *p, const char *note)
{
    if (p->quiet || (!p->shown && progress_now() - p->t0 < 1.0)) return;
    show(p, p->total, note, 1);
}

void progress_loss(void *ctx, long step, double loss)
{
    char note[64];
    snprintf(note, sizeof note, "loss %.4g", loss);
    progress_update(ctx, (double)step, note);
}
