#!/usr/bin/env bats
# The Makefile's dependency files: an object of a unit test or a benchmark
# must be rebuilt when a header it includes changes (the compiler's .d files
# are included from where it writes them).  Objects are built in a scratch
# BUILD folder; `make -W HEADER` pretends the header changed without touching it.

load helper

setup() { B=$BATS_TEST_TMPDIR/build; cd "$EDDY_ROOT"; }

# rebuilt_after OBJECT HEADER: OBJECT is up to date, and out of date once HEADER changes.
rebuilt_after() {
    make -s BUILD="$B" "$B/$1" >/dev/null
    [ -s "$B/${1%.o}.d" ]
    make -q BUILD="$B" "$B/$1"
    run make -n -W "$2" BUILD="$B" "$B/$1"
    assert_output --partial "-o $B/$1"
}

@test "a unit test's object is rebuilt when lib/fno.h changes" {
    rebuilt_after tests/unit/test_fno_net.o lib/fno.h
}

@test "a benchmark's object is rebuilt when lib/fno.h changes" {
    rebuilt_after bench/bench_fno.o lib/fno.h
}

@test "a tool's object is rebuilt when lib/tsr.h changes" {
    rebuilt_after tools/tsr-info.o lib/tsr.h
}

@test "CC defaults to gcc and can be overridden" {
    run make -n BUILD="$B" "$B/lib/err.o"
    assert_output --regexp '(^|[[:space:]])gcc '
    run make -n CC=clang BUILD="$B" "$B/lib/err.o"
    assert_output --regexp '(^|[[:space:]])clang '
}
