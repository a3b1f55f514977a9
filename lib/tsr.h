// The tensor stream: a sequence of named n-d arrays with attributes, each
// header in a zstd skippable frame and each payload an ordinary zstd frame,
// ended by an end-of-stream record.  formats/tsr.md is the normative spec.
//
// Reading and writing go one record at a time; memory is bounded by the
// largest record, never by the stream.
#ifndef EDDY_TSR_H
#define EDDY_TSR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define TSR_MAX_RANK 8
#define TSR_MAX_NAME 255
#define TSR_MAX_HEADER (1u << 20)     // bytes of one record header, attributes included
#define TSR_MAX_AXIS (1ull << 48)     // length of one axis (formats/tsr.md §4)
#define TSR_WINDOW_LOG_MAX 27         // a payload frame's window is at most 128 MiB

typedef enum {
    TSR_I1, TSR_U1, TSR_I2, TSR_U2, TSR_I4, TSR_U4, TSR_I8, TSR_U8,
    TSR_F4, TSR_F8, TSR_C8, TSR_C16,
    TSR_NDTYPE
} tsr_dtype;

typedef struct {
    char *key, *value;
} tsr_attr;

typedef struct {
    char name[TSR_MAX_NAME + 1];
    tsr_dtype dtype;
    int rank;
    uint64_t shape[TSR_MAX_RANK];   // C order
    tsr_attr *attrs;                // in insertion order
    int nattrs, cap_attrs;
    void *data;                     // numel * itemsize bytes, little-endian, owned
    size_t nbytes;
} tsr_record;

// ---- dtypes
const char *tsr_dtype_descr(tsr_dtype t);            // "<f4", "|u1", ...
int tsr_dtype_parse(const char *descr, tsr_dtype *t); // 0 ok, -1 unknown
size_t tsr_dtype_size(tsr_dtype t);                   // bytes per element
int tsr_dtype_is_float(tsr_dtype t);                  // f4 f8 c8 c16

// Whether the n bytes at s are well-formed UTF-8 (names and keys must be).
int tsr_utf8_valid(const char *s, size_t n);

// ---- records
void tsr_record_init(tsr_record *r);
void tsr_record_free(tsr_record *r);                  // frees data and attrs, re-inits
// Sets name, dtype and shape and allocates zeroed data; checks the shape's
// product for overflow.  Keeps existing attributes.
int tsr_record_alloc(tsr_record *r, const char *name, tsr_dtype t, int rank,
                     const uint64_t *shape, eddy_err *e);
uint64_t tsr_numel(const tsr_record *r);
// Copies every attribute of src into dst (overwriting equal keys).
int tsr_attrs_copy(tsr_record *dst, const tsr_record *src);
// Deep copy of a whole record.
int tsr_record_clone(tsr_record *dst, const tsr_record *src, eddy_err *e);
// Converts data in place to another dtype (real ↔ real, complex ↔ complex).
int tsr_record_convert(tsr_record *r, tsr_dtype to, eddy_err *e);

// ---- attributes (values are arbitrary UTF-8, newlines included)
const char *tsr_attr_get(const tsr_record *r, const char *key);   // NULL if absent
int tsr_attr_set(tsr_record *r, const char *key, const char *value);
int tsr_attr_setf(tsr_record *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tsr_attr_set_double(tsr_record *r, const char *key, double v);  // "%.17g"
int tsr_attr_del(tsr_record *r, const char *key);
// Reads a number: 0 on success, 1 if absent, -1 (with message) if unparsable.
int tsr_attr_double(const tsr_record *r, const char *key, double *out, eddy_err *e);
int tsr_attr_long(const tsr_record *r, const char *key, long *out, eddy_err *e);
// Appends one line (a tool's command line) to the "history" attribute.
int tsr_history_append(tsr_record *r, const char *line);

// ---- reading
typedef struct tsr_reader tsr_reader;
// Opens a stream on f ("label" names it in messages, e.g. the file name).
tsr_reader *tsr_reader_open(FILE *f, const char *label, eddy_err *e);
// Reads the next record into rec (freeing what rec held).  Returns 1 when a
// record was read, 0 at a clean end of stream, -1 on error.  With
// header_only, the payload is skipped unread and rec->data is NULL.
int tsr_read(tsr_reader *r, tsr_record *rec, eddy_err *e);
int tsr_read_header_only(tsr_reader *r, tsr_record *rec, eddy_err *e);
// Reads the next header, then the payload only if want(rec, ctx) is non-zero
// (it sees name, dtype, shape and attributes); otherwise the payload is
// skipped unread and rec->data is NULL.  Returns as tsr_read.
int tsr_read_if(tsr_reader *r, tsr_record *rec, int (*want)(const tsr_record *header, void *ctx), void *ctx,
                eddy_err *e);
long tsr_reader_index(const tsr_reader *r);          // index of the next record
void tsr_reader_close(tsr_reader *r);                 // does not fclose

// ---- writing
typedef struct {
    int level;       // zstd level, default 1
    int shuffle;     // byte-shuffle float payloads, default 1
} tsr_write_opts;

typedef struct tsr_writer tsr_writer;
// opts may be NULL for the defaults.
tsr_writer *tsr_writer_open(FILE *f, const tsr_write_opts *opts, eddy_err *e);
// Writes to path atomically: into a temporary file beside it, renamed by
// tsr_writer_finish; tsr_writer_abort (or an error, exit, or SIGTERM, SIGINT,
// SIGHUP) removes it.  A path that exists and is not a regular file (a device
// node, a FIFO) is written in place instead; a directory is refused.
tsr_writer *tsr_writer_open_path(const char *path, const tsr_write_opts *opts, eddy_err *e);
int tsr_write(tsr_writer *w, const tsr_record *rec, eddy_err *e);
// Writes the end-of-stream record, flushes, and frees w.
int tsr_writer_finish(tsr_writer *w, eddy_err *e);
// Frees w without an end record: a reader will see a truncated stream.
void tsr_writer_abort(tsr_writer *w);
long tsr_writer_count(const tsr_writer *w);

// The registry behind the atomic writer, for other writers of temporary
// files (tsr2npy): a tracked path is unlinked at exit and on SIGTERM, SIGINT
// and SIGHUP (then the process dies by the signal).  tmp must stay valid
// until untracked.
void tsr_temp_track(char *tmp);
void tsr_temp_untrack(const char *tmp);

#endif
