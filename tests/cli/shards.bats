#!/usr/bin/env bats
# Sharded sampling: pd-sample (generate, simulate, super-resolve) and
# ve-sample draw items K..K+N-1 of a big run alone (--first), and the shards
# concatenated are the one run's bytes (data, and headers but for the history,
# which holds each command line); --first past the end is exit 2 with nothing
# written; generate streams its paths, so memory does not grow with -n.

load helper

TINY=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q)
LAX=(--max-clamped 1 --blowup 0 -q)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 6 -q -o "$d/l96.tsr"
    (cd "$d" && pd-train "${TINY[@]}" --steps 2 -o pdd.model l96.tsr)
    (cd "$d" && pd-train "${TINY[@]}" --objective ddpm-cond --steps 1 -o cond.model l96.tsr)
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 2 --count 3 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
    (cd "$d" && fno-train --width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 \
        --steps 1 -q -o G.model cond.tsr)
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

payload() { zstd -dcq "$1"; }
headers() { tsr-info --stats "$1" | cut -f2-; }

# same_as_shards ALL SHARD...: the shards concatenated are ALL.
same_as_shards() {
    local all=$1
    shift
    cmp <(payload "$all") <(for s in "$@"; do payload "$s"; done)
    tsr-cat "$@" > cat.tsr
    assert_equal "$(headers "$all")" "$(headers cat.tsr)"
    [ "$(tsr-info "$all" | wc -l)" -gt 1 ]
}

@test "pd-sample generate: --first K -n N shards concatenate to one run; the keys move with K" {
    args=(-m "$D/pdd.model" generate --schedule rho --steps 3 --correctors 1 -b 2 "${LAX[@]}")
    pd-sample "${args[@]}" -n 6 > all.tsr
    pd-sample "${args[@]}" --first 0 -n 2 > s0.tsr
    pd-sample "${args[@]}" --first 2 -n 2 > s1.tsr
    pd-sample "${args[@]}" --first 4 -n 2 > s2.tsr
    same_as_shards all.tsr s0.tsr s1.tsr s2.tsr
    ! cmp -s <(payload s0.tsr) <(payload s1.tsr) || false
    # an odd last shard, and one shard of several batches
    pd-sample "${args[@]}" --first 0 -n 4 > t0.tsr
    pd-sample "${args[@]}" --first 4 -n 1 > t1.tsr
    pd-sample "${args[@]}" -n 5 > five.tsr
    same_as_shards five.tsr t0.tsr t1.tsr
    tsr-info -a s2.tsr | grep -q '^[[:space:]]*sample=5$'
}

@test "pd-sample simulate (noisy, long rollouts, the ddpm-cond baseline) and super-resolve: input shards concatenate to one run" {
    for mode in "simulate --noise sigma" "simulate --noise sigma --frames 16 --keep-from 8" \
                "super-resolve --lambda 0.2"; do
        args=(-m "$D/pdd.model" $mode --schedule rho --steps 3 --correctors 1 -b 2 "${LAX[@]}")
        pd-sample "${args[@]}" "$D/l96.tsr" > all.tsr
        pd-sample "${args[@]}" --first 0 -n 2 "$D/l96.tsr" > s0.tsr
        pd-sample "${args[@]}" --first 2 -n 2 "$D/l96.tsr" > s1.tsr
        pd-sample "${args[@]}" --first 4 "$D/l96.tsr" > s2.tsr
        same_as_shards all.tsr s0.tsr s1.tsr s2.tsr
    done
    args=(-m "$D/cond.model" simulate --steps 3 -b 2 "${LAX[@]}")
    pd-sample "${args[@]}" "$D/l96.tsr" > all.tsr
    pd-sample "${args[@]}" -n 4 "$D/l96.tsr" > s0.tsr
    pd-sample "${args[@]}" --first 4 "$D/l96.tsr" > s1.tsr
    same_as_shards all.tsr s0.tsr s1.tsr
}

@test "ve-sample: --first R --count N record shards concatenate to one run (samples, --truth, --obs)" {
    args=(-m "$D/G.model" --steps 3 -K 2 -b 3 -q)
    ve-sample "${args[@]}" --truth tall.tsr --obs oall.tsr "$D/cond.tsr" > all.tsr
    ve-sample "${args[@]}" --first 0 --count 1 --truth t0.tsr --obs o0.tsr "$D/cond.tsr" > s0.tsr
    ve-sample "${args[@]}" --first 1 --truth t1.tsr --obs o1.tsr "$D/cond.tsr" > s1.tsr
    same_as_shards all.tsr s0.tsr s1.tsr
    same_as_shards tall.tsr t0.tsr t1.tsr
    same_as_shards oall.tsr o0.tsr o1.tsr
    ve-sample "${args[@]}" --first 1 --count 1 "$D/cond.tsr" > m1.tsr
    ve-sample "${args[@]}" --first 2 --count 5 "$D/cond.tsr" > m2.tsr
    same_as_shards all.tsr s0.tsr m1.tsr m2.tsr
    ! cmp -s <(payload s0.tsr) <(payload m1.tsr) || false
}

@test "--first past the end: a clear error, exit 2, nothing written" {
    run pd-sample -m "$D/pdd.model" simulate --first 6 -b 2 -o x.tsr "$D/l96.tsr"
    [ "$status" -eq 2 ] && assert_output --partial '--first 6: the input has 6 paths'
    run pd-sample -m "$D/pdd.model" super-resolve --lambda 0.2 --first 8 -b 2 -o x.tsr "$D/l96.tsr"
    [ "$status" -eq 2 ] && assert_output --partial '--first 8: the input has 6 paths'
    run ve-sample -m "$D/G.model" --first 3 -o x.tsr "$D/cond.tsr"
    [ "$status" -eq 2 ] && assert_output --partial '--first 3: the input has 3 closure records'
    run ve-sample -m "$D/G.model" --first 3 --truth t.tsr --obs o.tsr "$D/cond.tsr"
    [ "$status" -eq 2 ]
    run pd-sample -m "$D/pdd.model" generate -n 4 --first 3 -b 2 -o x.tsr
    [ "$status" -eq 2 ] && assert_output --partial 'not a multiple of --batch 2'
    run pd-sample -m "$D/pdd.model" generate -n 4 --first -2 -o x.tsr
    [ "$status" -eq 2 ]
    run ve-sample -m "$D/G.model" --count -1 -o x.tsr "$D/cond.tsr"
    [ "$status" -eq 2 ]
    [ ! -e x.tsr ] && [ ! -e t.tsr ] && [ ! -e o.tsr ]
    [ -z "$(ls)" ]
}

# peak_kb CMD...: the peak resident set of CMD in kB (GNU time).
peak_kb() { /usr/bin/time -f %M -o rss.txt "$@" > /dev/null && cat rss.txt; }

@test "pd-sample generate streams: peak memory does not grow with -n" {
    [ -x /usr/bin/time ] || skip "GNU time is not installed"
    # 250 frames of 2 x 32 doubles are 128 kB a path: 500 paths held at
    # once would be 64 MB, one batch of 8 is 1 MB
    args=(-m "$D/pdd.model" generate --frames 250 --schedule rho --steps 2 --correctors 0 -b 8 "${LAX[@]}" -j 1)
    small=$(peak_kb pd-sample "${args[@]}" -n 8)
    large=$(peak_kb pd-sample "${args[@]}" -n 500)
    echo "peak RSS: -n 8 $small kB, -n 500 $large kB" >&3
    [ "$large" -lt $((small + 30000)) ]
}
