#!/usr/bin/env bats
# TERM, INT and HUP during a run: the temporary "<out>.tmp.*" of -o is
# removed, and the tool dies by the signal itself (status 128+n), so a caller
# sees the kill and no half-written file is ever left behind.

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

# killrun SIG OUT CMD...: starts CMD (with default signal dispositions: a
# non-interactive shell makes background jobs ignore INT), waits until its
# temporary file exists, sends SIG, and checks the status and the directory.
killrun() {
    local sig=$1 out=$2
    shift 2
    env --default-signal=INT,TERM,HUP "$@" &
    local pid=$! i
    for i in $(seq 1 600); do
        compgen -G "$out.tmp.*" > /dev/null && break
        kill -0 $pid 2> /dev/null || break
        sleep 0.05
    done
    compgen -G "$out.tmp.*" > /dev/null || { kill -KILL $pid; fail "no temporary file appeared"; }
    sleep 0.2
    kill -s "$sig" $pid
    local rc=0
    wait $pid || rc=$?
    local n
    n=$(kill -l "$sig")
    [ "$rc" -eq $((128 + n)) ] || fail "$* killed by $sig: status $rc, expected $((128 + n))"
    ! compgen -G "$out.tmp.*" > /dev/null || fail "$sig left $(ls "$out".tmp.*)"
    [ ! -e "$out" ] || fail "$sig left a complete-looking $out"
}

SLOW_NS=(ns-gen --n 64 --frames 100000 --spinup 0 --interval 0.01 --out-grid 8 -q)

@test "ns-gen killed by TERM, INT or HUP removes its temporary file and dies by the signal" {
    for s in TERM INT HUP; do
        killrun $s o.tsr "${SLOW_NS[@]}" -o o.tsr
    done
}

@test "rg-coarsen killed mid-run removes its temporary file" {
    for s in TERM INT HUP; do
        # Fed record by record through a FIFO, so it is mid-stream when killed.
        rm -f feed && mkfifo feed
        ns-gen --n 16 --frames 2 --spinup 0 --interval 0.01 --out-grid 16 --count 100000 -q -o feed 2> /dev/null &
        local gen=$!
        killrun $s c.tsr rg-coarsen --alpha 0.3 --beta 2 --lambda 0.5 -o c.tsr feed
        kill $gen 2> /dev/null || true
        wait $gen || true
    done
}

@test "pd-sample killed mid-run removes its temporary file" {
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 2 -q -o l96.tsr
    pd-train --arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 --steps 1 -q -o m.model l96.tsr
    for s in TERM INT HUP; do
        killrun $s s.tsr pd-sample -m m.model --max-clamped 1 --blowup 0 -q --steps 2000000 generate -n 1 -o s.tsr
    done
}

@test "an ignored signal stays ignored (nohup): the run completes" {
    mkdir ref
    (cd ref && ns-gen --n 16 --frames 200 --spinup 0 --interval 0.01 --out-grid 8 -q -o o.tsr)
    (trap '' HUP; exec ns-gen --n 16 --frames 200 --spinup 0 --interval 0.01 --out-grid 8 -q -o o.tsr) &
    local pid=$!
    sleep 0.1
    kill -HUP $pid 2> /dev/null || true
    wait $pid
    cmp ref/o.tsr o.tsr
}

@test "tsr-png killed while gnuplot draws removes its temporary PNG and dies by the signal" {
    # A gnuplot that takes its script and then hangs keeps the temporary PNG
    # in place long enough to be killed over.
    mkdir fake
    printf '#!/bin/sh\ncat > /dev/null\nexec sleep 31.25\n' > fake/gnuplot
    chmod +x fake/gnuplot
    ns-gen --n 16 --frames 1 --spinup 0 --out-grid 8 -q -o f.tsr
    PATH="$PWD/fake:$PATH" env --default-signal=INT,TERM,HUP tsr-png -o p.png f.tsr &
    local pid=$! i
    for i in $(seq 1 200); do
        compgen -G "p.png.tmp*" > /dev/null && break
        sleep 0.05
    done
    compgen -G "p.png.tmp*" > /dev/null || { kill -KILL $pid; fail "no temporary PNG appeared"; }
    kill -TERM $pid
    local rc=0
    wait $pid || rc=$?
    pkill -f "sleep 31.25" || true   # the hung fake gnuplot
    [ "$rc" -eq 143 ] || fail "tsr-png killed by TERM: status $rc, expected 143"
    ! compgen -G "p.png.tmp*" > /dev/null || fail "TERM left $(ls p.png.tmp*)"
    [ ! -e p.png ] || fail "TERM left a PNG"
}
