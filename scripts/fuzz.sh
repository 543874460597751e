#!/usr/bin/env bash
# Builds the libFuzzer harnesses in Fuzz/Harnesses (outside the package: swiftc with
# -sanitize=fuzzer,address over the modules they test) and runs each for a bounded time from its
# seed corpus in Fuzz/corpus. A crash, a sanitizer report, an input that takes longer than
# --input-timeout seconds, or one that allocates more than 512 MB fails the script, with the
# input saved under .build/fuzz/artifacts; make each such input a regression test.
#
#   scripts/fuzz.sh [--seconds N] [--input-timeout S] [harness ...]
#   harnesses: idx-reader safetensors-header checkpoint-decoder (all by default)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
input_timeout=5
harnesses=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --input-timeout) input_timeout="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) harnesses+=("$1"); shift ;;
    esac
done
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(idx-reader safetensors-header checkpoint-decoder)

build=.build/fuzz
mkdir -p "$build/modules" "$build/artifacts"
sanitize=(-sanitize=fuzzer,address -parse-as-library -O -g -I "$build/modules")

# One module: its sources compiled to one object with libFuzzer's coverage and ASan.
module() {
    local name="$1"; shift
    echo "fuzz.sh: compiling $name"
    swiftc "${sanitize[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$build/modules/$name.swiftmodule" \
        -c "Sources/$name"/*.swift -o "$build/modules/$name.o" "$@"
}
mpi_flags=()
for flag in $(pkg-config --cflags-only-I ompi-c); do mpi_flags+=(-Xcc "$flag"); done

needs=" ${harnesses[*]} "
module RegularFile
module SeededRandom
module Data -I Sources/CZlib
module SafeTensors
if [[ "$needs" == *" checkpoint-decoder "* ]]; then
    module CNN -enforce-exclusivity=unchecked
    module Distributed -I Sources/CMPI "${mpi_flags[@]}"
    module Training -enable-testing -enforce-exclusivity=unchecked -I Sources/CMPI -I Sources/CZlib "${mpi_flags[@]}"
fi

link() {
    local harness="$1" source="$2"; shift 2
    echo "fuzz.sh: linking $harness"
    swiftc "${sanitize[@]}" "Fuzz/Harnesses/$source" "$@" -o "$build/$harness" 2> "$build/$harness.link.log" \
        || { cat "$build/$harness.link.log"; exit 1; }
}
m="$build/modules"
for harness in "${harnesses[@]}"; do
    case "$harness" in
        idx-reader) link "$harness" IDXReader.swift -I Sources/CZlib "$m/RegularFile.o" "$m/SeededRandom.o" "$m/Data.o" -lz ;;
        safetensors-header) link "$harness" SafeTensorsHeader.swift "$m/RegularFile.o" "$m/SafeTensors.o" ;;
        checkpoint-decoder)
            link "$harness" CheckpointDecoder.swift -I Sources/CMPI -I Sources/CZlib "${mpi_flags[@]}" \
                "$m"/{RegularFile,SeededRandom,Data,SafeTensors,CNN,Distributed,Training}.o -lz $(pkg-config --libs ompi-c) ;;
        *) echo "fuzz.sh: no harness $harness" >&2; exit 2 ;;
    esac
done

failed=0
for harness in "${harnesses[@]}"; do
    # New inputs go to a scratch corpus; the repository's seeds are only read.
    work="$build/corpus/$harness"
    mkdir -p "$work"
    echo "fuzz.sh: running $harness for $seconds s"
    if ! "$build/$harness" "$work" "Fuzz/corpus/$harness" -max_total_time="$seconds" -timeout="$input_timeout" \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix="$build/artifacts/$harness-" -print_final_stats=1 \
        > "$build/$harness.log" 2>&1; then
        tail -n 40 "$build/$harness.log"
        echo "fuzz.sh: $harness FAILED; the input is under $build/artifacts" >&2
        failed=1
    else
        grep -E "^stat::number_of_executed_units|^Done" "$build/$harness.log" | sed "s/^/fuzz.sh: $harness: /"
    fi
done
exit $failed
