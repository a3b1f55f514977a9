#!/usr/bin/env bats
# npy2tsr, tsr2npy, tsr-info, tsr-cat: round trips against files numpy wrote,
# every option, and every bad input.

load helper

setup() {
    need_numpy
    cd "$BATS_TEST_TMPDIR"
}

# ---------------------------------------------------------------- round trips

@test "npy2tsr | tsr2npy is byte-identical to numpy.save for every dtype and rank 0-8" {
    py 'rng = np.random.default_rng(1)
shapes = [(), (5,), (3, 4), (2, 3, 4), (2, 1, 3, 1, 2), (1, 2, 1, 2, 1, 2, 1, 2), (0,), (3, 0, 2), (2,) * 8]
for t in ["f4", "f8", "c8", "c16", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"]:
    for k, s in enumerate(shapes):
        a = (rng.standard_normal(s) * 100).astype(t)
        if t[0] == "c": a = a + 1j * a[::-1] if a.ndim else a
        np.save(f"{t}_{k}.npy", a.astype(t))'
    n=0
    for f in *.npy; do
        npy2tsr "$f" | tsr2npy | cmp - "$f"
        n=$((n + 1))
    done
    [ "$n" -eq 108 ]
}

@test "npy2tsr with several inputs, tsr2npy -o DIR writes one file per record, identical to the inputs" {
    npy a.npy 'np.linspace(0, 1, 7, dtype="f4")'
    npy b.npy 'np.eye(3)'
    npy2tsr a.npy b.npy > s.tsr
    tsr2npy -o out/ s.tsr
    cmp out/0000_a.npy a.npy
    cmp out/0001_b.npy b.npy
    tsr2npy -o pre_ s.tsr
    cmp pre_0000_a.npy a.npy
    cmp pre_0001_b.npy b.npy
    tsr-cat -r 1 s.tsr | tsr2npy -o one.npy
    cmp one.npy b.npy
    run -1 tsr2npy -o two.npy s.tsr
    assert_output --partial "several records"
    no_files_like . 'two.npy*'
}

@test "a file of several numpy.save arrays gives one record each; tsr2npy to stdout gives them back" {
    py 'f = open("multi.npy", "wb"); np.save(f, np.arange(3)); np.save(f, np.ones((2, 2), "f4")); f.close()'
    npy2tsr multi.npy > s.tsr
    [ "$(count_records s.tsr)" -eq 2 ]
    tsr2npy s.tsr > back.npy
    cmp back.npy multi.npy
}

@test "npy2tsr reads .npy format 2.0 and 3.0, big-endian and Fortran order, as C-order little-endian" {
    py 'from numpy.lib import format as F
a = np.arange(24, dtype="f8").reshape(2, 3, 4) / 7
np.save("ref.npy", a)
for v in [(2, 0), (3, 0)]:
    with open(f"v{v[0]}.npy", "wb") as f: F.write_array(f, a, version=v)
np.save("big.npy", a.astype(">f8"))
np.save("fort.npy", np.asfortranarray(a))
np.save("bigc.npy", (a + 2j * a).astype(">c16")); np.save("refc.npy", a + 2j * a)'
    for f in v2.npy v3.npy big.npy fort.npy; do
        npy2tsr "$f" | tsr2npy | cmp - ref.npy
    done
    npy2tsr bigc.npy | tsr2npy | cmp - refc.npy
}

@test "tsr2npy --stack equals numpy.stack, to a file and through a pipe" {
    mkstream s.tsr 'np.arange(6, dtype="f4").reshape(2, 3)' 'np.ones((2, 3), "f4")' 'np.zeros((2, 3), "f4") - 1'
    py 'a = np.arange(6, dtype="f4").reshape(2, 3)
np.save("ref.npy", np.stack([a, np.ones((2, 3), "f4"), np.zeros((2, 3), "f4") - 1]))'
    tsr2npy --stack -o st.npy s.tsr
    cmp st.npy ref.npy
    tsr2npy --stack s.tsr > st2.npy      # a seekable stdout: header patched in place
    cmp st2.npy ref.npy
    tsr2npy -s < s.tsr | cat > st3.npy   # a pipe: spooled
    cmp st3.npy ref.npy
}

@test "tsr2npy --stack refuses records of different shapes and leaves no file" {
    mkstream s.tsr 'np.zeros((2, 3), "f4")' 'np.zeros((3, 2), "f4")'
    run -1 --separate-stderr tsr2npy --stack -o st.npy s.tsr
    [[ $stderr == *"record 1 'r1'"*"differs"* ]]
    no_files_like . 'st.npy*'
}

@test "npy2tsr --dtype converts like numpy astype; --name and -a set name and attributes" {
    npy i.npy 'np.arange(-5, 7, dtype="i4").reshape(3, 4)'
    npy ref.npy 'np.arange(-5, 7, dtype="i4").reshape(3, 4).astype("f8")'
    npy2tsr --dtype '<f8' --name omega -a L=6.28 -a 'units=1/s' -a 'note=a=b' i.npy > s.tsr
    tsr2npy s.tsr | cmp - ref.npy
    run tsr-info s.tsr
    assert_output $'0\tomega\t<f8\t(3, 4)\tL=6.28 units=1/s note=a=b'
    run -2 npy2tsr -a novalue i.npy
    assert_output --partial "expected KEY=VALUE"
    run -2 npy2tsr --dtype '<f3' i.npy
    assert_output --partial "unknown dtype"
}

@test "every tool appends its command line to history; attributes pass through tsr-cat" {
    npy a.npy 'np.zeros(3)'
    npy2tsr -a t=1.5 a.npy > s.tsr
    tsr-cat --records 0 s.tsr > c.tsr
    run tsr-info --attrs c.tsr
    assert_line --index 1 '    t=1.5'
    assert_line --index 2 '    history=npy2tsr -a t=1.5 a.npy'
    assert_line --index 3 '        tsr-cat --records 0 s.tsr'
}

@test "the same input gives the same bytes; zstd verifies and decodes a stream" {
    npy a.npy 'np.sin(np.linspace(0, 6, 1000)).astype("f4")'
    npy2tsr a.npy > s1.tsr
    npy2tsr a.npy > s2.tsr
    cmp s1.tsr s2.tsr
    zstd -q -t s1.tsr
    # unshuffled, the concatenated payloads are the raw array bytes
    npy2tsr --no-shuffle --level 19 a.npy > raw.tsr
    py 'open("a.raw", "wb").write(np.load("a.npy").tobytes())'
    zstd -q -dc raw.tsr | cmp - a.raw
}

# ---------------------------------------------------------------- tsr-info

@test "tsr-info --stats matches numpy's min, max, mean, std and counts NaN and Inf" {
    py 'rng = np.random.default_rng(3)
a = (rng.standard_normal((50, 40)) * 3 + 10).astype("f4")
a[1, 2] = np.nan; a[3, 4] = np.inf; a[5, 6] = -np.inf; a[7, 8] = np.nan
np.save("a.npy", a)
f = a[np.isfinite(a)].astype("f8")
print(f.min(), f.max(), f.mean(), f.std())' > ref.txt
    npy2tsr a.npy > s.tsr
    run tsr-info --stats s.tsr
    assert_output --partial "nan=2 inf=2"
    py 'import re
line = sys.argv[1]; ref = [float(x) for x in open("ref.txt").read().split()]
got = [float(re.search(k + r"=(\S+)", line).group(1)) for k in ["min", "max", "mean", "std"]]
for g, r in zip(got, ref):
    assert abs(g - r) <= 1e-6 * max(1, abs(r)), (got, ref)' "$output"
}

@test "tsr-info reads headers only: a corrupt payload passes without --stats and fails with it" {
    mkstream s.tsr 'np.random.default_rng(0).standard_normal(4096)'
    read -r hdr pay < <(frame_offsets s.tsr 0)
    flip_byte s.tsr $((pay + 100))
    run -0 tsr-info s.tsr
    assert_output --partial $'0\tr0\t<f8\t(4096,)'
    run -1 tsr-info --stats s.tsr
    assert_output --partial "record 0 'r0': "
}

@test "tsr-info lists several files with headings and indices counted per file" {
    mkstream a.tsr 'np.zeros(2)'
    mkstream b.tsr 'np.zeros(3)' 'np.zeros(4)'
    run tsr-info a.tsr b.tsr
    assert_line --index 0 '==> a.tsr <=='
    assert_line --index 2 '==> b.tsr <=='
    assert_line --index 4 --partial $'1\tr1\t<f8\t(4,)'
}

# ---------------------------------------------------------------- tsr-cat

@test "tsr-cat concatenates streams; byte-concatenated streams read as one" {
    mkstream a.tsr 'np.zeros(2)' 'np.ones(2)'
    mkstream b.tsr 'np.arange(3)'
    tsr-cat a.tsr b.tsr > ab.tsr
    [ "$(count_records ab.tsr)" -eq 3 ]
    cat a.tsr b.tsr | tsr-cat - > ab2.tsr
    [ "$(count_records ab2.tsr)" -eq 3 ]
    # the two differ only in the history's last command line ('-' vs names) ...
    diff <(tsr-info -a ab.tsr | sed 's/tsr-cat .*/tsr-cat ARGS/') \
         <(tsr-info -a ab2.tsr | sed 's/tsr-cat .*/tsr-cat ARGS/')
    # ... and hold the same data
    tsr2npy ab.tsr > x.npy
    tsr2npy ab2.tsr > y.npy
    cmp x.npy y.npy
    run -2 tsr-cat - - < a.tsr
    assert_output --partial "more than once"
}

@test "tsr-cat --records and --name select records" {
    mkstream s.tsr 'np.full(1, 0.)' 'np.full(1, 1.)' 'np.full(1, 2.)' 'np.full(1, 3.)' 'np.full(1, 4.)' 'np.full(1, 5.)'
    tsr-cat --records 1:3,5 s.tsr | tsr2npy --stack > sel.npy
    py 'a = np.load("sel.npy"); assert a.ravel().tolist() == [1, 2, 5], a'
    tsr-cat -r 0::2 s.tsr | tsr2npy --stack > sel.npy
    py 'a = np.load("sel.npy"); assert a.ravel().tolist() == [0, 2, 4], a'
    tsr-cat -r 4: --name r5 --name r4 s.tsr | tsr2npy --stack > sel.npy
    py 'a = np.load("sel.npy"); assert a.ravel().tolist() == [4, 5], a'
    tsr-cat --name nothing s.tsr > none.tsr
    [ "$(count_records none.tsr)" -eq 0 ]
    for bad in abc 1:x -1 2:3:0 1:2:3:4; do
        run -2 tsr-cat --records "$bad" s.tsr
        assert_output --partial "--records"
    done
}

@test "tsr-cat --slice equals numpy slicing, several axes, negative and reversed" {
    npy a.npy 'np.arange(5 * 6 * 7, dtype="f4").reshape(5, 6, 7)'
    npy2tsr a.npy > s.tsr
    check_slice() {   # SLICES... -- NUMPY-INDEX
        local args=() expr
        while [ "$1" != -- ]; do args+=(--slice "$1"); shift; done
        expr=$2
        npy ref.npy "np.ascontiguousarray(np.load('a.npy')$expr)"
        tsr-cat "${args[@]}" s.tsr | tsr2npy | cmp - ref.npy
    }
    check_slice 0:1:3 -- '[1:3]'
    check_slice 1:::2 -- '[:, ::2]'
    check_slice 1::2 -- '[:, :2]'
    check_slice -1:-3: -- '[..., -3:]'
    check_slice 2:::-1 -- '[:, :, ::-1]'
    check_slice 0:4:0:-2 1:1:-1 -- '[4:0:-2, 1:-1]'
    check_slice 0:10:20 -- '[10:20]'
    run -1 tsr-cat --slice 3:0:1 s.tsr
    assert_output --partial "axis 3 out of range"
    for bad in 0:1 x:0:1 0:0:1:0 0:a:1 0:1:2:3:4; do
        run -2 tsr-cat --slice "$bad" s.tsr
        assert_output --partial "--slice"
    done
}

# ---------------------------------------------------------------- bad inputs

@test "a truncated stream fails in every reader with 'truncated', naming the record" {
    mkstream s.tsr 'np.zeros((8, 8))' 'np.ones((8, 8))'
    size=$(stat -c %s s.tsr)
    head -c $((size - 20)) s.tsr > cut_end.tsr
    read -r hdr pay < <(frame_offsets s.tsr 1)
    head -c $((pay + 5)) s.tsr > cut_pay.tsr
    head -c $((hdr + 3)) s.tsr > cut_hdr.tsr
    for tool in tsr-info tsr2npy tsr-cat; do
        run -1 --separate-stderr "$tool" cut_end.tsr
        [[ $stderr == *"record 2: truncated stream"* ]]
        run -1 --separate-stderr "$tool" < cut_pay.tsr
        [[ $stderr == *"record 1 'r1': truncated payload"* ]]
        run -1 --separate-stderr "$tool" cut_hdr.tsr
        [[ $stderr == *"record 1: truncated header"* ]]
    done
}

@test "tsr-info reading headers only still catches a truncated large payload (seek path)" {
    mkstream big.tsr 'np.random.default_rng(2).standard_normal(100000)' 'np.zeros(2)'
    read -r hdr pay < <(frame_offsets big.tsr 0)
    head -c $((pay + 300000)) big.tsr > cut.tsr
    run -1 tsr-info cut.tsr
    assert_output --partial "record 0 'r0': truncated payload"
    run -1 tsr-info < cut.tsr
    assert_output --partial "stdin: record 0 'r0': truncated payload"
    run -0 tsr-info big.tsr
    assert_line --index 1 --partial $'1\tr1\t<f8\t(2,)'
}

@test "a flipped byte is caught: header CRC, payload checksum, stream signature" {
    mkstream s.tsr 'np.random.default_rng(1).standard_normal((32, 32))' 'np.zeros(3)'
    read -r hdr pay < <(frame_offsets s.tsr 0)
    cp s.tsr h.tsr; flip_byte h.tsr $((hdr + 13))
    run -1 tsr2npy h.tsr
    assert_output --partial "record 0: header CRC mismatch"
    cp s.tsr p.tsr; flip_byte p.tsr $((pay + 3000))
    run -1 tsr2npy p.tsr
    assert_output --partial "record 0 'r0'"
    cp s.tsr g.tsr; flip_byte g.tsr 10
    run -1 tsr-cat g.tsr
    assert_output --partial "bad signature"
}

@test "wrong input kinds: unsupported dtypes, a .npy given to tsr tools, a stream given to npy2tsr" {
    npy b.npy 'np.array([True, False])'
    npy u.npy 'np.array(["ab", "c"])'
    npy o.npy 'np.zeros(2, dtype=[("x", "f4"), ("y", "i4")])'
    npy f.npy 'np.zeros(3, "f2")'
    for f in b u f; do
        run -1 npy2tsr $f.npy
        assert_output --partial "unsupported dtype"
    done
    run -1 npy2tsr o.npy
    assert_output --partial "structured dtypes are not supported"
    run -1 tsr-info f.npy
    assert_output --partial "this is a .npy file"
    mkstream s.tsr 'np.zeros(2)'
    run -1 npy2tsr s.tsr
    assert_output --partial "this is a tensor stream"
    printf 'garbage' > g.npy
    run -1 npy2tsr g.npy
    assert_output --partial "not a .npy file"
    : > empty
    run -1 tsr-info empty
    assert_output --partial "empty input"
    run -1 npy2tsr empty
    assert_output --partial "empty input"
    npy a.npy 'np.zeros(10, "f4")'
    head -c $(($(stat -c %s a.npy) - 1)) a.npy > short.npy
    run -1 npy2tsr short.npy
    assert_output --partial "truncated data"
}

@test "a .npy header that claims a huge shape fails as truncated without allocating it" {
    py 'h = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (100000000000,), }"
h = h + " " * (117 - len(h)) + "\n"
open("huge.npy", "wb").write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode() + b"\0" * 64)'
    # 800 GB claimed: allocating it first would fail with "cannot allocate"
    run -1 npy2tsr huge.npy
    assert_output --partial "truncated data"
    py 'h = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (99999999999999999999999,), }\n"
open("over.npy", "wb").write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode())'
    run -1 npy2tsr over.npy
    assert_output --partial "bad dimension"
}

@test "missing files and bad options exit 2; failed writes leave no output file" {
    run -2 tsr-info nonexistent.tsr
    assert_output --partial "nonexistent.tsr"
    run -2 npy2tsr nonexistent.npy
    npy a.npy 'np.zeros(2)'
    printf 'junk' > bad.npy
    run -1 npy2tsr -o out.tsr a.npy bad.npy
    no_files_like . 'out.tsr*'
    mkstream s.tsr 'np.zeros(2)' 'np.zeros(())'
    run -1 tsr-cat --slice 0:0:1 -o out.tsr s.tsr
    no_files_like . 'out.tsr*'
    run -2 tsr2npy s.tsr s.tsr
    run -2 npy2tsr --level x a.npy
}

@test "binary output to a terminal is refused" {
    command -v script > /dev/null || skip "script(1) is not installed"
    npy a.npy 'np.zeros(2)'
    mkstream s.tsr 'np.zeros(2)'
    for cmd in "npy2tsr a.npy" "tsr-cat s.tsr" "tsr2npy s.tsr"; do
        run script -qec "PATH='$PATH' $cmd" /dev/null
        [ "$status" -eq 2 ]
        assert_output --partial "refusing to write"
    done
    # text output to a terminal is fine
    run script -qec "PATH='$PATH' tsr-info s.tsr" /dev/null
    [ "$status" -eq 0 ]
}
