#!/usr/bin/env bash
# make bench: runs every bench/*.sh in turn (BENCH_ONLY=name restricts to one),
# each comparing against its peer in the same run.  Figures only, never pass/fail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bdir=$1 bin=$2
for s in "$here"/*.sh; do
    [ "$(basename "$s")" = run.sh ] && continue
    name=$(basename "$s" .sh)
    if [ -n "${BENCH_ONLY:-}" ] && [ "$BENCH_ONLY" != "$name" ]; then continue; fi
    echo "=== bench $name"
    bash "$s" "$bdir" "$bin" || echo "bench $name: exited with status $? (figures above may be incomplete)"
done
