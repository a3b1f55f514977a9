#include "cli.h"

#include <cblas.h>
#include <errno.h>
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"

static const char *progname = "eddy";
static char *cmdline;

const char *cli_progname(void) { return progname; }
const char *cli_cmdline(void) { return cmdline ? cmdline : progname; }

// "prog: KIND: message\n" on stderr.
static void vmessage(const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s: ", progname, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("warning", fmt, ap);
    va_end(ap);
}

_Noreturn void cli_die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage("error", fmt, ap);
    va_end(ap);
    exit(status);
}

_Noreturn void cli_die_path(int status, const char *path, const char *msg)
{
    size_t k = strlen(path);
    if (!strncmp(msg, path, k) && msg[k] == ':') cli_die(status, "%s", msg);
    cli_die(status, "%s: %s", path, msg);
}

// Shell-quotes an argument for the history line when it needs it.
static void append_quoted(char **s, size_t *len, const char *a)
{
    int plain = *a != 0;
    for (const char *p = a; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%", *p)) plain = 0;
    size_t extra = plain ? strlen(a) : 2 + 4 * strlen(a);
    char *n = realloc(*s, *len + extra + 2);
    if (!n) return;
    *s = n;
    char *o = n + *len;
    if (*len) *o++ = ' ';
    if (plain) {
        o = stpcpy(o, a);
    } else {
        *o++ = '\'';
        for (const char *p = a; *p; p++) {
            if (*p == '\'') o = stpcpy(o, "'\\''");
            else *o++ = *p;
        }
        *o++ = '\'';
    }
    *o = 0;
    *len = (size_t)(o - n);
}

static void record_cmdline(int argc, char **argv)
{
    size_t len = 0;
    free(cmdline);
    cmdline = NULL;
    append_quoted(&cmdline, &len, progname);
    for (int i = 1; i < argc; i++) append_quoted(&cmdline, &len, argv[i]);
}

static const char *type_metavar(const cli_opt *o)
{
    if (o->metavar) return o->metavar;
    switch (o->type) {
    case OPT_INT: case OPT_LONG: return "N";
    case OPT_DOUBLE: return "X";
    default: return "S";
    }
}

// The default shown in --help is the destination's value before parsing, so
// it is always the one the parser uses.
static int has_range(const cli_opt *o) { return o->min != 0 || o->max != 0; }

static int in_range(const cli_opt *o, double x) { return !has_range(o) || (x >= o->min && x <= o->max); }

static void format_default(const cli_opt *o, char *buf, size_t n)
{
    buf[0] = 0;
    // A default outside the option's range is a sentinel whose meaning the
    // help line states ("0: automatic" is inside; "from the preset" is not).
    if (o->type == OPT_INT && !in_range(o, *(int *)o->dest)) return;
    if (o->type == OPT_LONG && !in_range(o, (double)*(long *)o->dest)) return;
    if (o->type == OPT_DOUBLE && (!isfinite(*(double *)o->dest) || !in_range(o, *(double *)o->dest))) return;
    switch (o->type) {
    case OPT_INT: snprintf(buf, n, "%d", *(int *)o->dest); break;
    case OPT_LONG: snprintf(buf, n, "%ld", *(long *)o->dest); break;
    case OPT_DOUBLE: snprintf(buf, n, "%g", *(double *)o->dest); break;
    case OPT_STRING: {
        const char *s = *(const char **)o->dest;
        if (s) snprintf(buf, n, "%s", s);
        break;
    }
    default: break;
    }
}

void cli_help(const cli_spec *spec, FILE *f)
{
    fprintf(f, "Usage: %s %s\n%s\n", spec->name, spec->usage, spec->summary);
    if (spec->description) fprintf(f, "\n%s\n", spec->description);
    fprintf(f, "\nOptions:\n");
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        char left[96], def[128];
        int k = snprintf(left, sizeof left, "  %c%c%s--%s", o->short_name ? '-' : ' ',
                         o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name);
        if (o->type != OPT_FLAG) snprintf(left + k, sizeof left - (size_t)k, " %s", type_metavar(o));
        format_default(o, def, sizeof def);
        fprintf(f, "%-28s %s", left, o->help);
        // A help line that explains its own default (e.g. one that depends on
        // the grid) is not followed by the sentinel value behind it.
        if (def[0] && !strstr(o->help, "default")) fprintf(f, " (default: %s)", def);
        fputc('\n', f);
    }
    fprintf(f, "  %-26s %s\n  %-26s %s\n", "    --help", "print this help and exit", "    --version",
            "print the version and exit");
    if (spec->example) fprintf(f, "\nExample:\n%s\n", spec->example);
}

static void usage_error(const cli_spec *spec, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: error: ", spec->name);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", spec->name);
    exit(EXIT_USAGE);
}

// "must be in [min, max]", with the bounds an option states.
static _Noreturn void range_error(const cli_spec *spec, const cli_opt *o, const char *v)
{
    char lo[32] = "", hi[32] = "";
    if (o->min > -CLI_BIG) snprintf(lo, sizeof lo, "%g", o->min);
    if (o->min > 0 && o->min < 1e-200) snprintf(lo, sizeof lo, "> 0");
    if (o->max < CLI_BIG) snprintf(hi, sizeof hi, "%g", o->max);
    fprintf(stderr, "%s: error: option --%s: %s is out of range (", spec->name, o->name, v);
    if (*lo && *hi) fprintf(stderr, "%s%s, <= %s", *lo == '>' ? "" : ">= ", lo, hi);
    else if (*lo) fprintf(stderr, "%s%s", *lo == '>' ? "" : ">= ", lo);
    else fprintf(stderr, "<= %s", hi);
    fprintf(stderr, ")\nTry '%s --help' for more information.\n", spec->name);
    exit(EXIT_USAGE);
}

static void set_value(const cli_spec *spec, const cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->type) {
    case OPT_INT: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno || x < INT_MIN || x > INT_MAX) break;
        if (!in_range(o, (double)x)) range_error(spec, o, v);
        *(int *)o->dest = (int)x;
        return;
    }
    case OPT_LONG: {
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno) break;
        if (!in_range(o, (double)x)) range_error(spec, o, v);
        *(long *)o->dest = x;
        return;
    }
    case OPT_DOUBLE: {
        // NaN and Inf are never an option's value: every comparison with NaN
        // is false, so a NaN would slip past the tools' own checks.
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x)) break;
        if (!in_range(o, x)) range_error(spec, o, v);
        *(double *)o->dest = x;
        return;
    }
    case OPT_STRING:
        // A string option with a range is a number whose default is not a
        // number (ns-gen: "from the preset"); it is checked as one here.
        if (has_range(o)) {
            double x = strtod(v, &end);
            if (end == v || *end || errno || !isfinite(x)) break;
            if (!in_range(o, x)) range_error(spec, o, v);
        }
        *(const char **)o->dest = v;
        return;
    case OPT_LIST: {
        cli_list *l = o->dest;
        const char **nv = realloc(l->v, (size_t)(l->n + 1) * sizeof *nv);
        if (!nv) cli_die(EXIT_DATA, "out of memory");
        nv[l->n++] = v;
        l->v = nv;
        return;
    }
    case OPT_FLAG: *(int *)o->dest = 1; return;
    }
    int number = o->type == OPT_DOUBLE || o->type == OPT_STRING;
    fprintf(stderr, "%s: error: option --%s: '%s' is not a valid %s%s\nTry '%s --help' for more information.\n",
            spec->name, o->name, v, number ? "number" : "integer", number ? " (NaN and Inf are refused)" : "",
            spec->name);
    exit(EXIT_USAGE);
}

// The table as TSV for the tests (tests/cli/reliability-options.bats): one
// line per option, name, type, min, max ("-inf"/"inf" when unbounded).
static void dump_options(const cli_spec *spec)
{
    static const char *types[] = {"flag", "int", "long", "double", "string", "list"};
    for (const cli_opt *o = spec->opts; o && o->name; o++) {
        double lo = has_range(o) && o->min > -CLI_BIG ? o->min : -CLI_INF;
        double hi = has_range(o) && o->max < CLI_BIG ? o->max : CLI_INF;
        const char *t = o->type == OPT_STRING && has_range(o) ? "number" : types[o->type];
        printf("%s\t%s\t%.17g\t%.17g\n", o->name, t, lo, hi);
    }
}

// A write error on stdout (a full disk, /dev/full, a closed pipe's EIO) must
// not end in status 0: stdio reports it only through ferror/fflush, so it is
// checked once here for every tool, after main returned or exit was called.
static void check_stdout(void)
{
    if (fflush(stdout) == 0 && !ferror(stdout)) return;
    int err = errno;
    fprintf(stderr, "%s: error: write error on standard output%s%s\n", progname, err ? ": " : "",
            err ? strerror(err) : "");
    _exit(EXIT_DATA);
}

// OpenMP's idle threads spin before they sleep (libgomp: 300000 rounds by
// default, far longer with OMP_WAIT_POLICY=active).  On a machine shared with
// other jobs that spinning steals the cores the working threads need: 100
// tiny fno-train steps on two threads took 10 s instead of 0.3 s (bench/spin.sh
// measures it).  libgomp reads its settings when it is loaded, before main, so
// a process that wants another default must re-execute itself with the
// variable set.  Passive waiting costs nothing measurable when the machine is
// free (bench/spin.sh, "alone"), because the tools' parallel regions are long
// next to a futex wake-up.  A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT
// is kept; EDDY_NO_REEXEC=1 keeps libgomp's default.
static void wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("EDDY_NO_REEXEC")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
    // No /proc: carry on with libgomp's default rather than fail.
    unsetenv("OMP_WAIT_POLICY");
}

void cli_parse_inputs(const cli_spec *spec, int argc, char **argv, int *nops, char ***ops)
{
    static char *stdin_op[] = {"-", NULL};
    cli_parse(spec, argc, argv, nops, ops);
    if (*nops == 0) *ops = stdin_op, *nops = 1;
}

void cli_parse(const cli_spec *spec, int argc, char **argv, int *nops, char ***ops)
{
    progname = spec->name;
    wait_policy(argv);
    atexit(check_stdout);
    record_cmdline(argc, argv);
    int n = 0, only_operands = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_operands || a[0] != '-' || a[1] == 0) {
            argv[n++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_operands = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            cli_help(spec, stdout);
            exit(0);
        }
        if (strcmp(a, "--help-options") == 0) {
            dump_options(spec);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", spec->name, EDDY_VERSION);
            exit(0);
        }
        const cli_opt *o = NULL;
        const char *val = NULL;
        if (a[1] == '-') {
            char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (const cli_opt *p = spec->opts; p && p->name; p++)
                if (strlen(p->name) == len && strncmp(p->name, a + 2, len) == 0) o = p;
            if (!o) usage_error(spec, "unknown option '%s'", a);
            if (eq) {
                if (o->type == OPT_FLAG) usage_error(spec, "option '%s' takes no value", a);
                val = eq + 1;
            }
        } else {
            for (const cli_opt *p = spec->opts; p && p->name; p++)
                if (p->short_name && p->short_name == a[1]) o = p;
            if (!o) usage_error(spec, "unknown option '%s'", a);
            if (a[2]) {
                if (o->type == OPT_FLAG) usage_error(spec, "option '%s' takes no value", a);
                val = a + 2;
            }
        }
        if (o->type != OPT_FLAG && !val) {
            if (i + 1 >= argc) usage_error(spec, "option '%s' needs a value", a);
            val = argv[++i];
        }
        set_value(spec, o, val);
    }
    argv[n] = NULL;
    *nops = n;
    *ops = argv;
    for (const cli_opt *o = spec->opts; o && o->name && !spec->output_any; o++)
        if (o->type == OPT_STRING && !strcmp(o->name, "output") && *(const char **)o->dest)
            cli_check_output(o->name, *(const char **)o->dest);
}

void cli_check_output(const char *opt, const char *path)
{
    if (!path || !strcmp(path, "-")) return;
    struct stat st;
    size_t len = strlen(path);
    if (!len) cli_die(EXIT_USAGE, "option --%s: empty file name", opt);
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) cli_die(EXIT_USAGE, "option --%s: %s is a directory", opt, path);
        if (!S_ISREG(st.st_mode)) {
            // A device or FIFO is written in place (tsr_writer_open_path).
            if (access(path, W_OK)) cli_die(EXIT_USAGE, "option --%s: %s: %s", opt, path, strerror(errno));
            return;
        }
    } else if (errno != ENOENT) {
        cli_die(EXIT_USAGE, "option --%s: %s: %s", opt, path, strerror(errno));
    } else if (path[len - 1] == '/') {
        cli_die(EXIT_USAGE, "option --%s: %s: no such directory", opt, path);
    }
    // A regular file is written beside its target and renamed: the directory
    // must exist and be writable.
    char *dir = strdup(path);
    if (!dir) cli_die(EXIT_DATA, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK)) {
        int err = errno;
        if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) err = ENOTDIR;
        cli_die(EXIT_USAGE, "option --%s: cannot write %s: directory %s: %s", opt, path, dir, strerror(err));
    }
    free(dir);
}

FILE *cli_open_in(const char *path)
{
    if (!path || strcmp(path, "-") == 0) return stdin;
    FILE *f = fopen(path, "rb");
    if (!f) cli_die(EXIT_USAGE, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) cli_die(EXIT_USAGE, "%s: is a directory", path);
    return f;
}

void cli_stdout_binary(void)
{
    if (isatty(STDOUT_FILENO))
        cli_die(EXIT_USAGE, "refusing to write binary output to a terminal (redirect or pipe stdout)");
}

tsr_reader *cli_reader(const char *path, FILE **fp)
{
    FILE *f = cli_open_in(path);
    eddy_err e;
    tsr_reader *r = tsr_reader_open(f, (!path || !strcmp(path, "-")) ? "stdin" : path, &e);
    if (!r) cli_die(EXIT_DATA, "%s", e.msg);
    if (fp) *fp = f;
    return r;
}

void cli_read_all(int nops, char **ops, cli_read_fn read, void *ctx)
{
    const char *stdin_op[] = {"-"};
    const char *const *inputs = nops ? (const char *const *)ops : stdin_op;
    for (int i = 0; i < (nops ? nops : 1); i++) {
        FILE *f;
        eddy_err e;
        tsr_reader *r = cli_reader(inputs[i], &f);
        if (read(ctx, r, inputs[i], &e)) cli_die(EXIT_DATA, "%s", e.msg);
        tsr_reader_close(r);
        if (f != stdin) fclose(f);
    }
}

tsr_writer *cli_writer(const char *path, const tsr_write_opts *opts)
{
    eddy_err e;
    tsr_writer *w;
    if (!path || strcmp(path, "-") == 0) {
        cli_stdout_binary();
        w = tsr_writer_open(stdout, opts, &e);
    } else {
        w = tsr_writer_open_path(path, opts, &e);
    }
    if (!w) cli_die(EXIT_DATA, "%s", e.msg);
    return w;
}

int cli_threads(int n)
{
    if (n <= 0) {
        const char *s = getenv("OMP_NUM_THREADS");
        n = s && atoi(s) > 0 ? atoi(s) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    // The tools parallelise across samples and transforms with OpenMP, so the
    // libraries underneath run one thread each: no oversubscription.
    openblas_set_num_threads(1);
    fftw_init_threads();
    fftwf_init_threads();
    fftw_plan_with_nthreads(1);
    fftwf_plan_with_nthreads(1);
    return n;
}

long cli_steps(const char *opt, double T, double dt, int allow_zero)
{
    if (!(T >= 0) || !isfinite(T) || (!allow_zero && T == 0))
        cli_die(EXIT_USAGE, "option --%s: %g must be %s", opt, T, allow_zero ? ">= 0" : "positive");
    double k = T / dt;
    long n = lround(k);
    if (fabs(k - n) > 1e-6 * fmax(1, k))
        cli_die(EXIT_USAGE, "option --%s: %g is not a whole number of steps of dt=%g", opt, T, dt);
    return n;
}

static _Noreturn void abort_die(tsr_writer *w, const eddy_err *e)
{
    tsr_writer_abort(w);   // never a stream that looks complete
    cli_die(EXIT_DATA, "%s", e->msg);
}

void cli_write_samples(tsr_writer *w, long first, long count, int par, int nrec, cli_sample_fn head,
                       cli_sample_fn fill, void *ctx)
{
    eddy_err e;
    tsr_record *recs = calloc((size_t)par * nrec, sizeof *recs);   // (par, nrec)
    eddy_err *errs = calloc((size_t)par, sizeof *errs);
    int *rcs = calloc((size_t)par, sizeof *rcs);
    if (!recs || !errs || !rcs) {
        eddy_fail(&e, "out of memory");
        abort_die(w, &e);
    }
    for (long b = 0; b < count; b += par) {
        int nb = (int)(count - b < par ? count - b : par);
        for (int j = 0; j < nb; j++) {
            for (int q = 0; q < nrec; q++) tsr_record_init(&recs[j * nrec + q]);
            if (head(ctx, first + b + j, &recs[j * nrec], &e)) abort_die(w, &e);
        }
#pragma omp parallel for num_threads(nb) schedule(static, 1) if (nb > 1)
        for (int j = 0; j < nb; j++) rcs[j] = fill(ctx, first + b + j, &recs[j * nrec], &errs[j]);
        for (int j = 0; j < nb; j++)
            if (rcs[j]) abort_die(w, &errs[j]);
        for (int j = 0; j < nb * nrec; j++) {
            if (tsr_write(w, &recs[j], &e)) abort_die(w, &e);
            tsr_record_free(&recs[j]);
        }
    }
    free(recs);
    free(errs);
    free(rcs);
}

void cli_train(const char *name, const train_model *m, adam *opt, train_opts *o, int quiet,
               const char *unit)
{
    progress p;
    o->report = progress_loss, o->report_ctx = &p;
    progress_start(&p, name, (double)o->steps, quiet);
    eddy_err e;
    double ema;
    if (train_run(m, opt, o, &ema, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    char note[96];
    snprintf(note, sizeof note, "loss %.4g, %ld %s, %zu parameters", ema, o->nsamples, unit, m->nparams);
    progress_end(&p, note);
}
