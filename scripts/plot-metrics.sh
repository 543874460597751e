#!/usr/bin/env bash
# Training curves from `mnist-ddp train --metrics` files, drawn by gnuplot into one PNG: the loss
# at each logged step, the train, test (and validation) loss per epoch, and the test (and
# validation) accuracy per epoch. Several
# metrics files give one curve each, labelled with the file's name.
#
#   scripts/plot-metrics.sh METRICS.jsonl... OUT.png
#
# Installs gnuplot-nox when missing (apt-get, with sudo when not root).
set -euo pipefail

if [ "$#" -lt 2 ] || [[ "${!#}" != *.png ]]; then
    echo "usage: scripts/plot-metrics.sh METRICS.jsonl... OUT.png" >&2
    exit 2
fi
output="${!#}"
inputs=("${@:1:$#-1}")
for input in "${inputs[@]}"; do
    [ -r "$input" ] || { echo "plot-metrics: cannot read $input" >&2; exit 1; }
done

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v gnuplot >/dev/null; then
    echo "plot-metrics: installing gnuplot-nox"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Each record is one JSON object per line, as MetricsLog writes it; the numeric fields are taken
# by name. Columns of steps.tsv: step, loss. Of epochs.tsv: epoch, train loss, test loss, test
# accuracy in %, validation loss, validation accuracy in %; "NaN" where an epoch lacks one.
extract() {
    awk -v kind="$1" '
        function field(name,   found) {
            if (match($0, "\"" name "\":-?[0-9.eE+-]+")) return substr($0, RSTART + length(name) + 3, RLENGTH - length(name) - 3)
            return "NaN"
        }
        index($0, "\"type\":\"" kind "\"") == 0 { next }
        kind == "step" { print field("step"), field("loss") }
        function percent(name,   value) { value = field(name); return value == "NaN" ? "NaN" : value * 100 }
        kind == "epoch" {
            print field("epoch"), field("train_loss"), field("test_loss"), percent("test_accuracy"),
                field("validation_loss"), percent("validation_accuracy")
        }' "$2"
}

step_plots=() train_plots=() test_plots=() accuracy_plots=()
for number in "${!inputs[@]}"; do
    input="${inputs[$number]}"
    label="$(basename "$input")"
    label="${label%.jsonl}"
    label="${label//_/\\_}"
    extract step "$input" >"$scratch/steps-$number.tsv"
    extract epoch "$input" >"$scratch/epochs-$number.tsv"
    colour="linecolor $((number + 1))"
    step_plots+=("'$scratch/steps-$number.tsv' using 1:2 with lines $colour title '$label'")
    train_plots+=("'$scratch/epochs-$number.tsv' using 1:2 with linespoints dashtype 2 $colour title '$label train'")
    test_plots+=("'$scratch/epochs-$number.tsv' using 1:3 with linespoints $colour title '$label test'")
    accuracy_plots+=("'$scratch/epochs-$number.tsv' using 1:4 with linespoints $colour title '$label test'")
    # A run with --validation-split also scored its held-out samples each epoch.
    if grep -q '"validation_loss"' "$input"; then
        test_plots+=("'$scratch/epochs-$number.tsv' using 1:5 with linespoints dashtype 3 $colour title '$label validation'")
        accuracy_plots+=("'$scratch/epochs-$number.tsv' using 1:6 with linespoints dashtype 3 $colour title '$label validation'")
    fi
done
join() { local IFS=","; echo "$*"; }

gnuplot <<GNUPLOT
set terminal pngcairo size 1500,480 font "sans,10"
set output "$output"
set datafile missing "NaN"
set key top right
set grid
set multiplot layout 1,3
set title "loss per logged step"
set xlabel "step"
set ylabel "training loss"
set logscale y
plot $(join "${step_plots[@]}")
set title "loss per epoch"
set xlabel "epoch"
set ylabel "mean loss"
plot $(join "${train_plots[@]}" "${test_plots[@]}")
unset logscale y
set title "accuracy per epoch"
set ylabel "accuracy (%)"
set key bottom right
plot $(join "${accuracy_plots[@]}")
unset multiplot
GNUPLOT
echo "plot-metrics: wrote $output"
