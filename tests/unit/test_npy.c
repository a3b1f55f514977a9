// .npy reading and writing: header dicts in the forms numpy and hand-written
// files use, every refusal, conversions (big-endian, Fortran order), and the
// exact bytes numpy.save writes (checked against a file layout spelled out
// here from numpy/lib/format.py, independent of lib/npy.c).
#include <string.h>

#include "check.h"
#include "npy.h"

// A v1.0 file with the given header dict text (padded to 64 bytes) and data.
static size_t make_npy(unsigned char *buf, const char *dict, const void *data, size_t n)
{
    size_t d = strlen(dict), hlen = d + 1, pad = 64 - (10 + hlen) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((hlen + pad) & 0xff);
    buf[9] = (unsigned char)((hlen + pad) >> 8);
    memcpy(buf + 10, dict, d);
    memset(buf + 10 + d, ' ', pad);
    buf[10 + d + pad] = '\n';
    memcpy(buf + 10 + hlen + pad, data, n);
    return 10 + hlen + pad + n;
}

static int read_buf(const void *buf, size_t len, tsr_record *r, eddy_err *e)
{
    FILE *f = fmemopen((void *)buf, len, "rb");
    int rc = npy_read(f, "t.npy", r, e);
    fclose(f);
    return rc;
}

static void test_header_forms(void)
{
    unsigned char buf[512];
    float v[6] = {1, 2, 3, 4, 5, 6};
    const char *forms[] = {
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",        // any key order
        "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,3)}", // double quotes
        "{'descr':'<f4','fortran_order':False,'shape':(2L, 3L),}",         // Python 2 longs
        "  {  'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) }  ",
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        size_t n = make_npy(buf, forms[i], v, sizeof v);
        tsr_record r;
        tsr_record_init(&r);
        eddy_err e;
        int rc = read_buf(buf, n, &r, &e);
        CHECK(rc == 1 && r.dtype == TSR_F4 && r.rank == 2 && r.shape[0] == 2 && r.shape[1] == 3 &&
                  memcmp(r.data, v, sizeof v) == 0,
              "form %zu: rc %d %s", i, rc, rc < 0 ? e.msg : "");
        tsr_record_free(&r);
    }
}

static void test_refusals(void)
{
    unsigned char buf[512];
    double v[4] = {0};
    struct {
        const char *dict, *msg;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False}", "lacks"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected header key"},
        {"{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured"},
        {"{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype"},
        {"{'descr': '|b1', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype"},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}", "unsupported dtype"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", "not True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", "bad dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", "rank above 8"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "bad dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", "overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", "trailing bytes"},
        {"['descr', '<f4']", "not a dict"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "malformed"},
        {"{'descr': 'a\\'b', 'fortran_order': False, 'shape': (2,)}", "descr"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (8,)}", "truncated data"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t n = make_npy(buf, bad[i].dict, v, sizeof v);
        tsr_record r;
        tsr_record_init(&r);
        eddy_err e = {{0}};
        int rc = read_buf(buf, n, &r, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].msg) && strstr(e.msg, "t.npy"), "case %zu (%s): rc %d '%s'", i,
              bad[i].dict, rc, e.msg);
        tsr_record_free(&r);
    }
    // bad magic, unknown version, a header longer than the cap
    tsr_record r;
    tsr_record_init(&r);
    eddy_err e;
    size_t n = make_npy(buf, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,)}", v, sizeof v);
    buf[1] = 'X';
    CHECK(read_buf(buf, n, &r, &e) == -1 && strstr(e.msg, "bad magic"), "magic: %s", e.msg);
    buf[1] = 'N';
    buf[6] = 4;
    CHECK(read_buf(buf, n, &r, &e) == -1 && strstr(e.msg, "version 4.0"), "version: %s", e.msg);
    buf[6] = 2;   // v2: a u32 length, here absurd
    buf[8] = 0, buf[9] = 0, buf[10] = 0, buf[11] = 0x10;
    CHECK(read_buf(buf, n, &r, &e) == -1 && strstr(e.msg, "too long"), "cap: %s", e.msg);
    CHECK(read_buf(buf, 7, &r, &e) == -1, "7 bytes");
    CHECK(read_buf(buf, 1, &r, &e) == -1, "1 byte");
    tsr_record_free(&r);
}

static void test_conversions(void)
{
    unsigned char buf[512];
    // big-endian f8 and c8
    unsigned char be[16] = {0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0};   // 1.0, -2.0
    size_t n = make_npy(buf, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,)}", be, 16);
    tsr_record r;
    tsr_record_init(&r);
    eddy_err e;
    CHECK(read_buf(buf, n, &r, &e) == 1 && r.dtype == TSR_F8, "be f8: %s", e.msg);
    CHECK(((double *)r.data)[0] == 1.0 && ((double *)r.data)[1] == -2.0, "be values");
    unsigned char bec[8] = {0x3f, 0x80, 0, 0, 0x40, 0x40, 0, 0};   // 1 + 3i
    n = make_npy(buf, "{'descr': '>c8', 'fortran_order': False, 'shape': ()}", bec, 8);
    CHECK(read_buf(buf, n, &r, &e) == 1 && r.dtype == TSR_C8 && r.rank == 0, "be c8: %s", e.msg);
    CHECK(((float *)r.data)[0] == 1.0f && ((float *)r.data)[1] == 3.0f, "be complex components swap separately");
    // Fortran order (2, 3, 2): element (i, j, k) at i + 2 j + 6 k
    int32_t fo[12], want[12];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++) {
                int v = 100 * i + 10 * j + k;
                fo[i + 2 * j + 6 * k] = v;
                want[(i * 3 + j) * 2 + k] = v;
            }
    n = make_npy(buf, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2)}", fo, sizeof fo);
    CHECK(read_buf(buf, n, &r, &e) == 1 && r.rank == 3 && memcmp(r.data, want, sizeof want) == 0,
          "fortran order to C order");
    // an empty array
    n = make_npy(buf, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 0)}", "", 0);
    CHECK(read_buf(buf, n, &r, &e) == 1 && r.nbytes == 0 && r.data != NULL && r.shape[1] == 0, "empty array");
    // one-byte types accept any byte-order character
    unsigned char u[3] = {1, 2, 255};
    n = make_npy(buf, "{'descr': '<u1', 'fortran_order': False, 'shape': (3,)}", u, 3);
    CHECK(read_buf(buf, n, &r, &e) == 1 && r.dtype == TSR_U1 && ((unsigned char *)r.data)[2] == 255, "<u1");
    tsr_record_free(&r);
}

static void test_several_arrays_and_eof(void)
{
    unsigned char buf[1024];
    float a = 1.5f;
    double b[2] = {3, 4};
    size_t n = make_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", &a, 4);
    n += make_npy(buf + n, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", b, 16);
    FILE *f = fmemopen(buf, n, "rb");
    tsr_record r;
    tsr_record_init(&r);
    eddy_err e;
    CHECK(npy_read(f, "t", &r, &e) == 1 && r.rank == 0 && *(float *)r.data == 1.5f, "first");
    CHECK(npy_read(f, "t", &r, &e) == 1 && r.rank == 1 && ((double *)r.data)[1] == 4, "second");
    CHECK(npy_read(f, "t", &r, &e) == 0, "clean end");
    fclose(f);
    tsr_record_free(&r);
}

// numpy.save's bytes, spelled out: magic, version 1.0, u16 header length,
// the dict with keys sorted, 21 - len(str(shape[0])) growth spaces, padding
// to a multiple of 64 and a newline.
static void test_write_matches_numpy_layout(void)
{
    tsr_record r;
    tsr_record_init(&r);
    eddy_err e;
    uint64_t shape[2] = {3, 10};
    tsr_record_alloc(&r, "x", TSR_F4, 2, shape, &e);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    CHECK(npy_write(f, &r, &e) == 0, "write");
    fclose(f);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 10), }";
    size_t d = strlen(dict), growth = 21 - 1, hlen = d + growth + 1;
    size_t pad = 64 - (10 + hlen) % 64, head = 10 + hlen + pad;
    CHECK(len == head + 120, "length %zu, want %zu", len, head + 120);
    CHECK(head % 64 == 0, "data offset %zu not 64-aligned", head);
    CHECK(memcmp(out, "\x93NUMPY\x01\x00", 8) == 0, "magic");
    CHECK((size_t)((unsigned char)out[8] | (unsigned char)out[9] << 8) == hlen + pad, "header length field");
    CHECK(memcmp(out + 10, dict, d) == 0, "dict '%.*s'", (int)d, out + 10);
    int spaces = 1;
    for (size_t i = 10 + d; i < head - 1; i++) spaces &= out[i] == ' ';
    CHECK(spaces && out[head - 1] == '\n', "padding");
    // rank 1 writes "(n,)", rank 0 "()" without growth spaces
    free(out);
    uint64_t s1[1] = {7};
    tsr_record_alloc(&r, "x", TSR_C16, 1, s1, &e);
    f = open_memstream(&out, &len);
    npy_write(f, &r, &e);
    fclose(f);
    CHECK(strstr(out + 10, "{'descr': '<c16', 'fortran_order': False, 'shape': (7,), }                    ") != NULL,
          "rank 1 dict");
    free(out);
    tsr_record_alloc(&r, "x", TSR_U1, 0, NULL, &e);
    f = open_memstream(&out, &len);
    npy_write(f, &r, &e);
    fclose(f);
    CHECK(strstr(out + 10, "'shape': (), }    ") != NULL && len == 128 + 1, "rank 0: %zu bytes", len);
    free(out);
    // the stacking header keeps its length for any leading count
    char *o1, *o2;
    size_t l1, l2;
    uint64_t a[2] = {0, 5}, b[2] = {123456789012ull, 5};
    f = open_memstream(&o1, &l1);
    npy_write_header(f, TSR_F8, 2, a, &e);
    fclose(f);
    f = open_memstream(&o2, &l2);
    npy_write_header(f, TSR_F8, 2, b, &e);
    fclose(f);
    CHECK(l1 == l2 && l1 % 64 == 0, "header lengths %zu %zu", l1, l2);
    free(o1);
    free(o2);
    tsr_record_free(&r);
}

int main(void)
{
    RUN(test_header_forms);
    RUN(test_refusals);
    RUN(test_conversions);
    RUN(test_several_arrays_and_eof);
    RUN(test_write_matches_numpy_layout);
    return check_done();
}
