// spectrum: energy spectra and PSDs of the fields of a stream (lib/spectrum.h
// states the normalisation and the paper it follows).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "layout.h"
#include "spectrum.h"

static const char *description =
    "Modes:\n"
    "  energy     2-D fields: E(k) = 1/2 sum over the shell round(|n|) = k of |u_hat(n)|^2,\n"
    "             u_hat = FFT/(Ny Nx); sum_k E(k) = mean(u^2)/2.  Output (c, k).\n"
    "  psd        1-D fields: P(n) = |u_hat(n)|^2 + |u_hat(-n)|^2 (one-sided), u_hat = FFT/N;\n"
    "             sum_n P(n) = mean(u^2).  Output (c, k).\n"
    "  spacetime  paths with a t axis: P = |FFT_{t,space}(u)/(T D)|^2 over time and space\n"
    "             jointly, one-sided in x (mirror modes folded), sum P = mean(u^2); the\n"
    "             seed-001 spectral error is computed on this (see relerr).  Output\n"
    "             (c, w, k) or (c, w, ky, kx), w the signed frequency index in FFT order.\n"
    "  auto       energy for 2-D fields, psd for 1-D (the default).\n"
    "A record with no values (zero frames, points or paths) is an error.\n"
    "The mean mode (k = 0) is kept in every mode.  energy and psd average over every frame\n"
    "and batch index of a record, per channel; spacetime averages over batch indices.  With\n"
    "--mean one record (or table) averages over all records, which must share a shape.\n"
    "Axes from the dims attribute as in rg-coarsen --help; wavenumber = 2 pi k / L with L\n"
    "the L attribute (else 2 pi, so wavenumber = k).\n"
    "\n"
    "Output: a stream of <f8 records named 'spectrum' (attributes of the input kept, plus\n"
    "spectrum=MODE, dims, k_unit = 2 pi/L), or with --tsv a table with a header line:\n"
    "  energy/psd:  record  c  k  wavenumber  value\n"
    "  spacetime:   record  c  w  k  value        (1-D)\n"
    "               record  c  w  ky  kx  value   (2-D; k indices signed)\n"
    "record is the input record index, or 'mean' with --mean.";

static const char *example =
    "  ns-gen --preset kolmogorov | spectrum --mean --tsv > E.tsv\n"
    "  gnuplot -e \"set logscale xy; set terminal png; set output 'E.png';"
    " plot 'E.tsv' using 4:5 skip 1 with lines\"";

typedef spec_acc job;   // lib/spectrum.h: the spectra of one output

static void job_start(job *j, const layout *l, spec_mode mode, long idx)
{
    eddy_err e;
    if (spec_acc_start(j, l, mode, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
}

static double *job_result(const job *j)
{
    double *o = spec_acc_result(j);
    if (!o) cli_die(EXIT_DATA, "out of memory");
    return o;
}

static const char *mode_name(spec_mode m) { return m == SPEC_ENERGY ? "energy" : m == SPEC_PSD ? "psd" : "spacetime"; }

static void emit_tsv(FILE *tf, const job *j, const double *out, long idx)
{
    const layout *l = &j->l;
    char rec[32];
    if (idx < 0) strcpy(rec, "mean");
    else snprintf(rec, sizeof rec, "%ld", idx);
    size_t hx = (size_t)l->nx / 2 + 1;
    for (size_t c = 0; c < l->C; c++) {
        const double *o = out + c * j->nout;
        for (size_t i = 0; i < j->nout; i++) {
            if (j->mode != SPEC_SPACETIME) {
                fprintf(tf, "%s\t%zu\t%zu\t%.10g\t%.10g\n", rec, c, i, 2 * M_PI * (double)i / l->L, o[i]);
            } else if (l->nspace == 1) {
                fprintf(tf, "%s\t%zu\t%d\t%zu\t%.10g\n", rec, c, spec_signed_index((int)(i / hx), (int)l->T), i % hx, o[i]);
            } else {
                size_t kx = i % hx, ky = (i / hx) % (size_t)l->ny, w = i / hx / (size_t)l->ny;
                fprintf(tf, "%s\t%zu\t%d\t%d\t%zu\t%.10g\n", rec, c, spec_signed_index((int)w, (int)l->T),
                       spec_signed_index((int)ky, l->ny), kx, o[i]);
            }
        }
    }
}

static void emit_record(tsr_writer *w, const job *j, const double *out, const tsr_record *src, long idx)
{
    const layout *l = &j->l;
    tsr_record r;
    tsr_record_init(&r);
    uint64_t shape[4];
    int rank = 0;
    shape[rank++] = l->C;
    const char *dims;
    size_t hx = (size_t)l->nx / 2 + 1;
    if (j->mode != SPEC_SPACETIME) {
        shape[rank++] = j->nout;
        dims = "c,k";
    } else {
        shape[rank++] = l->T;
        if (l->nspace == 2) shape[rank++] = (uint64_t)l->ny;
        shape[rank++] = hx;
        dims = l->nspace == 2 ? "c,w,ky,kx" : "c,w,k";
    }
    eddy_err e;
    if (tsr_record_alloc(&r, "spectrum", TSR_F8, rank, shape, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    memcpy(r.data, out, l->C * j->nout * sizeof(double));
    tsr_attrs_copy(&r, src);
    tsr_attr_set(&r, "dims", dims);
    tsr_attr_set(&r, "spectrum", mode_name(j->mode));
    tsr_attr_set_double(&r, "k_unit", 2 * M_PI / l->L);
    tsr_attr_set(&r, "spectrum_norm",
                 j->mode == SPEC_ENERGY ? "E(k)=1/2 sum_{round|n|=k} |FFT/N^2|^2" : "|FFT/n|^2 folded one-sided in x");
    if (idx < 0) tsr_attr_setf(&r, "spectrum_count", "%.0f", j->count);
    tsr_history_append(&r, cli_cmdline());
    if (tsr_write(w, &r, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    tsr_record_free(&r);
}

static spec_mode parse_mode(const char *s)
{
    if (!strcmp(s, "auto")) return SPEC_AUTO;
    if (!strcmp(s, "energy")) return SPEC_ENERGY;
    if (!strcmp(s, "psd")) return SPEC_PSD;
    if (!strcmp(s, "spacetime")) return SPEC_SPACETIME;
    cli_die(EXIT_USAGE, "option --mode: '%s' is not auto, energy, psd or spacetime", s);
}

// Reads every record and writes its spectra (or, with mean, their average at
// the end) to the table tf or the stream w.
static void spectra(tsr_reader *rd, spec_mode mode, const char *dims, int mean, FILE *tf, tsr_writer *w)
{
    int tsv = tf != NULL;
    tsr_record rec, first;
    tsr_record_init(&rec);
    tsr_record_init(&first);
    job j = { 0 };
    eddy_err e;
    long idx = 0;
    int rc, header = 0;
    while ((rc = tsr_read(rd, &rec, &e)) == 1) {
        layout l;
        if (field_check(&rec, &e) || layout_of(&rec, dims, &l, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        // An average over no values is NaN: refused, naming the record.
        if (l.T == 0 || l.D == 0 || l.C == 0 || l.npaths == 0)
            cli_die(EXIT_DATA, "record %ld holds no values (%zu frames, %zu channels, %zu points, %zu paths; dims %s)", idx,
                    l.T, l.C, l.D, l.npaths, l.dims);
        if (!mean || idx == 0) {
            job_start(&j, &l, mode, idx);
        } else if (l.T != j.l.T || l.C != j.l.C || l.ny != j.l.ny || l.nx != j.l.nx || l.nspace != j.l.nspace) {
            cli_die(EXIT_DATA, "record %ld: shape differs from record 0; --mean needs one shape", idx);
        }
        if (tsv && !header) {
            spec_mode m = j.mode;
            fprintf(tf, m != SPEC_SPACETIME ? "record\tc\tk\twavenumber\tvalue\n"
                   : l.nspace == 1 ? "record\tc\tw\tk\tvalue\n" : "record\tc\tw\tky\tkx\tvalue\n");
            header = 1;
        }
        if (spec_acc_add(&j, &rec, &e)) cli_die(EXIT_DATA, "record %ld: %s", idx, e.msg);
        if (!mean) {
            double *o = job_result(&j);
            if (tsv) emit_tsv(tf, &j, o, idx);
            else emit_record(w, &j, o, &rec, idx);
            free(o);
        } else if (idx == 0) {
            if (tsr_record_clone(&first, &rec, &e)) cli_die(EXIT_DATA, "%s", e.msg);
        }
        idx++;
    }
    if (rc < 0) cli_die(EXIT_DATA, "%s", e.msg);
    if (mean) {
        if (idx == 0) cli_die(EXIT_DATA, "no records to average");
        double *o = job_result(&j);
        if (tsv) emit_tsv(tf, &j, o, -1);
        else emit_record(w, &j, o, &first, -1);
        free(o);
    }
    spec_acc_free(&j);
    tsr_record_free(&rec);
    tsr_record_free(&first);
}

// The table is kept in memory (tf a memstream on table, len) and written at
// the end, so an error in a later record leaves no partial table behind.
static void write_table(FILE *tf, char **table, size_t *len, const char *out)
{
    fclose(tf);
    FILE *f = strcmp(out, "-") ? fopen(out, "w") : stdout;
    if (!f) cli_die(EXIT_USAGE, "%s: cannot write", out);
    if (fwrite(*table, 1, *len, f) != *len || fflush(f) || ferror(f)) cli_die(EXIT_DATA, "writing the table failed");
    if (f != stdout) fclose(f);
    free(*table);
}

int main(int argc, char **argv)
{
    const char *mode_s = "auto", *dims = NULL, *out = "-";
    int tsv = 0, mean = 0, threads = 0;
    cli_opt opts[] = {
        { "mode", 'm', OPT_STRING, &mode_s, "MODE", "auto, energy (2-D E(k)), psd (1-D), or spacetime" },
        { "mean", 0, OPT_FLAG, &mean, NULL, "average over all records: one output" },
        { "tsv", 0, OPT_FLAG, &tsv, NULL, "write a TSV table on stdout instead of a stream" },
        { "dims", 0, OPT_STRING, &dims, "LIST", "axis names, overriding the dims attribute" },
        CLI_OPT_OUTPUT(&out, "output stream or table ('-' is stdout)"),
        CLI_OPT_THREADS(&threads),
        CLI_OPT_END,
    };
    cli_spec spec = { "spectrum", "[options] [FILE]", "energy spectra and PSDs of fields", description, example,
                      opts };
    int nops;
    char **ops;
    cli_parse(&spec, argc, argv, &nops, &ops);
    if (nops > 1) cli_die(EXIT_USAGE, "one input stream at most (got %d operands)", nops);
    spec_mode mode = parse_mode(mode_s);
    cli_threads(threads);

    tsr_reader *rd = cli_reader(nops ? ops[0] : "-", NULL);
    tsr_writer *w = NULL;
    char *table = NULL;
    size_t table_len = 0;
    FILE *tf = NULL;
    if (tsv) {
        tf = open_memstream(&table, &table_len);
        if (!tf) cli_die(EXIT_DATA, "out of memory");
    } else {
        w = cli_writer(out, NULL);
    }
    spectra(rd, mode, dims, mean, tf, w);
    eddy_err e;
    if (w && tsr_writer_finish(w, &e)) cli_die(EXIT_DATA, "%s", e.msg);
    if (tsv) write_table(tf, &table, &table_len, out);
    tsr_reader_close(rd);
    return 0;
}
