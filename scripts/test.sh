#!/usr/bin/env bash
# Sets up, then runs the whole test suite: unit tests, the PyTorch golden comparison and the
# tests that launch real mpirun jobs. Release mode, so the training tests run at real speed;
# one test at a time, since the mpirun jobs would otherwise share the cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift test -c release --no-parallel "$@"
