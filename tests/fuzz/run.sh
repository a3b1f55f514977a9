#!/usr/bin/env bash
# make fuzz: builds the fuzz targets for the tensor stream reader and the .npy
# reader with libFuzzer + ASan/UBSan (clang), makes seed corpora of valid
# streams and .npy files, fuzzes for SECONDS in all (default 60; the stream
# reader gets 3/4) and reports crashes, leaks, OOMs and hangs.  Exit 1 if any
# was found.  Corpora grow across runs in build/fuzz/corpus/.
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build/fuzz
cc=${FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
[ -n "$cc" ] || { echo "fuzz: clang is needed (apt-get install clang)"; exit 2; }
mkdir -p "$out/obj" "$out/seeds" "$out/corpus" "$out/artifacts"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-std=c11 -O1 -g -D_GNU_SOURCE -I$root/lib -Wall -Wextra -Wno-unused-parameter"
libsrc="tsr tsr_record crc32c err rng npy"
objs=()
for s in $libsrc; do
    "$cc" $cflags $san -fsanitize=fuzzer-no-link -c "$root/lib/$s.c" -o "$out/obj/$s.o"
    objs+=("$out/obj/$s.o")
done
for t in tsr npy; do
    "$cc" $cflags $san -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$t.c" "${objs[@]}" -lzstd -lpthread -o "$out/fuzz_$t"
done
"$cc" $cflags $san "$root/tests/fuzz/make_seeds.c" "${objs[@]}" -lzstd -lpthread -lm -o "$out/make_seeds"
rm -rf "$out/seeds" && mkdir -p "$out/seeds/tsr" "$out/seeds/npy" "$out/corpus/tsr" "$out/corpus/npy"
"$out/make_seeds" "$out/seeds/tsr" "$out/seeds/npy"

# The stream reader gets three quarters of the time, the .npy reader the rest.
t_tsr=$(( secs * 3 / 4 > 0 ? secs * 3 / 4 : 1 )) t_npy=$(( secs - secs * 3 / 4 > 0 ? secs - secs * 3 / 4 : 1 ))
failed=0
stamp=$out/.run-start
touch "$stamp"   # artifacts of earlier runs are kept, but not counted again
for t in tsr npy; do
    eval "limit=\$t_$t"
    echo "fuzz: $t reader: $(ls "$out/seeds/$t" | wc -l) seeds, ${limit}s"
    log=$out/fuzz_$t.log
    status=0
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        ./fuzz_$t -max_total_time="$limit" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "corpus/$t" "seeds/$t") > "$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | sed 's/^/  /' || true
    found=$(find "$out/artifacts" -newer "$stamp" -type f -printf '%f\n' | grep -E "^$t-(crash|leak|timeout|oom)-" || true)
    if [ "$status" -ne 0 ] || [ -n "$found" ]; then
        failed=1
        echo "fuzz: $t: FAILED (libFuzzer status $status); artifacts in $out/artifacts:"
        [ -n "$found" ] && sed 's/^/  /' <<< "$found"
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -20 || true
        echo "  reproduce: $out/fuzz_$t $out/artifacts/<file>   (log: $log)"
    else
        echo "fuzz: $t: no crash, leak or hang ($(ls "$out/corpus/$t" | wc -l) corpus entries)"
    fi
done
exit $failed
