#!/usr/bin/env bash
# Submits a sharded generation and its merge: an array of EDDY_TASKS tasks
# (generate-array.sbatch) and a merge job (merge.sbatch) that waits for all of
# them with --dependency=afterok.  Prints the two job ids.
#
#   EDDY_TASKS=32 EDDY_PER_TASK=4 EDDY_OUT=data/kf \
#     EDDY_CMD='ns-gen --preset kolmogorov --seed 1' examples/slurm/submit.sh
#
# Extra sbatch options (partition, account) go in SBATCH_PARTITION,
# SBATCH_ACCOUNT, ... which sbatch reads itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tasks=${EDDY_TASKS:-4}
gen=$(sbatch --parsable --array=0-$((tasks - 1)) "$here/generate-array.sbatch")
gen=${gen%%;*}   # --parsable prints "id" or "id;cluster"
merge=$(sbatch --parsable --dependency=afterok:"$gen" "$here/merge.sbatch")
echo "$gen ${merge%%;*}"
