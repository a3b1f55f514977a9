// npy2tsr: NumPy .npy files to a tensor stream, one record per array.
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

static const char *out = "-", *name, *dtype;
static int level = 1, no_shuffle;
static cli_list attrs;

static const cli_opt opts[] = {
    CLI_OPT_OUTPUT(&out, "write the stream to FILE (atomically) instead of stdout"),
    {"name", 'n', OPT_STRING, &name, "NAME", "record name (default: the file name without .npy; 'x' for stdin)"},
    {"attr", 'a', OPT_LIST, &attrs, "KEY=VALUE", "set an attribute on every record; repeatable"},
    {"dtype", 0, OPT_STRING, &dtype, "DESCR", "convert the data to this dtype (<f4 <f8 <c8 <c16 <i4 ...)"},
    CLI_OPTS_WRITE(&level, &no_shuffle),
    CLI_OPT_END,
};

static const cli_spec spec = {
    .name = "npy2tsr",
    .usage = "[options] [FILE.npy...]",
    .summary = "convert NumPy .npy files to a tensor stream",
    .description = "Each operand ('-' or none: stdin) holds one array, or several written one after another\n"
                   "by repeated numpy.save calls; each array becomes one record.  Big-endian and\n"
                   "Fortran-order arrays are converted to little-endian C order.",
    .example = "  python3 -c 'import numpy as np; np.save(\"w.npy\", np.zeros((64, 64), \"f4\"))'\n"
               "  npy2tsr -a L=6.283185307179586 -a units=1/s --name omega w.npy > w.tsr",
    .opts = opts,
};

static tsr_writer *w;

static _Noreturn void fail(int status, const char *msg)
{
    tsr_writer_abort(w);   // never a stream that looks complete
    cli_die(status, "%s", msg);
}

// The record name from the file name: "dir/w.npy" -> "w".
static void default_name(const char *path, char *buf, size_t n)
{
    if (!strcmp(path, "-")) {
        snprintf(buf, n, "x");
        return;
    }
    char *copy = strdup(path);
    snprintf(buf, n, "%s", copy ? basename(copy) : path);
    free(copy);
    size_t k = strlen(buf);
    if (k > 4 && !strcmp(buf + k - 4, ".npy")) buf[k - 4] = 0;
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse_inputs(&spec, argc, argv, &nops, &ops);
    tsr_dtype to = TSR_F4;
    if (dtype && tsr_dtype_parse(dtype, &to))
        cli_die(EXIT_USAGE, "--dtype: unknown dtype '%s' (use a numpy descr such as <f4)", dtype);
    if (name && strlen(name) > TSR_MAX_NAME) cli_die(EXIT_USAGE, "--name: longer than %d bytes", TSR_MAX_NAME);
    tsr_record probe;
    tsr_record_init(&probe);
    for (int i = 0; i < attrs.n; i++) {
        const char *eq = strchr(attrs.v[i], '=');
        char key[256];
        if (!eq || eq == attrs.v[i] || (size_t)(eq - attrs.v[i]) >= sizeof key)
            cli_die(EXIT_USAGE, "-a '%s': expected KEY=VALUE", attrs.v[i]);
        snprintf(key, sizeof key, "%.*s", (int)(eq - attrs.v[i]), attrs.v[i]);
        if (tsr_attr_set(&probe, key, eq + 1)) cli_die(EXIT_USAGE, "-a '%s': invalid attribute key", attrs.v[i]);
    }
    for (int i = 0; i < nops; i++) {   // every input must open before any output is made
        FILE *f = cli_open_in(ops[i]);
        if (f != stdin) fclose(f);
    }

    tsr_write_opts wo = {.level = level, .shuffle = !no_shuffle};
    w = cli_writer(out, &wo);
    eddy_err e;
    tsr_record rec;
    tsr_record_init(&rec);
    for (int i = 0; i < nops; i++) {
        FILE *f = cli_open_in(ops[i]);
        const char *label = strcmp(ops[i], "-") ? ops[i] : "stdin";
        char nm[TSR_MAX_NAME + 1];
        if (name) snprintf(nm, sizeof nm, "%s", name);
        else default_name(ops[i], nm, sizeof nm);
        for (long k = 0;; k++) {
            char where[512];
            snprintf(where, sizeof where, "%s: array %ld", label, k);
            tsr_record_free(&rec);
            snprintf(rec.name, sizeof rec.name, "%s", nm);
            int rc = npy_read(f, where, &rec, &e);
            if (rc < 0) fail(EXIT_DATA, e.msg);
            if (rc == 0) {
                if (k == 0) fail(EXIT_DATA, strcat(where, ": empty input, no .npy array"));
                break;
            }
            if (dtype && tsr_record_convert(&rec, to, &e)) fail(EXIT_DATA, e.msg);
            if (tsr_attrs_copy(&rec, &probe) || tsr_history_append(&rec, cli_cmdline()))
                fail(EXIT_DATA, "out of memory");
            if (tsr_write(w, &rec, &e)) fail(EXIT_DATA, e.msg);
        }
        if (f != stdin) fclose(f);
    }
    tsr_record_free(&rec);
    tsr_record_free(&probe);
    if (tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    return 0;
}
