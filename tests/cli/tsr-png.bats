#!/usr/bin/env bats
# tsr-png: image sizes, colours at known values, Hovmoller layout, errors.

load helper

setup() {
    need_numpy
    cd "$BATS_TEST_TMPDIR"
}

# pixel PNG X Y: prints "R G B" of one pixel (a small PNG decoder: zlib plus
# the five row filters, so the test does not trust the encoder's reader).
pixel() {
    py 'import struct, zlib
d = open(sys.argv[1], "rb").read(); assert d[:8] == b"\x89PNG\r\n\x1a\n"
off, idat = 8, b""
while off < len(d):
    n, t = struct.unpack(">I4s", d[off:off + 8]); c = d[off + 8:off + 8 + n]
    if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", c[:10])
    if t == b"IDAT": idat += c
    off += 12 + n
assert depth == 8 and ctype == 2
raw, stride, prev, rows = zlib.decompress(idat), 3 * w, bytearray(3 * w), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - 3] if i >= 3 else 0; b = prev[i]; c = prev[i - 3] if i >= 3 else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
x, y = int(sys.argv[2]), int(sys.argv[3]); print(*rows[y][3 * x:3 * x + 3])' "$@"
}

size() { py 'import struct; d = open(sys.argv[1], "rb").read(); print(*struct.unpack(">II", d[16:24]))' "$1"; }

@test "tsr-png: a signed field gets the symmetric diverging map: zero is white, extremes are blue and red" {
    # 4x4 field, y upwards: row 0 (bottom) holds -2 .. 1
    npy f.npy 'np.array([[-2, -1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]], "f4")'
    npy2tsr -a dims=y,x f.npy > f.tsr
    run tsr-png --scale 1 -o f.png f.tsr
    assert_success
    assert_output --partial "diverging map, range [-2, 2]"
    [ "$(size f.png)" = "4 16" ]
    # rows: y = 3 (top) .. 0 (bottom), then 2 gap rows and a 10-row colour bar
    [ "$(pixel f.png 0 3)" = "5 48 97" ]       # -2: darkest blue
    [ "$(pixel f.png 2 3)" = "247 247 247" ]   # 0: white
    [ "$(pixel f.png 3 0)" = "103 0 31" ]      # +2 (top right): darkest red
}

@test "tsr-png: a positive field gets viridis over its own range" {
    npy f.npy 'np.array([[1.0, 3.0]])'
    npy2tsr -a dims=y,x f.npy > f.tsr
    run tsr-png --scale 1 -o f.png f.tsr
    assert_output --partial "sequential map, range [1, 3]"
    [ "$(pixel f.png 0 0)" = "68 1 84" ]
    [ "$(pixel f.png 1 0)" = "253 231 37" ]
}

@test "tsr-png: montage of frames and the Hovmoller image of a 1-D path" {
    npy m.npy 'np.random.default_rng(0).standard_normal((4, 8, 8)).astype("f4")'
    npy2tsr -a dims=t,y,x m.npy > m.tsr
    tsr-png -q --frames all --scale 4 --cols 2 -o m.png m.tsr
    [ "$(size m.png)" = "66 78" ]          # 2 x (32 + 2) - 2 wide, 2 x (32 + 2) + 10 high
    tsr-png -q --frames 1,3 --scale 2 -o two.png m.tsr
    [ "$(size two.png)" = "34 28" ]
    npy h.npy 'np.fromfunction(lambda t, c, x: (t + 1) * (c + 1) * np.ones_like(x), (10, 2, 64))'
    npy2tsr -a dims=t,c,x h.npy > h.tsr
    run tsr-png --channel 1 --scale 1 -o h.png h.tsr
    assert_output --partial "Hovmoller"
    assert_output --partial "data [2, 20]"
    [ "$(size h.png)" = "64 22" ]
    [ "$(pixel h.png 5 0)" = "68 1 84" ]       # t = 0 at the top: the minimum
    [ "$(pixel h.png 5 9)" = "253 231 37" ]    # t = 9: the maximum
}

@test "tsr-png: same input, same bytes" {
    npy m.npy 'np.random.default_rng(0).standard_normal((2, 16, 16))'
    npy2tsr -a dims=t,y,x m.npy > m.tsr
    tsr-png -q -o a.png m.tsr
    tsr-png -q -o b.png m.tsr
    cmp a.png b.png
}

@test "tsr-png: errors are clear and leave no picture" {
    npy m.npy 'np.zeros((2, 8, 8), "f4")'
    npy2tsr -a dims=t,y,x m.npy > m.tsr
    run tsr-png m.tsr
    assert_failure 2
    assert_output --partial "--output"
    run tsr-png --record 3 -o out.png m.tsr
    assert_failure 1
    assert_output --partial "record 3 does not exist"
    run tsr-png --frames 5 -o out.png m.tsr
    assert_failure 2
    assert_output --partial "frame 5 but the record has 2"
    run tsr-png --cmap rainbow -o out.png m.tsr
    assert_failure 2
    mkstream i.tsr 'np.zeros((4, 4), "i4")'
    run tsr-png -o out.png i.tsr
    assert_failure 1
    assert_output --partial "dtype <i4"
    no_files_like . 'out.png*'
}

@test "tsv-plot: draws the series over the data range, with clear errors" {
    printf 'x\ty\tc\n0\t0\ta\n1\t1\ta\n0\t1\tb\n1\t0.5\tb\n' > t.tsv
    run tsv-plot -x x -y y --by c -o p.png t.tsv
    assert_success
    assert_output --partial "x x [0, 1], y y [0, 1]; series: c=a (2 points) c=b (2 points)"
    [ "$(size p.png)" = "640 400" ]
    # plot area (10, 10)-(629, 389): series a (blue) runs corner to corner,
    # series b (vermilion) starts at the top left
    [ "$(pixel p.png 629 10)" = "0 114 178" ]
    [ "$(pixel p.png 10 389)" = "0 114 178" ]
    [ "$(pixel p.png 10 10)" = "213 94 0" ]
    run tsv-plot -x x -y nope -o q.png t.tsv
    assert_failure 1
    assert_output --partial "no column 'nope'"
    run tsv-plot -x x -y y t.tsv
    assert_failure 2
    run tsv-plot -x x -y y --where c=zzz -o q.png t.tsv
    assert_failure 1
    assert_output --partial "no rows"
    no_files_like . 'q.png*'
}
