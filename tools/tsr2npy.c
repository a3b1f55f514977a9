// tsr2npy: a tensor stream to NumPy .npy files, one per record or all
// records stacked into one array.
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "npy.h"

static const char *out = "-";
static int stack;

static const cli_opt opts[] = {
    {"output", 'o', OPT_STRING, &out, "PATH",
     "'-' (stdout), FILE.npy, DIR/ or a file-name PREFIX (see above)"},
    {"stack", 's', OPT_FLAG, &stack, NULL, "stack records of equal dtype and shape into one array (N, ...)"},
    CLI_OPT_END,
};

static const cli_spec spec = {
    .name = "tsr2npy",
    .usage = "[options] [FILE]",
    .output_any = 1,
    .summary = "convert a tensor stream to NumPy .npy files",
    .description = "-o FILE.npy writes the one record of the stream (or, with --stack, all of them) to\n"
                   "FILE.npy; -o DIR (existing, or ending in '/') writes DIR/NNNN_NAME.npy per record;\n"
                   "-o PREFIX writes PREFIXNNNN_NAME.npy.  Files are written whole or not at all.\n"
                   "On stdout, every record is written as one .npy array after another (a one-record\n"
                   "stream gives exactly one .npy file; more are read with repeated numpy.load(f)).\n"
                   "Attributes have no place in .npy and are not written; see tsr-info --attrs.",
    .example = "  tsr2npy -o frames/ run.tsr          # frames/0000_omega.npy, ...\n"
               "  tsr2npy --stack -o all.npy run.tsr  # one (N, H, W) array",
    .opts = opts,
};

static char *tmp_path;   // the file being written, removed if we die

static _Noreturn void fail(int status, const char *fmt, const char *a) __attribute__((format(printf, 2, 0)));
static _Noreturn void fail(int status, const char *fmt, const char *a)
{
    if (tmp_path) unlink(tmp_path);
    cli_die(status, fmt, a);
}

static FILE *open_tmp(const char *path)
{
    if (tmp_path) tsr_temp_untrack(tmp_path);
    free(tmp_path);
    tmp_path = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        // A device or FIFO is written in place (a rename would replace it);
        // --stack rewrites its header at the end and needs a real file.
        if (S_ISDIR(st.st_mode)) cli_die(EXIT_USAGE, "%s is a directory", path);
        if (stack) cli_die(EXIT_USAGE, "%s: --stack writes a regular file (or stdout), not a device or FIFO", path);
        FILE *f = fopen(path, "wb");
        if (!f) cli_die(EXIT_USAGE, "%s: %s", path, strerror(errno));
        return f;
    }
    if (asprintf(&tmp_path, "%s.tmp.XXXXXX", path) < 0) cli_die(EXIT_DATA, "out of memory");
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        char *t = tmp_path;
        tmp_path = NULL;
        cli_die(EXIT_USAGE, "%s: cannot create: %s", t, strerror(errno));
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    tsr_temp_track(tmp_path);   // removed on exit and on TERM, INT, HUP
    FILE *f = fdopen(fd, "wb+");
    if (!f) fail(EXIT_DATA, "cannot open %s", tmp_path);
    return f;
}

static void commit_tmp(FILE *f, const char *path)
{
    if (!tmp_path) {
        if (fclose(f)) cli_die(EXIT_DATA, "%s: write failed", path);
        return;
    }
    if (fflush(f) || fsync(fileno(f)) || fclose(f)) fail(EXIT_DATA, "%s: write failed", tmp_path);
    if (rename(tmp_path, path)) fail(EXIT_DATA, "cannot rename to %s", path);
    tsr_temp_untrack(tmp_path);
    free(tmp_path);
    tmp_path = NULL;
}

// The file name of record k: PATH + NNNN_NAME.npy, the name made safe.
static char *record_path(const char *prefix, long k, const char *name)
{
    char safe[TSR_MAX_NAME + 1];
    size_t n = 0;
    for (const char *p = name; *p; p++)
        safe[n++] = (*p == '/' || (unsigned char)*p < 0x20) ? '_' : *p;
    safe[n] = 0;
    char *s;
    if (asprintf(&s, "%s%04ld%s%s.npy", prefix, k, n ? "_" : "", safe) < 0) cli_die(EXIT_DATA, "out of memory");
    return s;
}

static int is_dir(const char *p)
{
    struct stat st;
    size_t n = strlen(p);
    return (n && p[n - 1] == '/') || (stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

static void copy_file(FILE *from, FILE *to)
{
    char buf[1 << 16];
    size_t n;
    rewind(from);
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, to) != n) cli_die(EXIT_DATA, "write failed: %s", strerror(errno));
}

// Every record to its own .npy: stdout, the single file out, or prefix + record_path.
static long write_each(tsr_reader *r, const char *prefix, int to_stdout, int single)
{
    eddy_err e;
    tsr_record rec;
    tsr_record_init(&rec);
    FILE *single_f = NULL;
    long n = 0;
    int rc;
    while ((rc = tsr_read(r, &rec, &e)) == 1) {
        if (to_stdout) {
            if (npy_write(stdout, &rec, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        } else if (single) {
            if (n > 0) fail(EXIT_DATA, "%s: the stream has several records; use --stack or -o DIR/", out);
            single_f = open_tmp(out);
            if (npy_write(single_f, &rec, &e)) fail(EXIT_DATA, "%s", e.msg);
        } else {
            char *path = record_path(prefix, n, rec.name);
            FILE *f = open_tmp(path);
            if (npy_write(f, &rec, &e)) fail(EXIT_DATA, "%s", e.msg);
            commit_tmp(f, path);
            free(path);
        }
        n++;
    }
    if (rc < 0) fail(EXIT_DATA, "%s", e.msg);
    if (single) {
        if (n == 0) fail(EXIT_DATA, "%s", "no records in the stream");
        commit_tmp(single_f, out);
    }
    tsr_record_free(&rec);
    return n;
}

// --stack: one array of every record (equal dtype and shape) on a new first axis.
static void write_stack(tsr_reader *r, int to_stdout)
{
    eddy_err e;
    tsr_record rec, first;
    tsr_record_init(&rec);
    tsr_record_init(&first);
    FILE *dst = NULL;   // the stacked array
    off_t pos0 = 0;
    int spool = 0;       // stdout is a pipe: stack into a temporary file first
    long n = 0;
    int rc;
    while ((rc = tsr_read(r, &rec, &e)) == 1) {
        char msg[600];
        if (n == 0) {
            if (rec.rank >= TSR_MAX_RANK)
                cli_die(EXIT_DATA, "record 0 '%s': rank %d cannot take a stacking axis", rec.name, rec.rank);
            tsr_record_clone(&first, &rec, &e);
            if (to_stdout) {
                struct stat st;
                spool = fstat(STDOUT_FILENO, &st) || !S_ISREG(st.st_mode) || (pos0 = lseek(STDOUT_FILENO, 0, SEEK_CUR)) < 0;
                dst = spool ? tmpfile() : stdout;
                if (spool) pos0 = 0;
                if (!dst) cli_die(EXIT_DATA, "cannot create a temporary file: %s", strerror(errno));
            } else {
                dst = open_tmp(out);
            }
            uint64_t shape[TSR_MAX_RANK] = {0};
            memcpy(shape + 1, rec.shape, sizeof(uint64_t) * (size_t)rec.rank);
            if (npy_write_header(dst, rec.dtype, rec.rank + 1, shape, &e)) fail(EXIT_DATA, "%s", e.msg);
        } else {
            int same = rec.dtype == first.dtype && rec.rank == first.rank;
            for (int i = 0; same && i < rec.rank; i++) same = rec.shape[i] == first.shape[i];
            if (!same) {
                snprintf(msg, sizeof msg, "record %ld '%s': dtype or shape differs from record 0's; --stack needs equal ones",
                         n, rec.name);
                fail(EXIT_DATA, "%s", msg);
            }
        }
        if (rec.nbytes && fwrite(rec.data, 1, rec.nbytes, dst) != rec.nbytes)
            fail(EXIT_DATA, "write failed: %s", strerror(errno));
        n++;
    }
    if (rc < 0) fail(EXIT_DATA, "%s", e.msg);
    if (n == 0) fail(EXIT_DATA, "%s", "no records to stack");
    // The header has the same length for any count, so it is patched in place.
    uint64_t shape[TSR_MAX_RANK] = {(uint64_t)n};
    memcpy(shape + 1, first.shape, sizeof(uint64_t) * (size_t)first.rank);
    if (fflush(dst) || fseeko(dst, pos0, SEEK_SET) || npy_write_header(dst, first.dtype, first.rank + 1, shape, &e) ||
        fseeko(dst, 0, SEEK_END))
        fail(EXIT_DATA, "%s", "cannot rewrite the .npy header");
    if (!to_stdout) commit_tmp(dst, out);
    else if (spool) copy_file(dst, stdout);
    tsr_record_free(&rec);
    tsr_record_free(&first);
}

int main(int argc, char **argv)
{
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops > 1) cli_die(EXIT_USAGE, "one input stream at most (concatenate with tsr-cat)");
    const char *in = nops ? ops[0] : "-";
    int to_stdout = !strcmp(out, "-");
    char *prefix = NULL;
    size_t olen = strlen(out);
    int single = !to_stdout && !stack && olen > 4 && !strcmp(out + olen - 4, ".npy");
    if (to_stdout) {
        cli_stdout_binary();
    } else if (!stack && !single) {
        int dir = is_dir(out);
        if (dir) mkdir(out, 0777);   // "new/" is created, one level
        if (asprintf(&prefix, "%s%s", out, dir && out[strlen(out) - 1] != '/' ? "/" : "") < 0)
            cli_die(EXIT_DATA, "out of memory");
    }
    tsr_reader *r = cli_reader(in, NULL);
    if (stack) write_stack(r, to_stdout);
    else write_each(r, prefix, to_stdout, single);
    if (fflush(stdout)) cli_die(EXIT_DATA, "write failed: %s", strerror(errno));
    tsr_reader_close(r);
    free(prefix);
    return 0;
}
