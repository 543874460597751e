#!/usr/bin/env bash
# Scaling benchmark: trains on the real MNIST for a fixed amount of work at several rank counts,
# in weak scaling (a fixed batch per rank) and strong scaling (a fixed global batch split over the
# ranks), and reports samples/s, s/epoch, speedup, efficiency, the all-reduce's share of the step,
# peak memory per rank and the final losses as a Markdown table, CSV, JSON and a PNG plot. It also
# measures the MPI all-reduce (`mnist-ddp bench allreduce`, 2 ranks) and projects step time and
# efficiency to 1,024 ranks for this machine, 10 Gb Ethernet and 100 Gb InfiniBand (a projection).
#
#   scripts/scaling-benchmark.sh                        ranks 1,2,4,8, 1,000 steps per run, 3 repeats
#   scripts/scaling-benchmark.sh --ranks 1,2 --steps 300 --repeats 1
#   scripts/scaling-benchmark.sh --epochs 1             whole epochs instead of a number of steps
#   scripts/scaling-benchmark.sh --hostfile hosts       ranks spread over the hosts (and slots) listed
#   scripts/scaling-benchmark.sh --time-to-accuracy 98.5 --modes weak --ranks 1,2
#                                                       whole runs to 98.5 % test accuracy instead
#
# Options:
#   --ranks LIST             comma-separated rank counts (default 1,2,4,8); counts above the cores
#                            (or the hostfile's slots) run oversubscribed and are labelled so
#   --steps N | --epochs E   work per run (default --steps 1000)
#   --time-to-accuracy P     train each run until its test accuracy (scored every epoch, on every
#                            rank) reaches P percent, at most --epochs (default 20), and report
#                            the seconds to it (start-up, evaluations and checkpoints included),
#                            the epochs, and the step throughput of the same runs; the all-reduce
#                            timing and the projection are left out
#   --repeats N              runs per configuration; the fastest is reported (default 3)
#   --modes LIST             weak,strong (default both)
#   --batch-size N           weak scaling: samples per rank per step (default 60)
#   --global-batch-size N    strong scaling: samples per step over all ranks (default 240)
#   --hostfile FILE          run across the hosts of an OpenMPI hostfile
#   --network NAME           project with this preset only: 10gbe or ib100 (repeatable; default both)
#   --alpha S --beta S       also project with this latency (s) and time per byte (s/B)
#   --output DIR             where the results go (default runs/scaling)
#   --data-dir DIR           the MNIST files (default: mnist-ddp's own default)
set -euo pipefail
cd "$(dirname "$0")/.."

ranks_list="1,2,4,8"
work=(--max-steps 1000 --epochs 1000000)
work_label="1000 steps"
# With a number of steps the last one is logged (its loss is the final train loss); with epochs
# the epoch records carry the train loss.
log_every=1000
repeats=3
modes="weak,strong"
batch_size=60
global_batch_size=240
hostfile=""
target_accuracy=""
work_given=""
output="runs/scaling"
usage_error() { echo "scaling-benchmark: $1 (see --help)" >&2; exit 2; }
report_options=()
data_options=()
while [ $# -gt 0 ]; do
    case "$1" in
        --ranks) ranks_list="${2:?--ranks needs a list}"; shift 2 ;;
        --steps) work=(--max-steps "${2:?--steps needs a number}" --epochs 1000000); work_label="$2 steps"; log_every=$2; work_given=steps; shift 2 ;;
        --epochs) work=(--epochs "${2:?--epochs needs a number}"); work_label="$2 epoch(s)"; log_every=1000000000; work_given=epochs; shift 2 ;;
        --time-to-accuracy) target_accuracy="${2:?--time-to-accuracy needs a percentage}"; shift 2 ;;
        --repeats) repeats="${2:?--repeats needs a number}"; shift 2 ;;
        --modes) modes="${2:?--modes needs a list}"; shift 2 ;;
        --batch-size) batch_size="${2:?--batch-size needs a number}"; shift 2 ;;
        --global-batch-size) global_batch_size="${2:?--global-batch-size needs a number}"; shift 2 ;;
        --hostfile) hostfile="${2:?--hostfile needs a file}"; shift 2 ;;
        --network|--alpha|--beta) report_options+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        --output) output="${2:?--output needs a directory}"; shift 2 ;;
        --data-dir) data_options=(--data-dir "${2:?--data-dir needs a directory}"); shift 2 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) usage_error "unknown option $1" ;;
    esac
done
# Every run evaluates at its end; one racing to an accuracy evaluates every epoch and stops there.
evaluation=(--eval-every 1000000)
if [ -n "$target_accuracy" ]; then
    [ "$work_given" != steps ] || usage_error "--time-to-accuracy runs whole epochs: give --epochs, not --steps"
    [ -n "$work_given" ] || { work=(--epochs 20); log_every=1000000000; }
    work_label="runs to ${target_accuracy} % test accuracy (at most ${work[1]} epochs)"
    evaluation=(--eval-every 1 --target-accuracy "$target_accuracy")
fi
IFS=, read -r -a rank_counts <<< "$ranks_list"
IFS=, read -r -a mode_list <<< "$modes"
for ranks in "${rank_counts[@]}"; do
    [[ "$ranks" =~ ^[1-9][0-9]*$ ]] || usage_error "rank counts must be positive integers, not '$ranks'"
done
for mode in "${mode_list[@]}"; do
    [ "$mode" = weak ] || [ "$mode" = strong ] || usage_error "unknown mode '$mode': weak or strong"
    if [ "$mode" = strong ]; then
        for ranks in "${rank_counts[@]}"; do
            [ "$ranks" -le "$global_batch_size" ] || usage_error "$ranks ranks cannot share a global batch of $global_batch_size"
        done
    fi
done
for ((index = 0; index < ${#report_options[@]}; index += 2)); do
    if [ "${report_options[index]}" = --network ]; then
        network=${report_options[index + 1]}
        [ "$network" = 10gbe ] || [ "$network" = ib100 ] || usage_error "unknown network '$network': 10gbe or ib100"
    fi
done
alphas=$(printf '%s\n' "${report_options[@]}" | grep -c -x -- --alpha || true)
betas=$(printf '%s\n' "${report_options[@]}" | grep -c -x -- --beta || true)
[ "$alphas" = "$betas" ] || usage_error "--alpha and --beta go together"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
binary=.build/release/mnist-ddp
if ! command -v mpirun >/dev/null || [ ! -x "$binary" ]; then
    scripts/setup.sh
else
    swift build -c release >/dev/null
fi
if ! command -v python3 >/dev/null; then
    echo "scaling-benchmark: installing python3 for the report"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null
fi
if ! command -v gnuplot >/dev/null; then
    echo "scaling-benchmark: installing gnuplot-nox for the plots"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null \
        || echo "scaling-benchmark: could not install gnuplot-nox; continuing without plots" >&2
fi

# The cores the ranks may use: this machine's, or the slots of the hostfile (1 where not given).
if [ -n "$hostfile" ]; then
    cores=$(awk '!/^[[:space:]]*(#|$)/ {
        slots = 1
        for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) slots = substr($i, 7)
        total += slots
    } END { print total }' "$hostfile")
    title="mnist-ddp scaling, $(grep -cv '^[[:space:]]*\(#\|$\)' "$hostfile") hosts"
else
    cores=$(nproc)
    title="mnist-ddp scaling on $(hostname)"
fi

launcher_base=(mpirun)
[ "$(id -u)" -eq 0 ] && launcher_base+=(--allow-run-as-root)
[ -n "$hostfile" ] && launcher_base+=(--hostfile "$hostfile")

# Runs the rest of the command line under mpirun with $1 ranks: one core each while they fit,
# shared cores beyond.
launch() {
    local ranks=$1
    shift
    local binding=(--bind-to core)
    [ "$ranks" -gt "$cores" ] && binding=(--oversubscribe --bind-to none)
    "${launcher_base[@]}" -np "$ranks" "${binding[@]}" "$@"
}

# Busy CPU seconds of this host so far, all cores together, from /proc/stat (fields after "cpu":
# user nice system idle iowait irq softirq steal, in clock ticks).
busy_cpu_seconds() {
    awk -v tick="$(getconf CLK_TCK)" 'NR == 1 { print ($2 + $3 + $4 + $7 + $8 + $9) / tick; exit }' /proc/stat
}

# Runs the rest of the command line, its standard output discarded, and prints how many cores
# other processes kept busy meanwhile, on average: the host's busy CPU time less the command's own
# (mpirun and its ranks), over the wall time; nan without /proc/stat. Runs disturbed by other
# work on a shared machine show as such.
run_measuring_others() {
    if [ ! -r /proc/stat ]; then "$@" > /dev/null; echo nan; return; fi
    local before timing
    before=$(busy_cpu_seconds)
    timing=$(mktemp)
    local TIMEFORMAT='%R %U %S'
    { time "$@" > /dev/null 2>&3; } 3>&2 2> "$timing"
    awk -v before="$before" -v after="$(busy_cpu_seconds)" '{
        others = (after - before) - ($2 + $3)
        printf "%.2f\n", (others > 0 ? others / $1 : 0)
    }' "$timing"
    rm -f "$timing"
}

mkdir -p "$output/runs"
checkpoints=$(mktemp -d)
trap 'rm -rf "$checkpoints"' EXIT
manifest="$output/runs.tsv"
: > "$manifest"

echo "scaling-benchmark: $work_label per run, $repeats repeat(s), ranks $ranks_list, $cores cores; results in $output"
allreduce_options=()
if [ -z "$target_accuracy" ] && { [ "$cores" -ge 2 ] || [ -n "$hostfile" ]; }; then
    # With a hostfile, ranks 0 and 1 go to different hosts, so that the network is what is timed.
    placement=()
    [ -n "$hostfile" ] && placement=(--map-by node)
    echo "scaling-benchmark: timing the all-reduce between 2 ranks"
    launch 2 "${placement[@]}" "$binary" bench allreduce --json "$output/allreduce.json" > "$output/allreduce.txt"
    allreduce_options=(--allreduce "$output/allreduce.json")
fi

for mode in "${mode_list[@]}"; do
    for ranks in "${rank_counts[@]}"; do
        if [ "$mode" = weak ]; then batch=(--batch-size "$batch_size"); else batch=(--global-batch-size "$global_batch_size"); fi
        label="$mode scaling, $ranks rank(s)"
        [ "$ranks" -gt "$cores" ] && label+=" (OVERSUBSCRIBED: $ranks ranks on $cores cores)"
        for repeat in $(seq 1 "$repeats"); do
            metrics="runs/$mode-$ranks-$repeat.jsonl"
            echo "scaling-benchmark: $label, run $repeat/$repeats"
            others=$(run_measuring_others launch "$ranks" "$binary" train "${work[@]}" "${batch[@]}" "${data_options[@]}" \
                --metrics "$output/$metrics" --quiet --log-every "$log_every" "${evaluation[@]}" \
                --checkpoint-every 1000000 --checkpoint-dir "$checkpoints/$mode-$ranks-$repeat")
            printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$ranks" "$repeat" "$metrics" "$others" >> "$manifest"
        done
    done
done

if [ -n "$target_accuracy" ]; then
    python3 scripts/time_to_accuracy_report.py "$manifest" --target "$target_accuracy" \
        --title "$title, $work_label" --output "$output"
    echo "scaling-benchmark: wrote $output/time-to-accuracy.{md,json}"
    exit 0
fi
python3 scripts/scaling_report.py "$manifest" "${allreduce_options[@]}" --cores "$cores" \
    --batch-size "$batch_size" --global-batch-size "$global_batch_size" --title "$title, $work_label per run" \
    --output "$output" "${report_options[@]}"
echo "scaling-benchmark: wrote $output/scaling.{md,csv,json,png} and $output/projection.png"
