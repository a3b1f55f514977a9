// nc2tsr: a NetCDF file to a tensor stream (lib/netcdf_io.h has the mapping).
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netcdf_io.h"

static const char *description =
    "Reads every numeric variable of a NetCDF file (classic or NetCDF-4; tsr2nc's or any\n"
    "other program's) and writes one record per variable, or one per index of a leading\n"
    "unlimited dimension named 'record' (as tsr2nc writes repeated records).  The record\n"
    "gets the variable's attributes as text (numbers printed exactly), dims from its\n"
    "dimension names, the global attributes it lacks, and a history of the file's global\n"
    "history and this command line.  Complex numbers are a compound {r, i} of two floats\n"
    "or doubles.  Errors (nothing is written): a variable of a type with no stream dtype\n"
    "(char, string, vlen, enum, opaque, another compound), a file NetCDF cannot read.";

static const char *example =
    "  nc2tsr kf.nc | tsr-info\n"
    "  ncgen -4 -o u.nc u.cdl && nc2tsr -o u.tsr u.nc";

int main(int argc, char **argv)
{
    const char *out = "-";
    int level = 1, no_shuffle = 0;
    cli_opt opts[] = {
        CLI_OPT_OUTPUT(&out, "write the stream to FILE (atomically) instead of stdout"),
        CLI_OPTS_WRITE(&level, &no_shuffle),
        CLI_OPT_END,
    };
    cli_spec spec = { "nc2tsr", "[options] FILE.nc", "convert a NetCDF file to a tensor stream", description, example,
                      opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops != 1) cli_die(EXIT_USAGE, "one NetCDF file operand expected (got %d)", nops);
    tsr_record *recs;
    size_t n;
    eddy_err e;
    // Everything is read before anything is written: an error leaves no output.
    if (ncio_read(ops[0], &recs, &n, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    for (size_t i = 0; i < n; i++)
        if (tsr_history_append(&recs[i], cli_cmdline())) cli_die(EXIT_DATA, "out of memory");
    tsr_write_opts wo = { .level = level, .shuffle = !no_shuffle };
    tsr_writer *w = cli_writer(out, &wo);
    for (size_t i = 0; i < n; i++)
        if (tsr_write(w, &recs[i], &e)) {
            tsr_writer_abort(w);
            cli_die(EXIT_DATA, "%s", e.msg);
        }
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    ncio_free(recs, n);
    return 0;
}
