#!/usr/bin/env bash
# Sets up, then runs the whole test suite: unit tests, the PyTorch golden comparison and the
# tests that launch real mpirun jobs. Release mode, so the training tests run at real speed;
# one test at a time, since the mpirun jobs would otherwise share the cores. Without arguments
# (the whole suite, as CI runs it) each libFuzzer harness then runs for 20 s from its seed
# corpus; a crash, hang or runaway allocation fails the suite. Arguments go to `swift test`
# (e.g. --filter X), and the fuzzing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release --no-parallel "$@"
if [ "$#" -eq 0 ]; then
    scripts/fuzz.sh --seconds "${MNIST_DDP_FUZZ_SECONDS:-20}"
fi
