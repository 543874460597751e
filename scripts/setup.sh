#!/usr/bin/env bash
# Installs what the project needs and is missing, then builds it in release mode.
# Idempotent: a second run installs nothing and only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(libopenmpi-dev openmpi-bin zlib1g-dev libpng-dev pkg-config)
# qemu-user emulates older x86-64 CPUs (no AVX; AVX2 without AVX-512) for the tests that the
# portable build runs on each with its best kernel path.
if [ "$(uname -m)" = x86_64 ]; then packages+=(qemu-user); fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Fashion-MNIST for `--dataset fashion-mnist`: optional, so a system without the package still
# builds and tests (those tests then say they are skipped).
if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed"; then
    echo "setup: installing dataset-fashion-mnist"
    { as_root apt-get update -qq \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
        || echo "setup: dataset-fashion-mnist could not be installed; --dataset fashion-mnist will not work" >&2
fi

# Python's safetensors and numpy let the tests read our checkpoints with the reference reader;
# tensorboard, our --tensorboard event files with TensorBoard's own reader and server.
if ! command -v python3 >/dev/null; then
    missing_python=(python3 python3-pip)
elif ! python3 -m pip --version >/dev/null 2>&1; then
    missing_python=(python3-pip)
else
    missing_python=()
fi
if [ "${#missing_python[@]}" -gt 0 ]; then
    echo "setup: installing ${missing_python[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_python[@]}" >/dev/null
fi
if ! python3 -c "import safetensors.numpy, numpy, tensorboard" 2>/dev/null; then
    echo "setup: installing python safetensors, numpy and tensorboard"
    python3 -m pip install --quiet --disable-pip-version-check safetensors numpy tensorboard 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages safetensors numpy tensorboard
fi
# PyTorch, for the tests that load our checkpoints in it, only where a CPU wheel of it lies in
# /opt/wheels (PyPI's own torch pulls gigabytes of CUDA libraries): elsewhere they are skipped.
torch_wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$torch_wheel" ] && ! python3 -c "import torch" 2>/dev/null; then
    echo "setup: installing $torch_wheel"
    python3 -m pip install --quiet --disable-pip-version-check "$torch_wheel" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$torch_wheel" \
        || echo "setup: could not install $torch_wheel; the PyTorch tests will be skipped" >&2
fi

if ! command -v swift >/dev/null; then
    echo "setup: swift not found on PATH; install Swift 6 from swift.org first" >&2
    exit 1
fi

swift build -c release
echo "setup: shell completion: .build/release/mnist-ddp --generate-completion-script bash|zsh|fish" \
    "writes the script for your shell; where to put it: README.md, \"Version and shell completion\""
