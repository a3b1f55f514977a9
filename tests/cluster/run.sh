#!/usr/bin/env bash
# make test-cluster: the Slurm workflow on a real one-node cluster that this
# script starts (tests/cluster/cluster.sh) and stops on exit.  Each case runs
# the user's scripts from examples/slurm/ and checks the result against the
# same work done without Slurm.  Ends with "N passed, N failed" (and "N
# skipped" for the cases that wait on tools not written yet).
set -uo pipefail

# Usage: tests/cluster/run.sh [--bin DIR] [--build DIR] [CASE...]   (default: every case)
bin=bin build=build cases=()
while [ $# -gt 0 ]; do
    case $1 in
        --bin) bin=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        case_*) cases+=("$1"); shift ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ ${#cases[@]} -gt 0 ] || cases=(case_ns_gen_array case_failed_shard_blocks_merge case_mpi_in_allocation
                                 case_pd_sample_array case_pd_train_mpi)
root=$(cd "$(dirname "$0")/../.." && pwd)
case $bin in /*) ;; *) bin=$root/$bin ;; esac
case $build in /*) ;; *) build=$root/$build ;; esac
export PATH="$bin:$PATH"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OMP_NUM_THREADS=1
slurm=$root/examples/slurm
source "$root/tests/cluster/cluster.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: slurmd starts jobs as their users, so it must run as root"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
# Open MPI refuses root without both (the cluster's jobs run as root here).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

work=$(mktemp -d /tmp/eddy-cluster.XXXXXX)
trap 'cluster_stop; rm -rf "$work"' EXIT
pass=0 fail=0 skip=0

# wait_jobs TIMEOUT ID...: waits until none of the jobs (arrays: every task)
# is pending or running; fails after TIMEOUT seconds.
wait_jobs() {
    local t=$1 i; shift
    for ((i = 0; i < t * 2; i++)); do
        [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" -o %i 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    echo "# jobs $* still queued after $t s:"; squeue | sed 's/^/#   /'
    return 1
}

# job_states ID: the distinct final states of a job's tasks, e.g. "COMPLETED".
job_states() {
    scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# payload FILE: the decompressed data frames (headers are skippable frames);
# headers FILE: tsr-info's listing minus the record index (no history).
payload() { zstd -dcq "$1"; }
headers() { tsr-info --stats "$1" | cut -f2-; }

# The generator of the array cases: small Kolmogorov-flow samples (seconds each).
NS_GEN="ns-gen --preset kolmogorov --n 32 --frames 3 --spinup 0.1 --interval 0.025 --out-grid 16 --quiet --seed 5"

# ---------------------------------------------------------------- cases
# Each prints nothing on success, "# ..." lines on failure and returns 1,
# or returns 77 after printing "# skipped: ...".

# A job array of 4 tasks × 2 samples and its merge (examples/slurm/submit.sh):
# the merged stream equals one 8-sample ns-gen run made here without Slurm.
case_ns_gen_array() {
    local d=$work/ns-array ids gen merge
    mkdir -p "$d" && cd "$d" || return 1
    $NS_GEN --count 8 -o "$d/direct.tsr" || return 1
    ids=$(EDDY_TASKS=4 EDDY_PER_TASK=2 EDDY_OUT="$d/shards" EDDY_MERGED="$d/merged.tsr" \
          EDDY_CMD="$NS_GEN" "$slurm/submit.sh") || return 1
    read -r gen merge <<< "$ids"
    wait_jobs 300 "$gen" "$merge" || return 1
    [ "$(job_states "$gen")" = COMPLETED ] || { echo "# array $gen: $(job_states "$gen")"; cat eddy-gen-*.out | sed 's/^/#   /'; return 1; }
    [ "$(job_states "$merge")" = COMPLETED ] || { echo "# merge $merge: $(job_states "$merge")"; return 1; }
    [ "$(ls "$d/shards" | wc -l)" = 4 ] || { echo "# expected 4 shards:"; ls "$d/shards" | sed 's/^/#   /'; return 1; }
    cmp <(payload "$d/direct.tsr") <(payload "$d/merged.tsr") || { echo "# merged samples differ from one run"; return 1; }
    [ "$(headers "$d/direct.tsr")" = "$(headers "$d/merged.tsr")" ] || { echo "# merged headers differ from one run"; return 1; }
    # The merge ran after the whole array: its start is not before any task's end.
    local mstart tend
    mstart=$(scontrol show job -o "$merge" | grep -o 'StartTime=[^ ]*' | cut -d= -f2)
    tend=$(scontrol show job -o "$gen" | grep -o 'EndTime=[^ ]*' | cut -d= -f2 | sort | tail -n 1)
    [[ ! "$mstart" < "$tend" ]] || { echo "# merge started $mstart before the last shard ended $tend"; return 1; }
}

# A shard that fails (a bad option) leaves the merge unrun and cancelled
# (afterok never met; kill_invalid_depend), and no merged file.
case_failed_shard_blocks_merge() {
    local d=$work/ns-fail ids gen merge
    mkdir -p "$d" && cd "$d" || return 1
    ids=$(EDDY_TASKS=2 EDDY_PER_TASK=1 EDDY_OUT="$d/shards" EDDY_MERGED="$d/merged.tsr" \
          EDDY_CMD="$NS_GEN --no-such-option" "$slurm/submit.sh") || return 1
    read -r gen merge <<< "$ids"
    wait_jobs 120 "$gen" "$merge" || return 1
    [ "$(job_states "$gen")" = FAILED ] || { echo "# array $gen: $(job_states "$gen"), expected FAILED"; return 1; }
    [ "$(job_states "$merge")" = CANCELLED ] || { echo "# merge $merge: $(job_states "$merge"), expected CANCELLED"; return 1; }
    [ ! -e "$d/merged.tsr" ] || { echo "# a merged file was written"; return 1; }
}

# MPI through Slurm: the distributed runtime's unit test inside a 2-task
# allocation, where mpirun takes its slots from Slurm and starts the ranks
# through it (build/tests/test_dist launches itself under mpirun); then
# examples/slurm/train-mpi.sbatch running test_dist's ranks.
case_mpi_in_allocation() {
    local d=$work/mpi t=$build/tests/test_dist jid
    [ -x "$t" ] || { echo "# skipped: $t not built (make build/tests/test_dist)"; return 77; }
    "$t" | grep 'skipped: built without MPI' > /dev/null && { echo "# skipped: built without MPI"; return 77; }
    mkdir -p "$d" && cd "$d" || return 1
    jid=$(sbatch --parsable --ntasks=2 --output="$d/out" --wrap "$t") || return 1
    wait_jobs 300 "$jid" || return 1
    [ "$(job_states "$jid")" = COMPLETED ] || { echo "# job $jid: $(job_states "$jid")"; sed 's/^/#   /' "$d/out"; return 1; }
    grep -q '^ok 4 - test_allreduce_ranks' "$d/out" && ! grep -q '^not ok\|skipped' "$d/out" \
        || { sed 's/^/#   /' "$d/out"; return 1; }
    # The user's MPI script (examples/slurm/train-mpi.sbatch) with the ranks of
    # test_dist as the program: the all-reduced buffers it writes equal those
    # of the same mpirun outside Slurm (which test_dist checks against the
    # serial sum).
    mkdir -p "$d/slurm" "$d/direct"
    timeout 120 mpirun --oversubscribe --bind-to none -np 2 "$t" rank sum "$d/direct" > "$d/direct.log" 2>&1 \
        || { echo "# mpirun outside Slurm failed:"; sed 's/^/#   /' "$d/direct.log"; return 1; }
    jid=$(EDDY_TRAIN="$t rank sum $d/slurm" sbatch --parsable --ntasks=2 --output="$d/train.out" \
          "$slurm/train-mpi.sbatch") || return 1
    wait_jobs 300 "$jid" || return 1
    [ "$(job_states "$jid")" = COMPLETED ] || { echo "# job $jid: $(job_states "$jid")"; sed 's/^/#   /' "$d/train.out"; return 1; }
    local f n=0
    for f in "$d"/direct/sum-*; do
        cmp "$f" "$d/slurm/${f##*/}" || { echo "# ${f##*/} differs under Slurm"; return 1; }
        n=$((n + 1))
    done
    [ "$n" -ge 10 ] || { echo "# only $n result files"; return 1; }
}

# The tiny L96 data and model of the later cases (tests/cli/pd-sample.bats's sizes).
TINY="--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q"
make_l96() { l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 4 -q -o "$1"; }

# An array sharding `pd-sample generate --first` (3 tasks × 2 paths, --batch
# 2 so that every shard batches its paths as the one run does), merged, equal
# to one pd-sample run.
case_pd_sample_array() {
    local d=$work/pd-array ids gen merge
    mkdir -p "$d" && cd "$d" || return 1
    make_l96 "$d/l96.tsr" && pd-train $TINY --steps 2 -o "$d/pdd.model" "$d/l96.tsr" || return 1
    local gen_cmd="pd-sample -m $d/pdd.model --frames 6 --schedule rho --steps 4 --correctors 1 --max-clamped 1 --blowup 0 --seed 3 -b 2 -q generate"
    $gen_cmd --samples 6 -o "$d/direct.tsr" || return 1
    ids=$(EDDY_TASKS=3 EDDY_PER_TASK=2 EDDY_COUNT_OPT=--samples EDDY_OUT="$d/shards" \
          EDDY_MERGED="$d/merged.tsr" EDDY_CMD="$gen_cmd" "$slurm/submit.sh") || return 1
    read -r gen merge <<< "$ids"
    wait_jobs 300 "$gen" "$merge" || return 1
    [ "$(job_states "$merge")" = COMPLETED ] || { echo "# merge $merge: $(job_states "$merge")"; return 1; }
    cmp <(payload "$d/direct.tsr") <(payload "$d/merged.tsr") || { echo "# merged samples differ from one run"; return 1; }
    [ "$(headers "$d/direct.tsr")" = "$(headers "$d/merged.tsr")" ] || { echo "# merged headers differ"; return 1; }
}

# One sbatch running `mpirun -np 2 pd-train` (examples/slurm/train-mpi.sbatch);
# two such runs give identical checkpoints, equal to `mpirun -np 2 pd-train`
# run without Slurm.
case_pd_train_mpi() {
    ldd "$(command -v pd-train)" | grep libmpi > /dev/null || { echo "# skipped: built without MPI"; return 77; }
    local d=$work/pd-mpi jid run
    mkdir -p "$d" && cd "$d" || return 1
    make_l96 "$d/l96.tsr" || return 1
    local train="pd-train $TINY --batch 4 --steps 10"
    timeout 300 mpirun --oversubscribe -np 2 $train -o "$d/direct.model" "$d/l96.tsr" || return 1
    for run in a b; do
        jid=$(EDDY_TRAIN="$train -o $d/model-$run.model $d/l96.tsr" sbatch --parsable --ntasks=2 \
              --output="$d/train-$run.out" "$slurm/train-mpi.sbatch") || return 1
        wait_jobs 300 "$jid" || return 1
        [ "$(job_states "$jid")" = COMPLETED ] || { sed 's/^/#   /' "$d/train-$run.out"; return 1; }
    done
    cmp <(payload "$d/model-a.model") <(payload "$d/model-b.model") || { echo "# two 2-rank runs differ"; return 1; }
    cmp <(payload "$d/direct.model") <(payload "$d/model-a.model") || { echo "# Slurm run differs from mpirun alone"; return 1; }
}

# ---------------------------------------------------------------- run

run_case() {
    local name=$1 st t0=$SECONDS
    ( "$name" ) > "$work/case.log" 2>&1
    st=$?
    if [ "$st" = 0 ]; then
        pass=$((pass + 1)); echo "ok - $name ($((SECONDS - t0)) s)"
    elif [ "$st" = 77 ]; then
        skip=$((skip + 1)); echo "ok - $name # SKIP"; grep '^# skipped' "$work/case.log"
    else
        fail=$((fail + 1)); echo "not ok - $name"; sed -n '1,40p' "$work/case.log" | sed 's/^\([^#]\)/#   \1/'
    fi
}

start=$SECONDS
if cluster_start "$work/cluster"; then
    pass=$((pass + 1)); echo "ok - cluster_start: one node idle after $((SECONDS - start)) s"
    sinfo -N -o '%N %c %m %t' | sed 's/^/#   /'
    for c in "${cases[@]}"; do run_case "$c"; done
else
    fail=$((fail + 1)); echo "not ok - cluster_start"
fi
echo "# $((SECONDS - start)) s"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
