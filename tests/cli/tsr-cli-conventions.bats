#!/usr/bin/env bats
# The conventions every tool in bin/ keeps (DESIGN.md, "Tools"): --help and
# --version exit 0; every option --help documents is one the parser accepts;
# an unknown option is a usage error (exit 2).  Runs over all tools found, so a
# new tool is checked without a new test.

load helper

tools() {
    local d
    d=$(bin_dir)
    for t in "$d"/*; do
        [ -x "$t" ] && [ -f "$t" ] && echo "$t"
    done
}

@test "every tool answers --help (with Usage and Options) and --version, exit 0" {
    local n=0
    while read -r t; do
        run -0 timeout 10 "$t" --help < /dev/null
        [[ $output == Usage:* ]] || fail "$t --help: no Usage line"
        [[ $output == *$'\nOptions:\n'* ]] || fail "$t --help: no Options section"
        run -0 timeout 10 "$t" --version < /dev/null
        [[ $output == "$(basename "$t") "* ]] || fail "$t --version: '$output'"
        n=$((n + 1))
    done < <(tools)
    [ "$n" -ge 4 ]
}

@test "every option --help lists is accepted by the parser (long and short forms)" {
    local checked=0
    while read -r t; do
        run -0 timeout 10 "$t" --help < /dev/null
        # "  -o, --output FILE   ..." or "      --stats   ...": option names start the line
        local longs shorts
        longs=$(grep -oE '^ +(-[A-Za-z0-9], )?--[A-Za-z0-9][A-Za-z0-9-]*' <<< "$output" | grep -oE -- '--[A-Za-z0-9-]+$')
        shorts=$(grep -oE '^ +-[A-Za-z0-9],' <<< "$output" | grep -oE -- '-[A-Za-z0-9]')
        [ -n "$longs" ] || fail "$t: no options found in --help"
        for o in $longs $shorts; do
            [ "$o" = --help ] || [ "$o" = --version ] && continue
            # "--opt=1 --help": a value option takes 1 and --help then exits 0;
            # a flag refuses the value.  Either way nothing runs, and the
            # parser must know the option.
            if [[ $o == --* ]]; then
                run timeout 10 "$t" "$o=1" --help < /dev/null
            else
                run timeout 10 "$t" "${o}1" --help < /dev/null
            fi
            [[ $output != *"unknown option"* ]] || fail "$(basename "$t"): $o is documented but unknown to the parser"
            [ "$status" -eq 0 ] || [ "$status" -eq 2 ] || fail "$(basename "$t") $o: status $status"
            checked=$((checked + 1))
        done
    done < <(tools)
    [ "$checked" -ge 10 ]
}

@test "an unknown option, a missing value and a bad number exit 2 with a message" {
    while read -r t; do
        local name
        name=$(basename "$t")
        run -2 --separate-stderr timeout 10 "$t" --no-such-option < /dev/null
        [[ $stderr == *"$name: error: unknown option '--no-such-option'"* ]] || fail "$name: '$stderr'"
        [ -z "$output" ] || fail "$name wrote to stdout on a usage error"
    done < <(tools)
    run -2 npy2tsr --level
    assert_output --partial "needs a value"
    run -2 tsr-cat --level 1.5
    assert_output --partial "not a valid integer"
    run -2 tsr-info --stats=yes
    assert_output --partial "takes no value"
}

@test "help shows defaults of value options" {
    run tsr-cat --help
    assert_output --regexp '--level N +zstd compression level \(default: 1\)'
    assert_output --regexp '--output FILE .*\(default: -\)'
}
