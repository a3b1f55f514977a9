// Figures through gnuplot; see render.h.
#include "render.h"

#include "tsr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void sb_grow(sbuf *b, size_t need)
{
    if (b->oom || b->n + need + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + need + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) { b->oom = 1; return; }
    b->s = s;
    b->cap = cap;
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = 1; return; }
    sb_grow(b, (size_t)n);
    if (b->oom) return;
    if ((size_t)n < sizeof tmp) memcpy(b->s + b->n, tmp, (size_t)n + 1);
    else {
        va_start(ap, fmt);
        vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->n += (size_t)n;
}

void sb_quote(sbuf *b, const char *text)
{
    sb_grow(b, 2 * strlen(text) + 2);
    if (b->oom) return;
    char *p = b->s + b->n;
    *p++ = '"';
    for (const char *s = text; *s; s++) {
        if (*s == '"' || *s == '\\') { *p++ = '\\'; *p++ = *s; }
        else if (*s == '\n') { *p++ = '\\'; *p++ = 'n'; }
        else *p++ = *s;
    }
    *p++ = '"';
    *p = 0;
    b->n = (size_t)(p - b->s);
}

void sb_free(sbuf *b)
{
    free(b->s);
    *b = (sbuf){ 0 };
}

void render_palette(sbuf *b, cmap_kind k)
{
    // Viridis sampled at nine points (matplotlib's table), and ColorBrewer's
    // 11-class RdBu reversed (blue for negative): both read in grey too.
    if (k == CMAP_SEQ)
        sb_printf(b, "set palette defined (0 '#440154', 1 '#472d7b', 2 '#3b528b', 3 '#2c728e', 4 '#21918c', "
                     "5 '#28ae80', 6 '#5ec962', 7 '#addc30', 8 '#fde725')\n");
    else
        sb_printf(b, "set palette defined (0 '#053061', 1 '#2166ac', 2 '#4393c3', 3 '#92c5de', 4 '#d1e5f0', "
                     "5 '#f7f7f7', 6 '#fddbc7', 7 '#f4a582', 8 '#d6604d', 9 '#b2182b', 10 '#67001f')\n");
    sb_printf(b, "set palette maxcolors 0\n");
}

static void header(sbuf *b, int w, int h, const char *out)
{
    sb_printf(b, "set terminal pngcairo size %d,%d enhanced font 'DejaVu Sans,10' linewidth 1.5\n", w, h);
    sb_printf(b, "set output ");
    sb_quote(b, out);
    sb_printf(b, "\n");
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) { if (errno == EINTR) continue; return -1; }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static int save_text(const char *path, const sbuf *a, const sbuf *b, eddy_err *e)
{
    FILE *f = fopen(path, "w");
    if (!f) return eddy_fail(e, "%s: %s", path, strerror(errno));
    fwrite(a->s, 1, a->n, f);
    fwrite(b->s, 1, b->n, f);
    if (fclose(f)) return eddy_fail(e, "%s: %s", path, strerror(errno));
    return 0;
}

int render_png(const sbuf *body, int w, int h, const char *path, const char *script_path, eddy_err *e)
{
    if (body->oom) return eddy_fail(e, "out of memory building the gnuplot script");
    int to_stdout = !strcmp(path, "-");
    // The PNG goes to a temporary file beside the target (in /tmp for stdout).
    char tmp[4096], err[64] = "/tmp/eddy-gnuplot-XXXXXX";
    if (to_stdout) snprintf(tmp, sizeof tmp, "/tmp/eddy-png-XXXXXX");
    else if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return eddy_fail(e, "%s: path too long", path);
    int tfd = mkstemp(tmp);
    if (tfd < 0) return eddy_fail(e, "%s: cannot create a temporary file: %s", path, strerror(errno));
    close(tfd);
    tsr_temp_track(tmp);   // removed on TERM/INT/HUP, as the stream writer's
    int efd = mkstemp(err);
    if (efd < 0) {
        unlink(tmp);
        tsr_temp_untrack(tmp);
        return eddy_fail(e, "cannot create a temporary file: %s", strerror(errno));
    }
    tsr_temp_track(err);
    sbuf head = { 0 };
    header(&head, w, h, tmp);
    int rc = -1, pipefd[2] = { -1, -1 };
    pid_t pid = 0;
    if (head.oom) { eddy_fail(e, "out of memory"); goto done; }
    if (pipe(pipefd)) { eddy_fail(e, "pipe: %s", strerror(errno)); goto done; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
    posix_spawn_file_actions_adddup2(&fa, efd, 1);
    posix_spawn_file_actions_adddup2(&fa, efd, 2);
    posix_spawn_file_actions_addclose(&fa, pipefd[1]);
    char *argv[] = { "gnuplot", NULL };
    int s = posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[0]);
    if (s) {
        close(pipefd[1]);
        eddy_fail(e, "cannot run gnuplot (%s): install the Debian package gnuplot-nox (make deps)", strerror(s));
        goto done;
    }
    // gnuplot stops reading on an error and exits; SIGPIPE must not kill us.
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    int wr = write_all(pipefd[1], head.s, head.n);
    if (!wr) wr = write_all(pipefd[1], body->s, body->n);
    close(pipefd[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    signal(SIGPIPE, old);
    char msg[400] = "";
    ssize_t k = pread(efd, msg, sizeof msg - 1, 0);
    if (k > 0) {
        msg[k] = 0;
        for (char *p = msg; *p; p++) if (*p == '\n') *p = ' ';
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(msg, "rror")) {
        eddy_fail(e, "gnuplot failed%s%s", *msg ? ": " : "", msg);
        goto done;
    }
    if (wr) { eddy_fail(e, "writing to gnuplot: %s", strerror(errno)); goto done; }
    if (script_path) {
        sbuf h2 = { 0 };
        header(&h2, w, h, to_stdout ? "out.png" : path);
        int r2 = save_text(script_path, &h2, body, e);
        sb_free(&h2);
        if (r2) goto done;
    }
    if (to_stdout) {
        FILE *f = fopen(tmp, "rb");
        if (!f) { eddy_fail(e, "%s: %s", tmp, strerror(errno)); goto done; }
        char buf[65536];
        size_t n;
        int bad = 0;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) bad |= fwrite(buf, 1, n, stdout) != n;
        fclose(f);
        if (bad || fflush(stdout)) { eddy_fail(e, "writing the PNG to stdout: %s", strerror(errno)); goto done; }
    } else if (rename(tmp, path)) {
        eddy_fail(e, "%s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (rc || to_stdout) unlink(tmp);
    tsr_temp_untrack(tmp);
    close(efd);
    unlink(err);
    tsr_temp_untrack(err);
    sb_free(&head);
    return rc;
}

void render_extent(const double *u, size_t D, const size_t *frames, size_t nframes, double ext[3])
{
    double dmin = INFINITY, dmax = -INFINITY, amax = 0;
    for (size_t i = 0; i < nframes * D; i++) {
        double v = frames ? u[frames[i / D] * D + i % D] : u[i];
        if (!isfinite(v)) continue;
        dmin = fmin(dmin, v);
        dmax = fmax(dmax, v);
        amax = fmax(amax, fabs(v));
    }
    ext[0] = dmin, ext[1] = dmax, ext[2] = amax;
}
