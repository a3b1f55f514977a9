#!/usr/bin/env bash
# make bench, stream entry: tensor stream write/read throughput at zstd level 1,
# with and without shuffle, as ratios against the zstd CLI on the same bytes in
# the same run.  Usage: bench/stream.sh BUILD_BENCH_DIR BIN_DIR [MB]
set -euo pipefail
bdir=${1:-build/bench} mb=${3:-${STREAM_MB:-256}}
command -v zstd > /dev/null || { echo "RESULT stream skipped: no zstd CLI"; exit 0; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench_stream.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
echo "zstd CLI: $(zstd --version | head -n1)"
"$bdir/bench_stream" "$scratch" "$mb"
