// tsr2nc: a tensor stream to a NetCDF-4 file (lib/netcdf_io.h has the mapping).
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netcdf_io.h"

static const char *description =
    "Reads every record of the input streams (stdin when none) and writes one NetCDF-4 file.\n"
    "Each record name becomes a variable whose dimensions are named by the record's dims\n"
    "attribute (e.g. dims=t,y,x; without it <var>_dim0, ...); records of one name must agree\n"
    "in dtype and shape and share a leading unlimited dimension 'record'.  Attributes become\n"
    "text attributes of the variable (units, long_name, history, L, dt, ... as written by the\n"
    "tools; CF readers such as xarray take units and long_name from them); the global history\n"
    "holds this command line, tsr_order the record order.  nc2tsr reads the file back to the\n"
    "same records: arrays byte for byte, attributes identical (history gains the two lines).\n"
    "Errors (nothing is written): records of one name with different shapes, a dimension\n"
    "name used with two lengths, a name NetCDF refuses.";

static const char *example =
    "  ns-gen --frames 8 | tsr2nc -o kf.nc && ncdump -h kf.nc\n"
    "  python3 -c 'import xarray; print(xarray.open_dataset(\"kf.nc\"))'   # if xarray is installed";

typedef struct {
    tsr_record *recs;
    size_t n, cap;
} acc;

static int take(void *ctx, tsr_reader *r, const char *name, eddy_err *e)
{
    acc *a = ctx;
    for (;;) {
        if (a->n == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 16;
            tsr_record *nr = realloc(a->recs, a->cap * sizeof *nr);
            if (!nr) return eddy_fail(e, "out of memory");
            a->recs = nr;
        }
        tsr_record_init(&a->recs[a->n]);
        int rc = tsr_read(r, &a->recs[a->n], e);
        if (rc < 0) return -1;
        if (rc == 0) return 0;
        a->n++;
    }
    (void)name;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    cli_opt opts[] = {
        CLI_OPT_OUTPUT(&out, "the NetCDF-4 file to write (required; written atomically)"),
        CLI_OPT_END,
    };
    cli_spec spec = { "tsr2nc", "[options] -o OUT.nc [FILE...]", "convert a tensor stream to a NetCDF-4 file",
                      description, example, opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (!out) cli_die(EXIT_USAGE, "option --output (-o FILE.nc) is required");
    if (!strcmp(out, "-")) cli_die(EXIT_USAGE, "NetCDF cannot be written to stdout: give -o FILE.nc");
    acc a = { 0 };
    cli_read_all(nops, ops, take, &a);
    eddy_err e;
    if (ncio_write(out, a.recs, a.n, cli_cmdline(), &e)) cli_die(EXIT_DATA, "%s", e.msg);
    for (size_t i = 0; i < a.n; i++) tsr_record_free(&a.recs[i]);
    free(a.recs);
    return 0;
}
