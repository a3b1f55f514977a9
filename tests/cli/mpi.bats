#!/usr/bin/env bats
# Data-parallel training (lib/cli_dist.h, lib/dist.h): pd-train and fno-train
# under `mpirun -np N` against one process with the same global batch, twice
# over, resumed across a change of N, with unequal shares, and failing ranks.
#
# Tolerance, measured (100 steps, tiny models, -j 1; README "Scaling out"):
# the largest parameter difference between 2 ranks and 1 process was
# 6.1e-8 of the largest parameter for pd-train (L96 and KF) and 6.3e-6 for
# fno-train; the tests allow 1e-6 and 1e-4.  The logged losses (6 digits;
# the all-reduce carries the loss as a float) differ by at most a unit in the
# last digit: the tests allow 1e-5 relative.

load helper

T_PD=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 4 -q -j 1)
T_FNO=(--width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 -q -j 1)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 4 -q -o "$d/l96.tsr"
    ns-gen --preset kolmogorov --n 32 --out-grid 16 --spinup 0.5 --frames 8 --count 4 -q -o "$d/kf.tsr"
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
}

setup() {
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
    command -v mpirun > /dev/null || skip "mpirun is not installed (openmpi-bin)"
    ldd "$(command -v pd-train)" | grep -q libmpi || skip "built without MPI (MPI=0 or no mpicc)"
    need_numpy
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
}

mpi() { timeout 300 mpirun --oversubscribe "$@"; }

# reldiff A B: the largest |a - b| over the parameters of two models (Adam's
# moments left out) divided by the largest |a|.
reldiff() {
    mkdir -p "na.$1" "nb.$2"
    tsr2npy -o "na.$1/" "$1" && tsr2npy -o "nb.$2/" "$2"
    py '
import glob
mx = sc = 0.0
for f in sorted(glob.glob(sys.argv[1] + "/*.npy")):
    n = os.path.basename(f)
    if n.startswith("0000") or "adam" in n: continue
    a = np.load(f).astype(np.complex128); b = np.load(os.path.join(sys.argv[2], n)).astype(np.complex128)
    mx = max(mx, float(np.abs(a - b).max())); sc = max(sc, float(np.abs(a).max()))
print("%.3g" % (mx / sc))' "na.$1" "nb.$2"
}

# payload FILE: the data frames of a stream (headers, with the history that
# holds the command line, are skippable frames).
payload() { zstd -dcq "$1"; }

# within X TOL: X <= TOL (floats)
within() { py 'sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2"; }

# same_losses LOG1 LOG2: the same steps, losses within 1e-5 relative.
same_losses() {
    py '
a = np.loadtxt(sys.argv[1], skiprows=1, usecols=(0, 3)); b = np.loadtxt(sys.argv[2], skiprows=1, usecols=(0, 3))
assert a.shape == b.shape and (a[:, 0] == b[:, 0]).all(), "different steps"
r = np.abs(a[:, 1] - b[:, 1]).max() / np.abs(a[:, 1]).max()
print("loss: max relative difference %.3g" % r, file=sys.stderr)
sys.exit(0 if r <= 1e-5 else 1)' "$1" "$2"
}

@test "pd-train: 2 ranks equal 1 process after 100 steps (L96 and KF), and two 2-rank runs are byte-identical" {
    for data in l96 kf; do
        pd-train "${T_PD[@]}" --steps 100 --log one.$data.tsv -o one.$data.model "$D/$data.tsr"
        mpi -np 2 pd-train "${T_PD[@]}" --steps 100 --log two.$data.tsv -o two.$data.model "$D/$data.tsr"
        same_losses one.$data.tsv two.$data.tsv
        r=$(reldiff one.$data.model two.$data.model)
        echo "$data: 2 ranks vs 1 process: max |dparam| / max |param| = $r" >&3
        within "$r" 1e-6
        # and not the same bytes: the ranks did split the batch (two halves
        # summed round differently from one accumulation; N copies of a
        # serial run would each compute the whole batch and agree exactly)
        ! cmp -s <(payload one.$data.model) <(payload two.$data.model) || false
    done
    mkdir again && (cd again && mpi -np 2 pd-train "${T_PD[@]}" --steps 100 --log two.l96.tsv -o two.l96.model "$D/l96.tsr")
    cmp two.l96.model again/two.l96.model
    diff <(cut -f1-4 two.l96.tsv) <(cut -f1-4 again/two.l96.tsv)
}

@test "fno-train: 2 ranks equal 1 process after 100 steps, and two 2-rank runs are byte-identical" {
    fno-train "${T_FNO[@]}" --steps 100 --log one.tsv -o one.model "$D/cond.tsr"
    mpi -np 2 fno-train "${T_FNO[@]}" --steps 100 --log two.tsv -o two.model "$D/cond.tsr"
    same_losses one.tsv two.tsv
    r=$(reldiff one.model two.model)
    echo "fno-train: 2 ranks vs 1 process: max |dparam| / max |param| = $r" >&3
    within "$r" 1e-4
    ! cmp -s <(payload one.model) <(payload two.model) || false   # the batch was split
    mkdir again && (cd again && mpi -np 2 fno-train "${T_FNO[@]}" --steps 100 --log two.tsv -o two.model "$D/cond.tsr")
    cmp two.model again/two.model
}

@test "pd-train: only rank 0 logs and reports; the checkpoint records no rank" {
    local loud=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 4 -j 1)
    # long enough (over a second) for the final progress line
    run mpi -np 2 pd-train "${loud[@]}" --steps 3000 --log l.tsv -o m.model "$D/l96.tsr"
    assert_success
    [ "$(grep -c "4 paths, 398 parameters" <<< "$output")" -le 1 ]   # 0 when under a second
    [ "$(wc -l < l.tsv)" -eq 3001 ]
    ! tsr-info -a m.model | grep -qi 'rank\|nranks\|OMPI' || false
    pd-train "${loud[@]}" -q --steps 3000 --log l.tsv -o one.model "$D/l96.tsr"
    # the same header (history included) as one process's
    diff <(tsr-info m.model | head -n 1 | sed 's/adam.t=.*//') <(tsr-info one.model | head -n 1 | sed 's/adam.t=.*//')
}

@test "--resume across a change of N: 2 ranks then 1 process, and 1 then 2, continue the same run" {
    pd-train "${T_PD[@]}" --steps 100 --log full.tsv -o full.model "$D/l96.tsr"
    mpi -np 2 pd-train "${T_PD[@]}" --steps 50 --log a.tsv -o a50.model "$D/l96.tsr"
    pd-train "${T_PD[@]}" --steps 100 --resume a50.model --log a.tsv -o a.model "$D/l96.tsr"
    pd-train "${T_PD[@]}" --steps 50 --log b.tsv -o b50.model "$D/l96.tsr"
    mpi -np 2 pd-train "${T_PD[@]}" --steps 100 --resume b50.model --log b.tsv -o b.model "$D/l96.tsr"
    for x in a b; do
        same_losses full.tsv $x.tsv
        tsr-info $x.model | head -n 1 | grep -q 'adam.t=100 '
        r=$(reldiff full.model $x.model)
        echo "resume $x: max |dparam| / max |param| = $r" >&3
        within "$r" 1e-6
    done
    # fno-train the same way round
    fno-train "${T_FNO[@]}" --steps 20 -o ffull.model "$D/cond.tsr"
    mpi -np 2 fno-train "${T_FNO[@]}" --steps 10 -o f10.model "$D/cond.tsr"
    fno-train "${T_FNO[@]}" --steps 20 --resume f10.model -o f.model "$D/cond.tsr"
    within "$(reldiff ffull.model f.model)" 1e-4
}

@test "-np 3 with a batch of 4: unequal shares (2, 1, 1) give the 1-process step" {
    pd-train "${T_PD[@]}" --steps 100 --log one.tsv -o one.model "$D/l96.tsr"
    mpi -np 3 pd-train "${T_PD[@]}" --steps 100 --log three.tsv -o three.model "$D/l96.tsr"
    same_losses one.tsv three.tsv
    r=$(reldiff one.model three.model)
    echo "3 ranks, batch 4: max |dparam| / max |param| = $r" >&3
    within "$r" 1e-6
    ! cmp -s <(payload one.model) <(payload three.model) || false   # the batch was split
}

@test "more ranks than the batch: a clear error, exit 2, nothing written" {
    run mpi -np 3 pd-train "${T_PD[@]/4/2}" --steps 5 --log l.tsv -o m.model "$D/l96.tsr"
    [ "$status" -eq 2 ]
    [ "$(grep -c 'a batch of 2 on 3 ranks leaves a rank without samples' <<< "$output")" -eq 1 ]
    [ ! -e m.model ] && [ ! -e l.tsv ]
}

# The pid of rank R of the mpirun whose pid is $1.
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo $p; return; }
    done
}

@test "a rank killed mid-training ends the run (no hang); the checkpoint is whole" {
    mpirun --oversubscribe -np 2 pd-train "${T_PD[@]}" --steps 100000000 --checkpoint-every 1 \
        -o m.model "$D/l96.tsr" 2> err.txt &
    local job=$! i pid=
    for i in $(seq 300); do [ -e m.model ] && pid=$(rank_pid $job 1) && [ -n "$pid" ] && break; sleep 0.1; done
    [ -n "$pid" ]
    kill -KILL "$pid"
    # mpirun must end by itself, with a failure, well before this
    for i in $(seq 300); do kill -0 $job 2> /dev/null || break; sleep 0.1; done
    if kill -0 $job 2> /dev/null; then kill -KILL $job; false; fi
    run wait $job
    [ "$status" -ne 0 ]
    tsr-cat m.model > /dev/null            # every record whole, CRCs right
    # and a model: training resumes from it
    t=$(tsr-info m.model | head -n 1 | grep -o 'adam.t=[0-9]*' | cut -d= -f2)
    pd-train "${T_PD[@]}" --steps $((t + 1)) --resume m.model -o again.model "$D/l96.tsr"
}

@test "a rank that fails in its own code aborts the others (no hang), nothing written" {
    # rank 0 cannot write its checkpoint: it reports and aborts rank 1, which
    # is waiting in the next all-reduce
    run timeout 120 mpirun --oversubscribe -np 2 pd-train "${T_PD[@]}" --steps 1000000 \
        --checkpoint-every 3 -o nodir/m.model "$D/l96.tsr"
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    assert_output --partial 'nodir/m.model'
    [ ! -e nodir ]
}
