#!/usr/bin/env bats
# examples/python-netcdf.sh (the README's "From Python and NetCDF") runs to its end.

load helper

@test "examples/python-netcdf.sh: the README's Python and NetCDF commands work" {
    need_numpy
    "$PY" -c 'import zstandard, torch' 2>/dev/null || skip "skipped: python3-zstandard or python3-torch is not installed"
    command -v ncdump >/dev/null || skip "skipped: netcdf-bin is not installed"
    # Debian's python3 (with numpy, zstandard, torch) ahead of any other on PATH
    run env PATH="$(dirname "$PY"):$PATH" bash "$EDDY_ROOT/examples/python-netcdf.sh" "$BATS_TEST_TMPDIR/ex"
    assert_success
    assert_output --partial "record = UNLIMITED ; // (2 currently)"
    assert_output --partial "omega (4, 32, 32) t,y,x 1/time"
    assert_output --partial "predictor output (16, 2, 128)"
    [ -s "$BATS_TEST_TMPDIR/ex/kf-mean.png" ]
}
