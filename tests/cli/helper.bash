# Shared set-up for the bats CLI suite: `load helper` in each file.
#
# The tools come first from the PATH the runner set (tests/run.sh puts its
# --bin directory first); ./bin is appended so a bare `bats tests/cli` works.
bats_require_minimum_version 1.5.0
# Debian installs bats-support and bats-assert under /usr/lib/bats.
export BATS_LIB_PATH="${BATS_LIB_PATH:+$BATS_LIB_PATH:}/usr/lib/bats:/usr/lib"
bats_load_library bats-support
bats_load_library bats-assert

EDDY_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
export PATH="$PATH:$EDDY_ROOT/bin"
# Debian's python3 has numpy; a pyenv shim earlier in PATH may not.
PY=/usr/bin/python3

# The directory holding the tools under test.
bin_dir() { dirname "$(command -v tsr-info)"; }

need_numpy() {
    "$PY" -c 'import numpy' 2>/dev/null || skip "python3-numpy is not installed"
}

# py CODE [ARGS...]: runs Python with numpy as np, sys and os imported.
py() {
    local code=$1
    shift
    "$PY" -c "import numpy as np, sys, os
$code" "$@"
}

# npy FILE EXPR: saves the numpy expression EXPR to FILE with numpy.save.
npy() { py "np.save(sys.argv[1], $2)" "$1"; }

# mkstream OUT EXPR...: a stream made by npy2tsr with one record per numpy
# expression, named r0, r1, ... (each expression is saved by numpy first).
mkstream() {
    local out=$1 i=0 d
    shift
    d=$(mktemp -d "$BATS_TEST_TMPDIR/mk.XXXXXX")
    local files=()
    for expr in "$@"; do
        npy "$d/r$i.npy" "$expr"
        files+=("$d/r$i.npy")
        i=$((i + 1))
    done
    npy2tsr "${files[@]}" > "$out"
}

# count_records FILE: the number of records tsr-info lists.
count_records() { tsr-info "$1" | grep -c $'^[0-9]\+\t'; }

# flip_byte FILE OFFSET: xors one byte of FILE in place.
flip_byte() {
    py 'p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 0x5a; open(p, "wb").write(b)' "$1" "$2"
}

# no_files_like DIR GLOB: asserts that nothing matching GLOB exists in DIR
# (no output, no temporary file left behind by a failed write).
no_files_like() {
    local left
    left=$(find "$1" -maxdepth 1 -name "$2" | head -n 5)
    [ -z "$left" ] || fail "files left behind: $left"
}

# frame_offsets FILE K: prints "HEADER_CONTENT PAYLOAD" byte offsets of record
# K's header content and payload, walking the frames per formats/tsr.md.
frame_offsets() {
    py 'import struct
d, k, off = open(sys.argv[1], "rb").read(), int(sys.argv[2]), 28
for i in range(k + 1):
    magic, size = struct.unpack_from("<II", d, off)
    assert magic == 0x184D2A51, hex(magic)
    zlen, = struct.unpack_from("<Q", d, off + 8 + 24)
    if i == k: print(off + 8, off + 8 + size)
    off += 8 + size + zlen' "$1" "$2"
}
