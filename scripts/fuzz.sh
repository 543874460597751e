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
mkdir -p "$build/artifacts"
# The library targets, built by SwiftPM (their own flags, C targets and kernel paths included)
# with libFuzzer's coverage and ASan, in a build directory of their own; Training with
# -enable-testing for the checkpoint harness. Building one target links no executable, so
# nothing clashes with libFuzzer's main.
echo "fuzz.sh: building the library targets with -sanitize=fuzzer,address (minutes the first time)"
swift build -c release --build-path "$build/spm" --target Training \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing -Xswiftc -g
products="$build/spm/release"
modules="$products/Modules"
[[ -d "$modules" ]] || modules="$products"
# This build path holds only Training and what it depends on, so every object in it is needed:
# a target added to Training's dependencies is linked without being named here. A Swift target's
# objects are those its output file map names for its current sources: a source moved to another
# target leaves its old object behind in an incremental build.
objects=()
for target_build in "$products"/*.build; do
    if [[ -f "$target_build/output-file-map.json" ]]; then
        while read -r object; do
            [[ -e "$object" ]] && objects+=("$object")
        done < <(sed -n 's/^ *"object": "\(.*\)",\{0,1\}$/\1/p' "$target_build/output-file-map.json")
    else
        for object in "$target_build"/*.o; do [[ -e "$object" ]] && objects+=("$object"); done
    fi
done
# The system libraries of those targets are not objects of the build path: each is named at the
# link below (zlib for Data, Open MPI for Distributed, libpng for Imaging's PNG codec).
includes=(-I "$modules" -I Sources/CZlib -I Sources/CMPI)
# SwiftPM writes the module maps of C targets into their build directories.
for map in "$products"/*.build/module.modulemap; do includes+=(-Xcc "-fmodule-map-file=$map"); done
for flag in $(pkg-config --cflags-only-I ompi-c); do includes+=(-Xcc "$flag"); done

for harness in "${harnesses[@]}"; do
    case "$harness" in
        idx-reader) source=IDXReader.swift ;;
        safetensors-header) source=SafeTensorsHeader.swift ;;
        checkpoint-decoder) source=CheckpointDecoder.swift ;;
        *) echo "fuzz.sh: no harness $harness" >&2; exit 2 ;;
    esac
    echo "fuzz.sh: linking $harness"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g "${includes[@]}" "Fuzz/Harnesses/$source" "${objects[@]}" \
        -lz $(pkg-config --libs ompi-c libpng) -o "$build/$harness" > "$build/$harness.link.log" 2>&1 \
        || { cat "$build/$harness.link.log"; exit 1; }
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
