#!/usr/bin/env bash
# Smoke: the PDD Lorenz-96 pipeline at SCALE=ci runs end to end and fills every
# measured cell of its results table with a number (the values themselves are
# meaningless at this scale: tiny nets, 30 steps).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
make -s -f pipelines/pdd-l96.mk SCALE=ci OUT="$out" BIN="${BIN:-bin}" J=2 >/dev/null
grep -q '^| 1 | simulation L2' "$out/results.md"
# every "ours" cell (columns 3 and 4 of the table rows) holds numbers
awk -F'|' '/^\| [0-9-] \|/ { for (i = 4; i <= 5; i++) { c = $i; gsub(/ |LR:|n\/a/, "", c);
    if (c != "" && c !~ /^[-+0-9.e\/]+$/) { print "bad cell: " $i; bad = 1 }
    if ($i ~ /^ *\/ *$/ || $i ~ /^ *$/) { print "empty cell in: " $0; bad = 1 } } }
    END { exit bad }' "$out/results.md"
grep -q 'generate: nfe' "$out/results.md"
echo "pdd-l96 smoke: ok"
