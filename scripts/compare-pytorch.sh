#!/usr/bin/env bash
# Trains the same CNN with mnist-ddp and with PyTorch, back to back on this machine, and prints
# a Markdown table of the results. Not part of CI: a full comparison takes several minutes.
#
#   scripts/compare-pytorch.sh [--model SPEC] [--epochs E] [--kernels P,Q] [--pytorch-isa I,J] [--skip-ours] [--skip-pytorch] [--install]
#
# --model SPEC: the network, a preset or a layer list as `mnist-ddp train --model` takes it
# (default: the seed network); both sides get it, PyTorch's as `mnist-ddp model SPEC --canonical`.
# Ours: one process (--local), then 2 MPI ranks, once per kernel path in --kernels (default: the
# path this CPU selects; `mnist-ddp bench --list-kernels` names the others). PyTorch (scripts/pytorch_reference.py), one
# thread per process: one process, then DDP over gloo with 2 ranks, each with the tutorial's
# DataLoader and with the training set preloaded as one tensor; once per instruction set in
# --pytorch-isa (default: native, what PyTorch picks; avx2 or avx512 cap both ATen's kernels and
# oneDNN's, so that an AVX2 column compares AVX2 code with AVX2 code on an AVX-512 machine). Everything lands in
# runs/compare-<time>/. PyTorch comes from .venv/ if it is there, else from python3; when
# neither has it, --install (or answering yes) creates .venv/ with the CPU-only torch build.
set -euo pipefail
cd "$(dirname "$0")/.."

epochs=10
model=""
kernels=""
pytorch_isas=native
run_ours=true
run_pytorch=true
install=false
while [ $# -gt 0 ]; do
    case "$1" in
        --epochs) epochs="$2"; shift 2 ;;
        --model) model="$2"; shift 2 ;;
        --kernels) kernels="$2"; shift 2 ;;
        --pytorch-isa) pytorch_isas="$2"; shift 2 ;;
        --skip-ours) run_ours=false; shift ;;
        --skip-pytorch) run_pytorch=false; shift ;;
        --install) install=true; shift ;;
        -h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "compare-pytorch: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

# The environment that caps PyTorch (ATen's kernels and oneDNN's) at an instruction set.
pytorch_isa_env() {
    case "$1" in
        native) echo "" ;;
        avx2) echo "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2" ;;
        avx512) echo "ATEN_CPU_CAPABILITY=avx512 ONEDNN_MAX_CPU_ISA=AVX512_CORE" ;;
        *) return 1 ;;
    esac
}
for isa in ${pytorch_isas//,/ }; do
    pytorch_isa_env "$isa" >/dev/null \
        || { echo "compare-pytorch: unknown --pytorch-isa $isa (native, avx2 or avx512)" >&2; exit 2; }
done

has_pytorch() { "$1" -c "import torch, safetensors.torch, numpy" 2>/dev/null; }

# PyPI's Linux torch wheel pulls several GB of CUDA libraries; the CPU-only build is a fraction of that.
install_pytorch() {
    echo "compare-pytorch: creating .venv with CPU-only torch, safetensors and numpy"
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --retries 1 --no-deps \
        --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" torch
    # torch is already there, so this adds only its dependencies.
    .venv/bin/python -m pip install --quiet torch safetensors numpy
}

python=""
if $run_pytorch; then
    for candidate in .venv/bin/python python3; do
        if command -v "$candidate" >/dev/null && has_pytorch "$candidate"; then python="$candidate"; break; fi
    done
    if [ -z "$python" ]; then
        if ! $install && [ -t 0 ]; then
            read -r -p "PyTorch is not installed. Create .venv/ and install CPU-only torch there (~1 GB)? [y/N] " answer
            [[ "$answer" == [yY]* ]] && install=true
        fi
        if ! $install; then
            echo "compare-pytorch: PyTorch is not importable; rerun with --install to put it in .venv/, or use --skip-pytorch" >&2
            exit 1
        fi
        install_pytorch
        python=.venv/bin/python
        has_pytorch "$python" || { echo "compare-pytorch: torch still does not import from .venv/" >&2; exit 1; }
    fi
fi

out="runs/compare-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "compare-pytorch: $epochs epochs each; results in $out/"
# --model for both sides, only when given: without it each runs the seed network as it always has.
model_args=()
if [ -n "$model" ]; then
    model_args=(--model "$model")
    echo "compare-pytorch: network $model"
fi
echo "compare-pytorch: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs"

binary=.build/release/mnist-ddp
if $run_ours; then
    if [ ! -x "$binary" ] && ! swift build -c release --product mnist-ddp; then
        echo "compare-pytorch: could not build $binary; skipping our runs" >&2
        run_ours=false
    fi
fi
if $run_ours; then
    mpirun_flags=()
    [ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
    [ -n "$kernels" ] || kernels=$("$binary" bench --list-kernels | head -n 1 | cut -d, -f1)
    for path in ${kernels//,/ }; do
        echo "== ours ($path kernels): 1 process"
        MNIST_DDP_KERNELS="$path" "$binary" train "${model_args[@]}" --local --epochs "$epochs" --quiet \
            --metrics "$out/ours-$path-local.jsonl" --checkpoint-dir "$out/checkpoints-$path-local" \
            || echo "compare-pytorch: our single-process run ($path) failed" >&2
        echo "== ours ($path kernels): mpirun -np 2"
        mpirun "${mpirun_flags[@]}" -x MNIST_DDP_KERNELS="$path" -np 2 "$binary" train "${model_args[@]}" --epochs "$epochs" --quiet \
            --metrics "$out/ours-$path-mpi.jsonl" --checkpoint-dir "$out/checkpoints-$path-mpi" \
            || echo "compare-pytorch: our MPI run ($path) failed" >&2
    done
fi

if $run_pytorch; then
    for isa in ${pytorch_isas//,/ }; do
        isa_env=()
        read -r -a isa_env <<< "$(pytorch_isa_env "$isa")"
        for mode in single ddp; do
            for feed in dataloader preloaded; do
                echo "== pytorch ($isa): $mode, $feed feed"
                env "${isa_env[@]}" "$python" scripts/pytorch_reference.py "${model_args[@]}" --epochs "$epochs" --mode "$mode" --feed "$feed" \
                    | tee "$out/pytorch-$isa-$mode-$feed.log"
            done
        done
    done
fi

python3 - "$out" "$model" <<'EOF'
import json, os, sys

out, model = sys.argv[1], sys.argv[2]
rows = []  # (label, epoch seconds, samples/s, test accuracy, peak RSS MiB)
ours_runs = sorted(f[:-len(".jsonl")] for f in os.listdir(out) if f.startswith("ours-") and f.endswith(".jsonl"))
for name in ours_runs:
    kernels, launch = name[len("ours-"):].rsplit("-", 1)
    label = f"ours, {kernels} kernels, " + ("1 process" if launch == "local" else "MPI 2 ranks x 1")
    path = os.path.join(out, name + ".jsonl")
    records = [json.loads(line) for line in open(path) if line.strip()]
    summary = next((r for r in reversed(records) if r.get("type") == "summary"), None)
    if summary is None:
        print(f"compare-pytorch: {path} has no summary record", file=sys.stderr)
        continue
    rows.append((label, summary["epoch_seconds"], summary["samples_per_second"], summary["test_accuracy"],
                 summary["peak_rss_bytes"] / 2**20))
ours = len(rows)
pytorch_runs = sorted((f for f in os.listdir(out) if f.startswith("pytorch-") and f.endswith(".log")),
                      key=lambda f: (f.split("-")[1], ["single", "ddp"].index(f.split("-")[2]), f))
for log in pytorch_runs:
    path = os.path.join(out, log)
    lines = [line for line in open(path) if line.startswith("{")]
    if not lines:
        print(f"compare-pytorch: {path} has no result line", file=sys.stderr)
        continue
    r = json.loads(lines[-1])
    mode = "1 process" if r["mode"] == "single" else f"DDP gloo {r['ranks']} ranks x 1"
    rows.append((f"PyTorch {r['torch_version']} ({r.get('cpu_capability', '?')}), {mode}, {r['feed']}", r["epoch_seconds"],
                 r["samples_per_second"], r["test_accuracy"], r["peak_rss_mib"]))
if not rows:
    sys.exit("compare-pytorch: nothing to report")

if model:
    print(f"\nnetwork: {model}")
print(f"\n| run | s / epoch | samples / s | test accuracy | peak RSS per process (MiB) |")
print("|---|---:|---:|---:|---:|")
for label, seconds, rate, acc, rss in rows:
    print(f"| {label} | {seconds:.2f} | {rate:,.0f} | {acc * 100:.2f}% | {rss:.0f} |")
if 0 < ours < len(rows):
    print("\nOur speed over PyTorch's (samples/s ratio):\n")
    print("| PyTorch run | " + " | ".join(row[0] for row in rows[:ours]) + " |")
    print("|---|" + "---:|" * ours)
    for theirs in rows[ours:]:
        print(f"| {theirs[0]} | " + " | ".join(f"{row[2] / theirs[2]:.1f}x" for row in rows[:ours]) + " |")
EOF
echo "compare-pytorch: load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"
