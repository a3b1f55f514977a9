#!/usr/bin/env bats
# Reliability of training (issue 15): a run that diverges stops with an error
# naming the step, exit status 1, and leaves the last good checkpoint on disk
# (never one holding NaN or Inf), from which --resume works; and the loss log
# of a run killed and resumed holds each step once, equal (the seconds column
# aside) to the log of a run that was never stopped.

load helper

FNO=(--width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 -q)
PDD=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 3 -q -o "$d/l96.tsr"
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

# all_finite MODEL: every record of MODEL (parameters and Adam moments) is free of NaN and Inf.
all_finite() {
    local bad
    bad=$(tsr-info --stats "$1" | grep -v 'nan=0 inf=0$' || true)
    [ -z "$bad" ] || { echo "not finite in $1:"; echo "$bad" | cut -c1-200; return 1; }
}

# adam_step MODEL: the optimizer step a checkpoint was saved at.
adam_step() { tsr-info "$1" | tr '\t ' '\n\n' | sed -n 's/^adam\.t=//p'; }

# diverged_step: the step the last run's message names.
diverged_step() { sed -n 's/.*step \([0-9]*\): training diverged.*/\1/p' <<< "$output"; }

@test "fno-train --lr 10: stops with an error naming the step, exit 1, nothing written" {
    run fno-train "${FNO[@]}" --steps 30 --lr 10 --log loss.tsv -o m.model "$D/cond.tsr"
    assert_failure 1
    assert_output --regexp 'fno-train: error: step [0-9]+: training diverged \((Adam moment|parameter) [0-9]+ is not finite\); this run wrote no checkpoint'
    [ ! -e m.model ]
}

@test "fno-train --lr 10 --checkpoint-every 1: the checkpoint kept is the last good one, and --resume works" {
    run fno-train "${FNO[@]}" --steps 30 --lr 10 --checkpoint-every 1 --log loss.tsv -o m.model "$D/cond.tsr"
    assert_failure 1
    s=$(diverged_step)
    [ -n "$s" ] && [ "$s" -ge 2 ]
    assert_output --partial "m.model keeps the checkpoint of step $((s - 1))"
    all_finite m.model
    [ "$(adam_step m.model)" -eq $((s - 1)) ]
    cp m.model kept.model
    # The same run resumed diverges at the same step and leaves the checkpoint alone ...
    run fno-train "${FNO[@]}" --steps 30 --checkpoint-every 1 --log loss.tsv --resume m.model -o m.model "$D/cond.tsr"
    assert_failure 1
    [ "$(diverged_step)" -eq "$s" ]
    cmp m.model kept.model
    # ... and with the gradient clipped it trains on to the end from it.
    run fno-train "${FNO[@]}" --steps 30 --clip 1 --resume kept.model -o fixed.model "$D/cond.tsr"
    assert_success
    all_finite fixed.model
    [ "$(adam_step fixed.model)" -eq 30 ]
}

@test "pd-train with a huge rate: error naming the step, exit 1, the last good checkpoint kept, --resume works" {
    for lr in 100 1e6; do
        rm -f p.model
        run pd-train "${PDD[@]}" --steps 20 --lr $lr --checkpoint-every 1 -o p.model "$D/l96.tsr"
        assert_failure 1
        assert_output --regexp "pd-train: error: step [0-9]+: .*not finite.*; p.model keeps the checkpoint of step [0-9]+"
        s=$(sed -n 's/.*keeps the checkpoint of step \([0-9]*\).*/\1/p' <<< "$output")
        all_finite p.model
        [ "$(adam_step p.model)" -eq "$s" ]
        [ $lr = 100 ] || continue   # at 1e6 the first step already took the weights far
        run pd-train "${PDD[@]}" --steps 20 --clip 1 --resume p.model -o q.model "$D/l96.tsr"
        assert_success
        all_finite q.model
        [ "$(adam_step q.model)" -eq 20 ]
    done
    run pd-train "${PDD[@]}" --steps 20 --lr 100 -o none.model "$D/l96.tsr"
    assert_failure 1
    assert_output --regexp 'step [0-9]+: training diverged .*this run wrote no checkpoint'
    [ ! -e none.model ]
}

# same_log A B: the logs agree on every column but the seconds, and each
# step 1..N appears once, in order.
same_log() {
    diff <(cut -f1-4 "$1") <(cut -f1-4 "$2")
    awk -F'\t' 'NR > 1 && $1 != NR - 1 { print "row " NR ": step " $1; bad = 1 } END { exit bad }' "$1"
}

@test "the loss log after SIGKILL and --resume holds each step once, as an uninterrupted run's" {
    export OMP_NUM_THREADS=1
    N=4000
    pd-train "${PDD[@]}" --steps $N --checkpoint-every 250 --log full.tsv -o full.model "$D/l96.tsr"
    # Kill a run when the log holds rows past a checkpoint (the loop flushes
    # the log at each checkpoint, stdio every 4 KiB in between, mid-row).  On a
    # busy machine the run can reach the next checkpoint between the look and
    # the kill, which leaves nothing to cut: then kill a fresh run again.
    for attempt in 1 2 3 4 5; do
        rm -f cut.tsv cut.model
        pd-train "${PDD[@]}" --steps $N --checkpoint-every 250 --log cut.tsv -o cut.model "$D/l96.tsr" &
        pid=$!
        for _ in $(seq 3000); do
            r=$(cat cut.tsv 2> /dev/null | wc -l)
            [ -s cut.model ] && [ "$r" -gt 600 ] && [ $(((r - 1) % 250)) -ne 0 ] && break
            sleep 0.005
        done
        kill -KILL $pid
        wait $pid || true
        k=$(adam_step cut.model)
        rows=$(($(wc -l < cut.tsv) - 1))
        echo "attempt $attempt: killed at log row $rows, checkpoint step $k; last row: '$(tail -c 30 cut.tsv | tail -n 1)'"
        [ "$k" -lt $N ] && [ "$rows" -gt "$k" ] && break
    done
    [ "$k" -lt $N ] && [ "$rows" -gt "$k" ]    # the kill left rows past the checkpoint
    pd-train "${PDD[@]}" --steps $N --checkpoint-every 250 --log cut.tsv --resume cut.model -o cut.model "$D/l96.tsr"
    same_log cut.tsv full.tsv
    # the model too (its history differs: --resume)
    tsr2npy -o a/ cut.model && tsr2npy -o b/ full.model && diff -r a b
}

@test "a torn last row and rows past the checkpoint are cut from the log on --resume (fno-train)" {
    fno-train "${FNO[@]}" --steps 12 --checkpoint-every 4 --log full.tsv -o full.model "$D/cond.tsr"
    fno-train "${FNO[@]}" --steps 8 --checkpoint-every 4 --log cut.tsv -o cut.model "$D/cond.tsr"
    # What a kill at step 10 leaves: rows 9 and a torn row 10 that no checkpoint covers.
    sed -n 10p full.tsv >> cut.tsv
    sed -n 11p full.tsv | head -c 5 >> cut.tsv
    fno-train "${FNO[@]}" --steps 12 --checkpoint-every 4 --log cut.tsv --resume cut.model -o cut.model "$D/cond.tsr"
    same_log cut.tsv full.tsv
    [ "$(wc -l < cut.tsv)" -eq 13 ]
}
