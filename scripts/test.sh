#!/usr/bin/env bash
# Sets up, then runs the test suite in release mode, so the training tests run at real speed;
# one test at a time, since the mpirun jobs would otherwise share the cores.
#
#   scripts/test.sh           everything, as CI runs it: unit tests, the PyTorch golden comparison,
#                             the tests that launch real mpirun jobs, Slurm and simulated nodes;
#                             then each libFuzzer harness for 20 s from its seed corpus
#                             ($MNIST_DDP_FUZZ_SECONDS), where a crash, hang or runaway allocation
#                             fails the suite; and at the end, the tests skipped here and why
#   scripts/test.sh --fast    the unit tests alone: every test tagged as starting a process
#                             (with mpi, slurm or namespaces, or alone) is left out; no fuzzing
#   scripts/test.sh ARGS...   ARGS go to `swift test` (e.g. --filter X), and no fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if [ "${1:-}" = --fast ]; then
    shift
    # What is tagged `processes` (Tests/TestSupport/Tags.swift) is skipped by this variable, as
    # Swift Testing's command line cannot skip by tag.
    MNIST_DDP_UNIT_TESTS_ONLY=1 exec swift test -c release --no-parallel "$@"
fi

# Swift Testing says of each test it does not run that it "skipped", with the reason (twice: as it
# happens and in its summary), and of each it stops part-way (Test.cancel) that it "cancelled";
# the list is printed once more at the end, so a green run cannot hide that the tests of real
# infrastructure did not run.
log=.build/test-output.txt
mkdir -p .build
set +e
swift test -c release --no-parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo
echo "test.sh: tests not run here, and why:"
grep -E '(Test|Suite) ".*" (skipped|was cancelled|cancelled)' "$log" | sed 's/^[^A-Za-z]*/  /' | awk '!seen[$0]++' | grep . || echo "  none"
[ "$status" -eq 0 ] || exit "$status"

if [ "$#" -eq 0 ]; then
    scripts/fuzz.sh --seconds "${MNIST_DDP_FUZZ_SECONDS:-20}"
fi
