#!/usr/bin/env bash
# Trains the CNN on the shipped MNIST: sets up if needed, builds in release mode, then launches
# mnist-ddp train with mpirun on every core of this machine.
#
#   scripts/train.sh                       all cores of this machine, seed configuration
#   scripts/train.sh --np 2 --epochs 3     two ranks; other arguments go to `mnist-ddp train`
#   scripts/train.sh --hostfile hostfile   the hosts and slots of a hostfile
#   scripts/train.sh --local               one process, no MPI
set -euo pipefail
cd "$(dirname "$0")/.."

ranks=""
hostfile=""
local_mode=false
train_arguments=()
while [ $# -gt 0 ]; do
    case "$1" in
        --np) ranks="${2:?--np needs a number of ranks}"; shift 2 ;;
        --np=*) ranks="${1#--np=}"; shift ;;
        --hostfile) hostfile="${2:?--hostfile needs a file}"; shift 2 ;;
        --hostfile=*) hostfile="${1#--hostfile=}"; shift ;;
        --local) local_mode=true; shift ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) train_arguments+=("$1"); shift ;;
    esac
done

binary=.build/release/mnist-ddp
if ! command -v mpirun >/dev/null || [ ! -x "$binary" ]; then
    scripts/setup.sh
else
    swift build -c release >/dev/null
fi

if $local_mode; then
    exec "$binary" train --local "${train_arguments[@]}"
fi

launcher=(mpirun)
[ "$(id -u)" -eq 0 ] && launcher+=(--allow-run-as-root)
if [ -n "$hostfile" ]; then
    # Without --np, one rank per slot of the hostfile.
    launcher+=(--hostfile "$hostfile")
    [ -n "$ranks" ] && launcher+=(-np "$ranks")
else
    ranks="${ranks:-$(nproc)}"
    launcher+=(-np "$ranks")
    # Each rank is single-threaded: pinned to its own core it never migrates; with more ranks
    # than cores they must share.
    if [ "$ranks" -gt "$(nproc)" ]; then launcher+=(--oversubscribe --bind-to none); else launcher+=(--bind-to core); fi
fi
exec "${launcher[@]}" "$binary" train "${train_arguments[@]}"
