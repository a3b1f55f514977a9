// The tool runtime: a table-driven option parser whose --help is generated
// from the same table (so help and parser cannot drift), the error/exit
// convention, stream opening for stdin/stdout operands, and thread setup.
// This file pair and progress.c are the only library code that prints or
// exits: they exist to serve a tool's main.
#ifndef EDDY_CLI_H
#define EDDY_CLI_H

#include <stdio.h>

#include "train.h"
#include "tsr.h"

typedef enum {
    OPT_FLAG,     // int*: set to 1 when present
    OPT_INT,      // int*
    OPT_LONG,     // long*
    OPT_DOUBLE,   // double*
    OPT_STRING,   // const char**
    OPT_LIST      // cli_list*: repeatable, every value kept in order
} cli_type;

typedef struct {
    const char **v;
    int n;
} cli_list;

typedef struct {
    const char *name;     // long name, without the leading "--"
    char short_name;      // 0 if none
    cli_type type;
    void *dest;           // where the value goes; its initial value is the default
    const char *metavar;  // "N", "FILE", ... (ignored for flags)
    const char *help;     // one line; state units here
    // Valid range of a numeric option, inclusive; min == max == 0 (an entry
    // that leaves them out) means any finite value.  NaN and Inf are refused
    // for every double whatever its range.  A default outside the range is a
    // sentinel ("from the preset", "automatic") and --help does not show it.
    double min, max;
} cli_opt;

// The range fields are optional at the end of a table entry (a string or a
// flag has none), which -Wextra would flag in every tool's table.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// Bounds for the range fields.
#define CLI_INF (1.0 / 0.0)
#define CLI_BIG 9.0e18   // about LONG_MAX: "no upper bound" for a long

// Option-table entries every tool spells the same way.  Help strings stay
// arguments where tools differ in what the option means (--seed, --output,
// --clip); the others carry the one wording all tools share.
#define CLI_OPT_END {NULL, 0, 0, NULL, NULL, NULL, 0, 0}
#define CLI_OPT_OUTPUT(dest, help) {"output", 'o', OPT_STRING, (dest), "FILE", (help)}
#define CLI_OPT_SEED(dest, help) {"seed", 's', OPT_LONG, (dest), "N", (help), 0, CLI_BIG}
#define CLI_OPT_THREADS(dest) {"threads", 'j', OPT_INT, (dest), "N", "threads (0: OMP_NUM_THREADS or all cores)", 0, 4096}
#define CLI_OPT_QUIET(dest) {"quiet", 'q', OPT_FLAG, (dest), NULL, "no progress"}
// Optimiser entries of the training tools.
#define CLI_OPT_LR(dest) {"lr", 0, OPT_DOUBLE, (dest), "X", "Adam learning rate", 1e-300, 1e6}
#define CLI_OPT_CLIP(dest, help) {"clip", 0, OPT_DOUBLE, (dest), "X", (help), 0, CLI_INF}
// --checkpoint-every, --resume and --log of the training tools (long*, const char**, const char**).
#define CLI_OPTS_CHECKPOINT(every, resume, log)                                                          \
    {"checkpoint-every", 0, OPT_LONG, (every), "N", "write the checkpoint every N steps (a run that diverges keeps the last good one)", 0, CLI_BIG}, \
    {"resume", 0, OPT_STRING, (resume), "FILE", "continue from a checkpoint with Adam state"},            \
    {"log", 0, OPT_STRING, (log), "FILE", "TSV loss log: step, epoch, lr, loss, seconds (--resume cuts it back to the checkpoint's step)"}
// --seed, --first and --count of the sample generators (long* each): sample i
// depends on (seed, i) alone, so shards reproduce one large run.
#define CLI_OPTS_SAMPLES(seed, first, count)                                                             \
    {"seed", 's', OPT_LONG, (seed), "S", "random seed; sample i uses the streams of (seed, i)", 0, CLI_BIG},          \
    {"first", 0, OPT_LONG, (first), "I", "index of the first sample (for shards)", 0, CLI_BIG},                      \
    {"count", 'c', OPT_LONG, (count), "N", "number of samples", 1, CLI_BIG}
// --level and --no-shuffle of the tools that write streams (int* each), for
// tsr_write_opts {.level = level, .shuffle = !no_shuffle}.
#define CLI_OPTS_WRITE(level, no_shuffle)                                                                \
    {"level", 0, OPT_INT, (level), "N", "zstd compression level", -7, 22},                                       \
    {"no-shuffle", 0, OPT_FLAG, (no_shuffle), NULL, "do not byte-shuffle float payloads"}

typedef struct {
    const char *name;         // program name, e.g. "tsr-info"
    const char *usage;        // operand synopsis, e.g. "[options] [FILE...]"
    const char *summary;      // one line
    const char *description;  // paragraphs (may be NULL)
    const char *example;      // shell lines (may be NULL)
    const cli_opt *opts;      // terminated by an entry with name == NULL
    int output_any;           // --output may be a directory or prefix: not checked (tsr2npy)
} cli_spec;

// Exit statuses of every tool.
enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

// Parses argv by spec; --help and --version print and exit 0, a bad option
// (unparsable, NaN, Inf or outside its range) exits 2, and so does an
// --output that cannot be written (cli_check_output).  The hidden option
// --help-options prints the option table as TSV (name, type, min, max) for
// the tests.  When the user has not chosen OpenMP's wait policy, the
// process re-executes itself once with OMP_WAIT_POLICY=passive so idle
// threads sleep at once on a shared machine.  At exit a write error on
// stdout turns the status into 1.  Options and operands may mix; "--" ends options.  On return
// argv[0..*nops) hold the operands in order.  Also records the command line
// for history (cli_cmdline).
void cli_parse(const cli_spec *spec, int argc, char **argv, int *nops, char ***ops);
// cli_parse for tools that read a list of inputs: with no operand, the one
// operand "-" (stdin).
void cli_parse_inputs(const cli_spec *spec, int argc, char **argv, int *nops, char ***ops);

// Prints the help text generated from spec to f.
void cli_help(const cli_spec *spec, FILE *f);

// The command line as one string, shell-quoted where needed.
const char *cli_cmdline(void);
const char *cli_progname(void);

// "prog: error: message" on stderr, then exit(status).
_Noreturn void cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "prog: error: path: msg", without repeating the path when msg already
// starts with it (the stream reader names its file itself).
_Noreturn void cli_die_path(int status, const char *path, const char *msg);
// "prog: warning: message" on stderr.
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Checks, before any work, that path ("-" is stdout) can be written as the
// output of option --opt: not a directory, and either an existing non-regular
// file (device, FIFO: written in place) that is writable, or in a writable
// directory (for the temporary file and rename).  Dies with status 2.
void cli_check_output(const char *opt, const char *path);

// Opens an input operand ("-" is stdin); dies with status 2 if it cannot
// (a directory included).
FILE *cli_open_in(const char *path);
// Checks that stdout is not a terminal (binary output); dies with status 2.
void cli_stdout_binary(void);

// Opens a tensor stream reader on an input operand; dies with status 1 on a
// bad stream header.
tsr_reader *cli_reader(const char *path, FILE **f);
// Reads the input operands in order, stdin when there are none: read(ctx,
// reader, operand name) consumes each stream; dies with status 1 and the
// error's message when it fails.
typedef int (*cli_read_fn)(void *ctx, tsr_reader *r, const char *name, eddy_err *e);
void cli_read_all(int nops, char **ops, cli_read_fn read, void *ctx);
// A writer on stdout (refusing a terminal) or on a path (atomic); dies on error.
tsr_writer *cli_writer(const char *path, const tsr_write_opts *opts);

// Steps of dt in the time span T given by option --opt, which must be a whole
// number of them (and positive unless allow_zero); dies with status 2 if not.
long cli_steps(const char *opt, double T, double dt, int allow_zero);

// The sample generators' driver: samples first .. first+count-1, par at a
// time in parallel, each filling nrec records; head(sample, recs) sets up a
// sample's records (shape, attributes), fill(sample, recs) computes them.
// Records are written in sample order; on any error the writer is aborted
// (no complete-looking stream) and the tool dies with status 1 and the
// error's message.
typedef int (*cli_sample_fn)(void *ctx, long sample, tsr_record *recs, eddy_err *e);
void cli_write_samples(tsr_writer *w, long first, long count, int par, int nrec, cli_sample_fn head,
                       cli_sample_fn fill, void *ctx);

// Threads: n > 0 forces, 0 takes OMP_NUM_THREADS or else every core.  Sets
// OpenMP, OpenBLAS and FFTW's planner together; returns the count.
int cli_threads(int n);

// Runs lib/train.h's loop with a progress line named `name` (unless quiet),
// ending "loss X, N <unit>, P parameters"; dies on error.
void cli_train(const char *name, const train_model *m, adam *opt, train_opts *o, int quiet,
               const char *unit);

#endif
