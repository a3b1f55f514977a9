#!/usr/bin/env bats
# tsr-png and tsv-plot: the gnuplot figures (labels, colour bars, legends, log axes), errors.

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

png_ok() { py 'd = open(sys.argv[1], "rb").read(); assert d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR", sys.argv[1]' "$1"; }

@test "tsr-png: a signed field gets the symmetric diverging map, a labelled colour bar and axes in units of L" {
    npy f.npy 'np.array([[-2, -1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]], "f4")'
    npy2tsr --name omega -a dims=y,x -a units=1/s -a L=1 f.npy > f.tsr
    run tsr-png --scale 1 --script f.gp -o f.png f.tsr
    assert_success
    assert_output --partial "diverging map, range [-2, 2]"
    png_ok f.png
    [ "$(size f.png)" = "360 300" ]
    grep -q "set cbrange \[-2:2\]" f.gp
    grep -q "set cblabel \"omega \[1/s\]\"" f.gp
    grep -q "set xlabel 'x'" f.gp
    grep -q "set ylabel \"y\"" f.gp
    grep -q "set colorbox user" f.gp
    grep -q "#053061" f.gp                      # RdBu: darkest blue at the bottom
    grep -q "set xrange \[-0.125:0.875\]" f.gp  # four points on [0, 1): centred cells
    grep -q "set multiplot title \"omega (record 0)\"" f.gp
    # row 0 of the data block is y = 0 (drawn at the bottom)
    [ "$(sed -n '/^\$f0 << EOD/{n;p}' f.gp)" = "-2 -1 0 1" ]
    # the saved script redraws the same picture
    sed -i 's/^set output .*/set output "again.png"/' f.gp
    gnuplot f.gp
    cmp f.png again.png
}

@test "tsr-png: a positive field gets viridis over its own range; --label and --title win" {
    npy f.npy 'np.array([[1.0, 3.0]])'
    npy2tsr -a dims=y,x f.npy > f.tsr
    run tsr-png --label "energy [J]" --title "Two cells" --script f.gp -o f.png f.tsr
    assert_output --partial "sequential map, range [1, 3]"
    grep -q "#440154" f.gp
    grep -q 'set cblabel "energy \[J\]"' f.gp
    grep -q 'title "Two cells"' f.gp
    png_ok f.png
}

@test "tsr-png: montage panels titled by time, one colour bar; the Hovmoller diagram has time downwards" {
    npy m.npy 'np.random.default_rng(0).standard_normal((4, 8, 8)).astype("f4")'
    npy2tsr -a dims=t,y,x -a t0=50 -a interval=0.5 m.npy > m.tsr
    tsr-png -q --frames all --cols 2 --script m.gp -o m.png m.tsr
    png_ok m.png
    [ "$(grep -c '^plot \$f' m.gp)" = 4 ]
    [ "$(grep -c '^set colorbox user' m.gp)" = 1 ]
    grep -q 'set title "t = 51.5"' m.gp
    tsr-png -q --frames 1,3 -o two.png m.tsr
    png_ok two.png
    npy h.npy 'np.fromfunction(lambda t, c, x: (t + 1) * (c + 1) * np.ones_like(x), (10, 2, 64))'
    npy2tsr -a dims=t,c,x -a channels=X,Y -a dt=0.1 h.npy > h.tsr
    run tsr-png --channel 1 --script h.gp -o h.png h.tsr
    assert_output --partial "Hovmoller"
    assert_output --partial "data [2, 20]"
    png_ok h.png
    grep -q 'set ylabel "time t"' h.gp
    grep -q 'set cblabel "Y"' h.gp
    grep -q 'set yrange \[0.95:-0.05\]' h.gp    # t = 0 at the top
    grep -q 'Hovmoller diagram' h.gp
    # a single 1-D field: a line plot with a legend
    run tsr-png --channel 0 --frames 2 --script l.gp -o l.png h.tsr
    assert_output --partial "line plot"
    grep -q 'with lines .* title "h at t = 0.2"' l.gp
    grep -q 'set ylabel "X"' l.gp
    png_ok l.png
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

@test "tsv-plot: titled, labelled axes, log axes marked, a legend naming each series" {
    printf 'x\ty\tc\n1\t1\ta\n10\t100\ta\n1\t2\tb\n10\t0.5\tb\n' > t.tsv
    run tsv-plot -x x -y y --by c --logx --logy --xlabel "wavenumber k" --ylabel "E(k)" --script p.gp -o p.png t.tsv
    assert_success
    assert_output --partial "x x [1, 10] log, y y [0.5, 100] log; series: c=a (2 points) c=b (2 points)"
    [ "$(size p.png)" = "640 400" ]
    png_ok p.png
    grep -q 'set xlabel "wavenumber k (log scale)"' p.gp
    grep -q 'set ylabel "E(k) (log scale)"' p.gp
    grep -q 'set logscale x 10' p.gp
    grep -q 'set title "E(k) against wavenumber k"' p.gp
    grep -q 'title "c=a"' p.gp
    grep -q 'title "c=b"' p.gp
    run tsv-plot -x x -y y --by c --legend "channel" --title "Spectra" --script q.gp -o p.png t.tsv
    grep -q 'set key title "channel"' q.gp
    grep -q 'title "a" noenhanced, ' q.gp
    grep -q 'set title "Spectra"' q.gp
}

@test "tsv-plot: a column that is not numeric, a missing column or no rows: clear error, nothing written" {
    printf 'x\ty\tc\n0\t0\ta\n1\tfoo\ta\n' > bad.tsv
    run tsv-plot -x x -y y -o q.png bad.tsv
    assert_failure 1
    assert_output --partial "row 3, column 'y': 'foo' is not a number"
    run tsv-plot -x c -y x -o q.png bad.tsv
    assert_failure 1
    assert_output --partial "column 'c': 'a' is not a number"
    printf 'x\ty\tc\n0\t0\ta\n1\t1\ta\n0\t1\tb\n1\t0.5\tb\n' > t.tsv
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
