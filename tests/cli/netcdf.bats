#!/usr/bin/env bats
# tsr2nc / nc2tsr: lossless round trips, ncdump's view, files made by ncgen, bad input.

load helper

setup() {
    need_numpy
    command -v ncdump >/dev/null || skip "netcdf-bin is not installed"
    cd "$BATS_TEST_TMPDIR"
    export PYTHONPATH="$EDDY_ROOT/tools/python${PYTHONPATH:+:$PYTHONPATH}"
}

# A stream of many kinds of records: one name repeated with per-record
# attributes (a record dimension), complex, integer, scalar, no dims.
mixed() {
    py 'from eddy import tsr
rng = np.random.default_rng(1)
recs = [tsr.Record("omega", rng.standard_normal((2, 4, 4)).astype("f4"),
                   {"dims": "t,y,x", "units": "1/s", "long_name": "vorticity", "sample": str(i),
                    "history": "ns-gen -n 4\nrg-coarsen --n 4", "note": "back\\slash and\nnewline"}) for i in range(3)]
recs.insert(1, tsr.Record("spec", (rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))).astype("c8"), {"dims": "k,c"}))
recs.append(tsr.Record("count", np.arange(12, dtype="<i4").reshape(3, 4), {"units": "1"}))
recs.append(tsr.Record("scalar", np.array(2.5), {}))
recs.append(tsr.Record("z", (np.arange(3) * (1 + 2j)).astype("c16"), {"dims": "w"}))
recs.append(tsr.Record("u8", np.array([0, 2**64 - 1], "<u8"), {"dims": "w2"}))
tsr.write(sys.argv[1], recs)' "$1"
}

# same A B: the records of A and B agree in name, dtype, shape, bytes and
# attributes, except that B's history is A's plus the lines given.
same() {
    py 'from eddy import tsr
a, b, extra = tsr.read(sys.argv[1]), tsr.read(sys.argv[2]), sys.argv[3:]
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    assert (x.name, x.array.dtype.str, x.array.shape) == (y.name, y.array.dtype.str, y.array.shape), (x, y)
    assert x.array.tobytes() == y.array.tobytes(), x.name
    hx = [l for l in x.attrs.get("history", "").split("\n") if l]
    ax = {k: v for k, v in x.attrs.items() if k != "history"}
    ay = {k: v for k, v in y.attrs.items() if k != "history"}
    assert ax == ay and list(ax) == list(ay), (ax, ay)
    assert y.attrs["history"].split("\n") == hx + extra, (y.attrs["history"], hx + extra)' "$@"
}

@test "tsr2nc | nc2tsr: every array byte-identical, attributes identical, history extended by the two tools" {
    mixed m.tsr
    tsr2nc -o m.nc m.tsr
    nc2tsr -o back.tsr m.nc
    same m.tsr back.tsr "tsr2nc -o m.nc m.tsr" "nc2tsr -o back.tsr m.nc"
    # and again through the converted stream: still the same
    tsr2nc -o m2.nc back.tsr
    nc2tsr m2.nc > back2.tsr
    same back.tsr back2.tsr "tsr2nc -o m2.nc back.tsr" "nc2tsr m2.nc"
}

@test "tsr2nc: ncdump -h shows the named dimensions, the record dimension and the attributes" {
    mixed m.tsr
    tsr2nc -o m.nc m.tsr
    run ncdump -h m.nc
    assert_success
    assert_output --partial "record = UNLIMITED ; // (3 currently)"
    assert_line --regexp "^	t = 2 ;$"
    assert_line --regexp "^	k = 3 ;$"
    assert_output --partial "float omega(record, t, y, x) ;"
    assert_output --partial 'omega:units = "1/s" ;'
    assert_output --partial 'omega:long_name = "vorticity" ;'
    assert_output --partial 'omega:history = "ns-gen -n 4\nrg-coarsen --n 4" ;'
    assert_output --partial "complex64 spec(k, c) ;"
    assert_output --partial "int count(count_dim0, count_dim1) ;"
    assert_output --partial 'count:units = "1" ;'
    assert_output --partial ':history = "tsr2nc -o m.nc m.tsr" ;'
    assert_output --partial ':Conventions = "CF-1.8" ;'
    # the per-record attributes that differ (sample) are kept beside the variable
    assert_output --partial "string omega__tsr_attrs(record) ;"
    # CF long_name for the fields the tools know (their field attribute), dropped again on the way back
    ns-gen --n 32 --frames 2 --out-grid 16 --spinup 0.5 -q > w.tsr
    tsr2nc -o w.nc w.tsr
    run ncdump -h w.nc
    assert_output --partial 'omega:long_name = "vorticity" ;'
    assert_output --partial 'omega:units = "1/time" ;'
    nc2tsr -o w2.tsr w.nc
    same w.tsr w2.tsr "tsr2nc -o w.nc w.tsr" "nc2tsr -o w2.tsr w.nc"
    run ncdump -v count m.nc
    assert_output --partial "count ="
    assert_output --partial "8, 9, 10, 11"
}

@test "nc2tsr: a file written by ncgen from CDL is read with its dims, attributes and values" {
    cat > u.cdl <<'CDL'
netcdf u {
dimensions:
	time = UNLIMITED ;
	y = 2 ;
	x = 3 ;
variables:
	float u(time, y, x) ;
		u:units = "m/s" ;
		u:long_name = "eastward velocity" ;
		u:scale = 2.5f ;
		u:valid_range = 0, 100 ;
	double x(x) ;
		x:units = "m" ;
	short flag(y) ;
// global attributes:
		:title = "a CDL test" ;
		:history = "made by ncgen" ;
data:
 u = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 ;
 x = 0, 0.5, 1 ;
 flag = -1, 7 ;
}
CDL
    ncgen -4 -o u.nc u.cdl
    nc2tsr -o u.tsr u.nc
    run tsr-info u.tsr
    assert_output --partial $'u\t<f4\t(2, 2, 3)'
    assert_output --partial $'x\t<f8\t(3,)'
    assert_output --partial $'flag\t<i2\t(2,)'
    py 'from eddy import tsr
u, x, flag = tsr.read("u.tsr")
assert (u.array == np.arange(1, 13, dtype="f4").reshape(2, 2, 3)).all()
assert list(x.array) == [0, 0.5, 1] and list(flag.array) == [-1, 7]
assert u.attrs["units"] == "m/s" and u.attrs["long_name"] == "eastward velocity", u.attrs
assert u.attrs["scale"] == "2.5" and u.attrs["valid_range"] == "0,100", u.attrs
assert u.attrs["dims"] == "time,y,x" and x.attrs["dims"] == "x", u.attrs
assert u.attrs["title"] == "a CDL test"
assert u.attrs["history"] == "made by ncgen\nnc2tsr -o u.tsr u.nc", u.attrs["history"]'
    # classic format too
    ncgen -3 -o c.nc u.cdl
    nc2tsr c.nc | tsr-info | grep -q $'^0\tu\t<f4\t(2, 2, 3)'
}

@test "bad input: a type with no dtype, a dimension clash, shapes that differ, a corrupt file: the variable named, nothing written" {
    cat > s.cdl <<'CDL'
netcdf s {
dimensions:
	n = 4 ;
variables:
	float ok(n) ;
	char label(n) ;
data:
 ok = 1, 2, 3, 4 ;
 label = "abcd" ;
}
CDL
    ncgen -4 -o s.nc s.cdl
    run nc2tsr -o out.tsr s.nc
    assert_failure 1
    assert_output --partial "variable 'label': type char has no stream dtype"
    printf 'netcdf v {\ntypes:\n  int(*) vl ;\ndimensions:\n  n = 1 ;\nvariables:\n  vl r(n) ;\ndata:\n r = {1, 2} ;\n}\n' > v.cdl
    ncgen -4 -o v.nc v.cdl
    run nc2tsr -o out.tsr v.nc
    assert_failure 1
    assert_output --partial "variable 'r': type vlen 'vl' has no stream dtype"
    # dimension x with two lengths
    mkstream two.tsr 'np.zeros(4, "f4")' 'np.zeros(5, "f4")'
    py 'from eddy import tsr
r = tsr.read("two.tsr")
for i, x in enumerate(r): x.attrs["dims"] = "x"
tsr.write("two.tsr", r)'
    run tsr2nc -o out.nc two.tsr
    assert_failure 1
    assert_output --partial "variable 'r1': dimension 'x' has length 5 but 4 in variable 'r0'"
    # records of one name with different shapes
    py 'from eddy import tsr
tsr.write("ragged.tsr", [tsr.Record("u", np.zeros((2, 3), "f4")), tsr.Record("u", np.zeros((2, 4), "f4"))])'
    run tsr2nc -o out.nc ragged.tsr
    assert_failure 1
    assert_output --partial "variable 'u': record 1 is (2, 4) <f4 but record 0 is (2, 3) <f4"
    # a corrupt file: its bytes garbled past the superblock, and cut short
    mixed m.tsr
    tsr2nc -o m.nc m.tsr
    head -c 900 m.nc > cut.nc
    run nc2tsr -o out.tsr cut.nc
    assert_failure 1
    assert_output --partial "cut.nc"
    py 'b = bytearray(open("m.nc", "rb").read())
for i in range(600, len(b), 7): b[i] ^= 0xA5
open("bad.nc", "wb").write(bytes(b))'
    run nc2tsr -o out.tsr bad.nc
    assert_failure 1
    assert_output --partial "bad.nc"
    printf 'not netcdf at all' > text.nc
    run nc2tsr text.nc
    assert_failure 1
    assert_output --partial "text.nc: not a readable NetCDF file"
    no_files_like . 'out.*'
    run tsr2nc -o - m.tsr
    assert_failure 2
}
