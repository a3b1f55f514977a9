// Progress on stderr for long work: a rewritten line when stderr is a
// terminal, otherwise one line every few seconds; nothing when quiet.
#ifndef EDDY_PROGRESS_H
#define EDDY_PROGRESS_H

typedef struct {
    const char *what;
    double total;
    double t0, last;
    int tty, quiet, shown;
} progress;

void progress_start(progress *p, const char *what, double total, int quiet);
// done: units of work so far; note: optional short text (loss, time, ...).
void progress_update(progress *p, double done, const char *note);
void progress_end(progress *p, const char *note);
double progress_now(void);   // monotonic seconds
// A lib/train.h report hook (ctx: a started progress): "loss X" at the step.
void progress_loss(void *ctx, long step, double loss);

#endif
