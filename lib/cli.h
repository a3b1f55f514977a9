// The tool runtime: a table-driven option parser whose --help is generated
// from the same table (so help and parser cannot drift), the error/exit
// convention, stream opening for stdin/stdout operands, and thread setup.
// This file pair and progress.c are the only library code that prints or
// exits: they exist to serve a tool's main.
#ifndef EDDY_CLI_H
#define EDDY_CLI_H

#include <stdio.h>

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
} cli_opt;

typedef struct {
    const char *name;         // program name, e.g. "tsr-info"
    const char *usage;        // operand synopsis, e.g. "[options] [FILE...]"
    const char *summary;      // one line
    const char *description;  // paragraphs (may be NULL)
    const char *example;      // shell lines (may be NULL)
    const cli_opt *opts;      // terminated by an entry with name == NULL
} cli_spec;

// Exit statuses of every tool.
enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

// Parses argv by spec; --help and --version print and exit 0, a bad option
// exits 2.  Options and operands may mix; "--" ends options.  On return
// argv[0..*nops) hold the operands in order.  Also records the command line
// for history (cli_cmdline).
void cli_parse(const cli_spec *spec, int argc, char **argv, int *nops, char ***ops);

// Prints the help text generated from spec to f.
void cli_help(const cli_spec *spec, FILE *f);

// The command line as one string, shell-quoted where needed.
const char *cli_cmdline(void);
const char *cli_progname(void);

// "prog: error: message" on stderr, then exit(status).
_Noreturn void cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// "prog: warning: message" on stderr.
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Opens an input operand ("-" is stdin); dies with status 2 if it cannot.
FILE *cli_open_in(const char *path);
// Checks that stdout is not a terminal (binary output); dies with status 2.
void cli_stdout_binary(void);

// Opens a tensor stream reader on an input operand; dies with status 1 on a
// bad stream header.
tsr_reader *cli_reader(const char *path, FILE **f);
// A writer on stdout (refusing a terminal) or on a path (atomic); dies on error.
tsr_writer *cli_writer(const char *path, const tsr_write_opts *opts);

// Threads: n > 0 forces, 0 takes OMP_NUM_THREADS or else every core.  Sets
// OpenMP, OpenBLAS and FFTW's planner together; returns the count.
int cli_threads(int n);

#endif
