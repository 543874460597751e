#!/usr/bin/env bash
# Trains the CNN on the shipped MNIST: sets up if needed, builds in release mode, then launches
# mnist-ddp train with mpirun on every core of this machine.
#
#   scripts/train.sh                       all cores of this machine, seed configuration
#   scripts/train.sh --np 2 --epochs 3     two ranks; other arguments go to `mnist-ddp train`
#   scripts/train.sh --hostfile hostfile   the hosts and slots of a hostfile
#   scripts/train.sh --mpi-args "--mca btl_tcp_if_include eth0"   options for mpirun itself
#   scripts/train.sh --local               one process, no MPI
#   scripts/train.sh --binary PATH         run that mnist-ddp instead of building one
#   scripts/train.sh --dry-run ...         print the command instead of running it
#   scripts/train.sh --max-restarts 3 ...  start again from the newest checkpoint after a fault,
#                                          on the hosts that still answer (docs/healing.md);
#                                          with it: --min-np M, --restart-cooldown MIN:MAX
#
# Relative paths (--hostfile, --data-dir, --checkpoint-dir, --metrics, --resume, --init-from and
# $MNIST_DATA_DIR) mean the caller's directory; ranks get them absolute, as a rank on another
# node may start elsewhere. Checkpoints go to ./checkpoints unless --checkpoint-dir says
# otherwise. MNIST_DATA_DIR (default: the shipped data) and every MNIST_DDP_* variable reach every
# rank through mpirun's -x. --mpi-args is split into words as the shell would (quotes group).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

absolute() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }

ranks=""
hostfile=""
local_mode=false
dry_run=false
binary=""
mpi_arguments=()
train_arguments=()
checkpoint_dir_given=false
# Options of `mnist-ddp launch`, the healing launcher; empty without --max-restarts.
healing_arguments=()
while [ $# -gt 0 ]; do
    case "$1" in
        --np) ranks="${2:?--np needs a number of ranks}"; shift 2 ;;
        --np=*) ranks="${1#--np=}"; shift ;;
        --hostfile) hostfile="$(absolute "${2:?--hostfile needs a file}")"; shift 2 ;;
        --hostfile=*) hostfile="$(absolute "${1#--hostfile=}")"; shift ;;
        --mpi-args|--mpi-args=*)
            if [ "$1" = --mpi-args ]; then words="${2?--mpi-args needs the options for mpirun}"; shift 2
            else words="${1#--mpi-args=}"; shift; fi
            if ! printf '%s' "$words" | xargs -r printf '' 2>/dev/null; then
                echo "train.sh: --mpi-args \"$words\": unmatched quote" >&2; exit 2
            fi
            mapfile -d '' -t split < <(printf '%s' "$words" | xargs -r printf '%s\0')
            mpi_arguments+=("${split[@]}") ;;
        --max-restarts|--min-np|--restart-cooldown)
            healing_arguments+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        --max-restarts=*|--min-np=*|--restart-cooldown=*) healing_arguments+=("$1"); shift ;;
        --local) local_mode=true; shift ;;
        --dry-run) dry_run=true; shift ;;
        --binary) binary="$(absolute "${2:?--binary needs the path of mnist-ddp}")"; shift 2 ;;
        --binary=*) binary="$(absolute "${1#--binary=}")"; shift ;;
        --data-dir|--checkpoint-dir|--metrics|--init-from)
            [ "$1" = --checkpoint-dir ] && checkpoint_dir_given=true
            train_arguments+=("$1" "$(absolute "${2:?$1 needs a path}")"); shift 2 ;;
        --data-dir=*|--checkpoint-dir=*|--metrics=*|--init-from=*|--resume=*)
            [ "${1%%=*}" = --checkpoint-dir ] && checkpoint_dir_given=true
            train_arguments+=("${1%%=*}=$(absolute "${1#*=}")"); shift ;;
        --resume)
            # Alone it resumes from the checkpoint directory; with a path, from there.
            if [ $# -gt 1 ] && [ "${2#-}" = "$2" ]; then
                train_arguments+=(--resume "$(absolute "$2")"); shift 2
            else
                train_arguments+=(--resume); shift
            fi ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) train_arguments+=("$1"); shift ;;
    esac
done
$checkpoint_dir_given || train_arguments+=(--checkpoint-dir "$PWD/checkpoints")
export MNIST_DATA_DIR="$(absolute "${MNIST_DATA_DIR:-$root/data/mnist}")"

# Runs the command in this process's place, or with --dry-run prints it.
run() {
    if $dry_run; then printf '%q ' "$@"; printf '\n'; exit 0; fi
    exec "$@"
}

if [ -z "$binary" ]; then
    binary="$root/.build/release/mnist-ddp"
    if $dry_run; then
        :
    elif ! command -v mpirun >/dev/null || [ ! -x "$binary" ]; then
        echo "train.sh: setting up and building mnist-ddp in release mode (the first build takes several minutes)" >&2
        "$root/scripts/setup.sh" >&2
    else
        echo "train.sh: building mnist-ddp (release mode; only what changed since the last build)" >&2
        if ! output="$(swift build -c release --package-path "$root" 2>&1)"; then
            printf '%s\n' "$output" >&2
            exit 1
        fi
    fi
fi

if $local_mode; then
    if [ ${#healing_arguments[@]} -gt 0 ]; then echo "train.sh: --max-restarts needs mpirun; --local runs one process" >&2; exit 2; fi
    run "$binary" train --local "${train_arguments[@]}"
fi

# Where the ranks go (a hostfile, or this machine), and mpirun's other options.
launcher=(mpirun)
[ "$(id -u)" -eq 0 ] && launcher+=(--allow-run-as-root)
placement=()
options=()
if [ -n "$hostfile" ]; then
    # Without --np, one rank per slot of the hostfile.
    placement+=(--hostfile "$hostfile")
    [ -n "$ranks" ] && placement+=(-np "$ranks")
else
    ranks="${ranks:-$(nproc)}"
    placement+=(-np "$ranks")
    # Each rank is single-threaded: pinned to its own core it never migrates; with more ranks
    # than cores they must share.
    if [ "$ranks" -gt "$(nproc)" ]; then options+=(--oversubscribe --bind-to none); else options+=(--bind-to core); fi
fi
# Ranks on other nodes see only the variables mpirun forwards.
options+=(-x MNIST_DATA_DIR)
while IFS= read -r name; do
    options+=(-x "$name")
done < <(compgen -e | grep '^MNIST_DDP_' || true)
if [ ${#healing_arguments[@]} -gt 0 ]; then
    # The launcher places each start itself, on the hosts that answer (it spells -np --np).
    run "$binary" launch "${healing_arguments[@]}" "${placement[@]/#-np/--np}" \
        -- "${launcher[@]}" "${options[@]}" "${mpi_arguments[@]}" -- "${train_arguments[@]}"
fi
run "${launcher[@]}" "${placement[@]}" "${options[@]}" "${mpi_arguments[@]}" "$binary" train "${train_arguments[@]}"
