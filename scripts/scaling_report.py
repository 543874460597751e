#!/usr/bin/env python3
"""Turns the runs of scripts/scaling-benchmark.sh into tables, CSV, JSON and plots, and projects
the measured step to large rank counts with the textbook all-reduce cost models.

Input: a manifest of runs (one tab-separated line per run: mode, ranks, repeat, metrics file,
the cores of this host that other processes kept busy during the run),
the metrics JSON-lines file each run of `mnist-ddp train --metrics` wrote, and optionally the
JSON of `mnist-ddp bench allreduce --json`. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

GRADIENT_BYTES = 9098 * 4
"""One all-reduce per step sums the 9,098 float gradients..."""
LOSS_BYTES = 8
"""...and a second one the batch loss, a single double."""

NETWORK_PRESETS = {
    # MPI over TCP on 10 Gb Ethernet: tens of microseconds per message through the kernel's
    # network stack, and the line rate of 1.25 GB/s.
    "10gbe": ("10 Gb Ethernet (TCP), typical", "10 GbE", 50e-6, 0.8e-9),
    # MPI over 100 Gb/s (EDR) InfiniBand with RDMA: about 1.5 µs, 12.5 GB/s.
    "ib100": ("100 Gb InfiniBand (EDR), typical", "100G IB", 1.5e-6, 0.08e-9),
}


@dataclass
class Run:
    """One configuration (mode and rank count) as measured: the fastest of its repeats."""

    mode: str
    ranks: int
    oversubscribed: bool
    batch_per_rank: str
    global_batch: int
    repeats: int
    steps: int
    samples: int
    samples_per_second: float
    samples_per_second_min: float
    samples_per_second_max: float
    epoch_seconds: float
    speedup: float
    efficiency: float
    all_reduce_share: float
    training_seconds: float
    compute_seconds: float
    all_reduce_seconds: float
    optimizer_seconds: float
    data_seconds: float
    peak_rss_mib: float
    final_train_loss: float | None
    test_loss: float
    test_accuracy: float
    other_busy_cores: float


@dataclass
class CostModel:
    """t(n) = alpha + beta * n for one message of n bytes."""

    name: str
    label: str
    """A short name for table headers."""
    alpha_seconds: float
    beta_seconds_per_byte: float

    def message(self, size: int) -> float:
        return self.alpha_seconds + self.beta_seconds_per_byte * size

    def ring_all_reduce(self, size: int, ranks: int) -> float:
        """Reduce-scatter then all-gather around a ring: 2(p-1) steps of n/p bytes each."""
        if ranks == 1:
            return 0.0
        return 2 * (ranks - 1) / ranks * size * self.beta_seconds_per_byte + 2 * (ranks - 1) * self.alpha_seconds

    def tree_all_reduce(self, size: int, ranks: int) -> float:
        """Recursive doubling: log2(p) rounds, each exchanging the whole buffer."""
        if ranks == 1:
            return 0.0
        return math.ceil(math.log2(ranks)) * self.message(size)

    def step_all_reduce(self, algorithm: str, ranks: int) -> float:
        """A training step's communication: the gradient by `algorithm`, the loss (a latency-bound
        8 bytes, which MPI libraries always send by recursive doubling) by the tree."""
        gradient = self.ring_all_reduce if algorithm == "ring" else self.tree_all_reduce
        return gradient(GRADIENT_BYTES, ranks) + self.tree_all_reduce(LOSS_BYTES, ranks)


def read_metrics(path: Path) -> tuple[dict, float | None]:
    """The summary record of a metrics file and its final training loss: the last logged step's,
    else the last epoch's mean."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    summary = next((record for record in records if record["type"] == "summary"), None)
    if summary is None:
        sys.exit(f"scaling_report: {path} has no summary record (did the run fail?)")
    steps = [record["loss"] for record in records if record["type"] == "step"]
    epochs = [record["train_loss"] for record in records if record["type"] == "epoch"]
    return summary, (steps or epochs or [None])[-1]


def batch_per_rank(mode: str, ranks: int, batch_size: int, global_batch: int) -> tuple[str, int]:
    """The batch of each rank as text (\"60\", or \"34-35\" when the global batch does not divide)
    and the global batch."""
    if mode == "weak":
        return str(batch_size), batch_size * ranks
    low, high = global_batch // ranks, -(-global_batch // ranks)
    return (str(low) if low == high else f"{low}-{high}"), global_batch


def collect_runs(manifest: Path, options: argparse.Namespace) -> list[Run]:
    """Groups the manifest's runs by mode and rank count, keeps each group's fastest run (other
    work on a shared machine only ever slows a run down), and computes speedup and efficiency
    against the group with the fewest ranks."""
    groups: dict[tuple[str, int], list[tuple[dict, float | None, float]]] = {}
    for line in manifest.read_text().splitlines():
        mode, ranks, _repeat, metrics, other_busy_cores = line.split("\t")
        groups.setdefault((mode, int(ranks)), []).append((*read_metrics(manifest.parent / metrics), float(other_busy_cores)))

    runs = []
    for mode in ("weak", "strong"):
        counts = sorted(ranks for group_mode, ranks in groups if group_mode == mode)
        base = None
        for ranks in counts:
            repeats = sorted(groups[(mode, ranks)], key=lambda run: run[0]["samples_per_second"])
            summary, last_loss, other_busy_cores = repeats[-1]
            rates = [run[0]["samples_per_second"] for run in repeats]
            rate = summary["samples_per_second"]
            base = base or (ranks, rate)
            speedup = rate / base[1]
            per_rank, global_batch = batch_per_rank(mode, ranks, options.batch_size, options.global_batch_size)
            runs.append(Run(
                mode=mode, ranks=ranks, oversubscribed=ranks > options.cores, batch_per_rank=per_rank,
                global_batch=global_batch, repeats=len(repeats), steps=summary["steps"], samples=summary["samples"],
                samples_per_second=rate, samples_per_second_min=min(rates), samples_per_second_max=max(rates),
                epoch_seconds=summary["epoch_seconds"], speedup=speedup, efficiency=speedup * base[0] / ranks,
                all_reduce_share=summary["all_reduce_seconds"] / summary["training_seconds"],
                training_seconds=summary["training_seconds"], compute_seconds=summary["compute_seconds"],
                all_reduce_seconds=summary["all_reduce_seconds"], optimizer_seconds=summary["optimizer_seconds"],
                data_seconds=summary["data_seconds"], peak_rss_mib=summary["peak_rss_bytes"] / 2**20,
                final_train_loss=last_loss, test_loss=summary["test_loss"], test_accuracy=summary["test_accuracy"],
                other_busy_cores=other_busy_cores))
    return runs


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def measured_table(runs: list[Run], cores: int) -> str:
    rows = []
    for run in runs:
        label = f"{run.ranks} (oversubscribed)" if run.oversubscribed else str(run.ranks)
        spread = (run.samples_per_second_max - run.samples_per_second_min) / run.samples_per_second
        rows.append([
            run.mode, label, run.batch_per_rank, f"{run.samples_per_second:,.0f}", f"{100 * spread:.0f}%",
            f"{run.epoch_seconds:.2f}", f"{run.speedup:.2f}", f"{100 * run.efficiency:.0f}%",
            f"{100 * run.all_reduce_share:.1f}%", f"{run.peak_rss_mib:.1f}",
            "–" if run.final_train_loss is None else f"{run.final_train_loss:.4f}", f"{run.test_loss:.4f}",
            f"{run.other_busy_cores:.2f}"])
    header = ["scaling", "ranks", "batch/rank", "samples/s", "spread", "s/epoch", "speedup", "efficiency",
              "all-reduce share", "peak RSS/rank MiB", "final train loss", "test loss", "cores busy with other work"]
    return markdown_table(header, rows) + (
        f"\n\nThe fastest of the repeats (spread: slowest to fastest, as a share of the fastest); "
        f"speedup and efficiency against the fewest ranks of the same scaling. {cores} cores: runs with "
        f"more ranks than that share cores (oversubscribed) and say nothing about scaling. Cores busy with other "
        f"work: how many of this host's cores other processes kept busy during the reported run, on "
        f"average; well above 0, they competed with it.")


@dataclass
class StepModel:
    """The measured cost of a training step on one rank, without communication."""

    compute_seconds_per_sample: float
    optimizer_seconds_per_step: float
    source: str

    def seconds(self, samples: int) -> float:
        return self.compute_seconds_per_sample * samples + self.optimizer_seconds_per_step


def step_model(runs: list[Run]) -> StepModel:
    """From the run with the fewest ranks (weak scaling's where both have it): forward, backward
    and batch filling scale with the samples, Adam's pass over the parameters does not."""
    base = min(runs, key=lambda run: (run.ranks, run.mode != "weak"))
    return StepModel(
        compute_seconds_per_sample=(base.compute_seconds + base.data_seconds) * base.ranks / base.samples,
        optimizer_seconds_per_step=base.optimizer_seconds / base.steps,
        source=f"{base.mode} scaling, {base.ranks} rank{'s' if base.ranks > 1 else ''}, rank 0")


def projection(model: StepModel, network: CostModel, options: argparse.Namespace) -> dict:
    """Step time and efficiency at every projected rank count, for weak and strong scaling and
    both all-reduce algorithms, and the first rank count at which communication outweighs
    computation."""
    result: dict = {"network": asdict(network), "weak": [], "strong": [], "communication_dominates_from": {}}
    for mode in ("weak", "strong"):
        def compute(ranks: int) -> float | None:
            if mode == "weak":
                return model.seconds(options.batch_size)
            if ranks > options.global_batch_size:
                return None
            return model.seconds(-(-options.global_batch_size // ranks))

        one_rank = compute(1)
        for ranks in options.projection_ranks:
            row: dict = {"ranks": ranks, "compute_seconds": compute(ranks)}
            for algorithm in ("ring", "tree"):
                if row["compute_seconds"] is None:
                    row[algorithm] = None
                    continue
                communication = network.step_all_reduce(algorithm, ranks)
                step = row["compute_seconds"] + communication
                samples = options.batch_size * ranks if mode == "weak" else options.global_batch_size
                ideal_step = one_rank if mode == "weak" else one_rank / ranks
                row[algorithm] = {
                    "all_reduce_seconds": communication, "step_seconds": step, "samples_per_second": samples / step,
                    "efficiency": ideal_step / step}
            result[mode].append(row)
        largest = options.crossover_search_limit if mode == "weak" else min(
            options.crossover_search_limit, options.global_batch_size)
        for algorithm in ("ring", "tree"):
            result["communication_dominates_from"].setdefault(algorithm, {})[mode] = first_rank_count(
                lambda ranks: network.step_all_reduce(algorithm, ranks) > compute(ranks), largest)
    return result


def first_rank_count(holds, largest: int) -> int | None:
    """The smallest rank count in 2...largest for which `holds`, by bisection: communication
    only grows with the ranks and computation per rank only shrinks, so once it holds it holds."""
    if not holds(largest):
        return None
    low, high = 1, largest
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if holds(middle) else (middle, high)
    return high


def describe_crossover(ranks: int | None, mode: str, options: argparse.Namespace) -> str:
    if ranks is not None:
        return f"from {ranks:,} ranks"
    if mode == "strong":
        return f"never while each of the ranks (at most {options.global_batch_size}) has a sample"
    return f"not below {options.crossover_search_limit:,} ranks"


def projection_markdown(projected: dict, options: argparse.Namespace) -> str:
    network = projected["network"]
    lines = [f"#### {network['name']}: α = {network['alpha_seconds'] * 1e6:.2f} µs, "
             f"β = {network['beta_seconds_per_byte'] * 1e9:.3f} ns/B"]
    for mode in ("weak", "strong"):
        batch = (f"{options.batch_size} samples per rank" if mode == "weak"
                 else f"global batch {options.global_batch_size} split over the ranks")
        rows = []
        for row in projected[mode]:
            if row["compute_seconds"] is None:
                rows.append([f"{row['ranks']:,}", "–", "fewer samples than ranks"] + [""] * 5)
                continue
            cells = [f"{row['ranks']:,}", f"{row['compute_seconds'] * 1e3:.3f}"]
            for algorithm in ("ring", "tree"):
                figures = row[algorithm]
                cells += [f"{figures['all_reduce_seconds'] * 1e3:.3f}", f"{figures['step_seconds'] * 1e3:.3f}",
                          f"{100 * figures['efficiency']:.0f}%"]
            rows.append(cells)
        lines += ["", f"{mode.capitalize()} scaling ({batch}):", "", markdown_table(
            ["ranks", "compute ms/step", "ring all-reduce ms", "ring step ms", "ring efficiency",
             "tree all-reduce ms", "tree step ms", "tree efficiency"], rows)]
    crossovers = projected["communication_dominates_from"]
    lines += ["", "All-reduce time exceeds compute time: " + "; ".join(
        f"{mode} scaling with a {algorithm} all-reduce {describe_crossover(crossovers[algorithm][mode], mode, options)}"
        for mode in ("weak", "strong") for algorithm in ("ring", "tree")) + "."]
    return "\n".join(lines)


def efficiency_summary(projections: list[dict], mode: str) -> str:
    """Projected efficiency of every network and algorithm side by side, one row per rank count."""
    header = ["ranks"] + [f"{projected['network']['label']}, {algorithm}"
                          for projected in projections for algorithm in ("ring", "tree")]
    rows = []
    for index, ranks in enumerate(row["ranks"] for row in projections[0][mode]):
        cells = [f"{ranks:,}"]
        for projected in projections:
            row = projected[mode][index]
            cells += ["–" if row[algorithm] is None else f"{100 * row[algorithm]['efficiency']:.0f}%"
                      for algorithm in ("ring", "tree")]
        rows.append(cells)
    return markdown_table(header, rows)


def networks(options: argparse.Namespace, allreduce: dict | None) -> list[CostModel]:
    """The cost models to project with: the measured one (if any), the chosen presets, and
    --alpha/--beta."""
    models = []
    if allreduce is not None:
        same_host = allreduce["rank0_host"] == allreduce["rank1_host"]
        where = "this machine, shared memory" if same_host else "measured between two hosts"
        fit = allreduce["message_model"]
        models.append(CostModel(f"Measured ({where})", "measured", fit["alpha_seconds"], fit["beta_seconds_per_byte"]))
    models += [CostModel(*NETWORK_PRESETS[preset]) for preset in options.network]
    if options.alpha is not None:
        models.append(CostModel("Given (--alpha, --beta)", "given", options.alpha, options.beta))
    return models


def model_check(runs: list[Run], network: CostModel) -> str | None:
    """The measured all-reduce time per step of the 2-rank weak run beside the model's."""
    pair = next((run for run in runs if run.mode == "weak" and run.ranks == 2), None)
    if pair is None:
        return None
    measured = pair.all_reduce_seconds / pair.steps
    predicted = {algorithm: network.step_all_reduce(algorithm, 2) for algorithm in ("ring", "tree")}
    return (f"Check at 2 ranks: the model gives {predicted['ring'] * 1e6:.1f} µs (ring) or "
            f"{predicted['tree'] * 1e6:.1f} µs (tree) of all-reduce per step; the 2-rank weak-scaling run spent "
            f"{measured * 1e6:.1f} µs, which also holds any wait for the slower rank.")


MODE_STYLE = {"weak": ("lc 1 pt 7", "weak (batch {batch_size}/rank)"),
              "strong": ("lc 2 pt 5", "strong (global batch {global_batch_size})")}


def write_plots(runs: list[Run], projections: list[dict], options: argparse.Namespace, output: Path) -> list[str]:
    """Draws the measured and the projected scaling; returns the PNG paths written (none
    without gnuplot)."""
    if shutil.which("gnuplot") is None:
        print("scaling_report: gnuplot not found; no plots drawn", file=sys.stderr)
        return []
    (output / "plot-data").mkdir(exist_ok=True)
    paths = []
    for script, png in ((measured_plot(runs, options, output), "scaling.png"),
                        (projection_plot(projections, options, output), "projection.png")):
        subprocess.run(["gnuplot"], input=f"set terminal pngcairo size 1200,{560 if png == 'projection.png' else 520} "
                       f"font ',10'\nset output '{output / png}'\n{script}", text=True, check=True)
        paths.append(str(output / png))
    return paths


def measured_plot(runs: list[Run], options: argparse.Namespace, output: Path) -> str:
    """The gnuplot script of throughput (with the ideal line) and efficiency against ranks,
    the oversubscribed counts shaded."""
    throughput, efficiency = [], []
    for mode in ("weak", "strong"):
        measured = [run for run in runs if run.mode == mode]
        if not measured:
            continue
        path = output / "plot-data" / f"scaling-{mode}.dat"
        with open(path, "w") as data:
            data.write("# ranks samples_per_second efficiency_percent ideal_samples_per_second\n")
            for run in measured:
                # Ranks beyond the cores only take turns on them.
                ideal = measured[0].samples_per_second * min(run.ranks, options.cores) / measured[0].ranks
                data.write(f"{run.ranks} {run.samples_per_second} {100 * run.efficiency} {ideal}\n")
        style, title = MODE_STYLE[mode]
        title = title.format(**vars(options))
        colour = style.split(" pt")[0]
        throughput += [f"'{path}' using 1:2 with linespoints lw 2 {style} title '{title}'",
                       f"'{path}' using 1:4 with lines dt 2 {colour} title '{mode}, linear up to {options.cores} cores'"]
        efficiency.append(f"'{path}' using 1:3 with linespoints lw 2 {style} title '{mode}'")

    smallest, largest = min(run.ranks for run in runs), max(run.ranks for run in runs)
    shade = (f"set object 1 rect from {options.cores + 0.5},graph 0 to {largest * 1.4},graph 1 "
             f"fc rgb '#eeeeee' fs solid noborder behind\n"
             f'set label 1 "oversubscribed\\n(> {options.cores} cores)" at {largest},graph 0.06 center'
             if largest > options.cores else "")
    return f"""
set multiplot layout 1,2 title '{options.title} ({options.cores} cores)'
set logscale x 2
set xrange [{smallest / 1.4}:{largest * 1.4}]
set xlabel 'ranks'
set grid
{shade}
set key below
set ylabel 'samples/s'
set yrange [0:*]
set format y '%.0s%c'
plot {", ".join(throughput)}
set ylabel 'parallel efficiency (%)'
set yrange [0:120]
set format y '%g'
plot {", ".join(efficiency)}, 100 with lines dt 2 lc rgb 'gray' notitle
unset multiplot
"""


def projection_plot(projections: list[dict], options: argparse.Namespace, output: Path) -> str:
    """The gnuplot script of projected efficiency against ranks, one colour per network, solid
    for the ring and dashed for the tree, weak and strong scaling side by side."""
    curves = {"weak": [], "strong": []}
    for index, projected in enumerate(projections):
        name = projected["network"]["name"].replace("'", "")
        for mode in curves:
            path = output / "plot-data" / f"projection-{index + 1}-{mode}.dat"
            with open(path, "w") as data:
                data.write(f"# {name}, {mode} scaling: ranks ring_efficiency_percent tree_efficiency_percent\n")
                for row in projected[mode]:
                    if row["ring"] is not None:
                        data.write(f"{row['ranks']} {100 * row['ring']['efficiency']} {100 * row['tree']['efficiency']}\n")
            curves[mode] += [f"'{path}' using 1:2 with linespoints lw 2 lc {index + 1} pt 7 title '{name}, ring'",
                             f"'{path}' using 1:3 with linespoints lw 2 dt 2 lc {index + 1} pt 4 title '{name}, tree'"]
    largest = max(options.projection_ranks)
    strong_limit = (f"set object 2 rect from {options.global_batch_size},graph 0 to graph 1,graph 1 "
                    f"fc rgb '#eeeeee' fs solid noborder behind\n"
                    f'set label 2 "fewer samples\\nthan ranks" at graph 0.9,graph 0.5 center'
                    if options.global_batch_size < largest else "")
    return f"""
set multiplot layout 1,2 title 'PROJECTION from the measured step and all-reduce cost models (not measured)'
set logscale x 2
set xrange [1:{largest * 1.2}]
set yrange [0:105]
set xlabel 'ranks'
set ylabel 'projected parallel efficiency (%)'
set grid
set key below font ',8'
set title 'weak scaling, {options.batch_size} samples per rank'
plot {", ".join(curves["weak"])}
set title 'strong scaling, global batch {options.global_batch_size}'
{strong_limit}
plot {", ".join(curves["strong"])}
unset multiplot
"""


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path, help="tab-separated runs: mode, ranks, repeat, metrics file")
    parser.add_argument("--allreduce", type=Path, help="JSON of `mnist-ddp bench allreduce --json`")
    parser.add_argument("--cores", type=int, required=True, help="cores (or slots) the runs had")
    parser.add_argument("--batch-size", type=int, default=60, help="weak scaling: samples per rank")
    parser.add_argument("--global-batch-size", type=int, default=240, help="strong scaling: samples per step")
    parser.add_argument("--network", action="append", choices=sorted(NETWORK_PRESETS), default=None,
                        help="project with this preset too (repeatable; default: all)")
    parser.add_argument("--alpha", type=float, help="project with this latency too, in seconds")
    parser.add_argument("--beta", type=float, help="...and this time per byte, in seconds")
    parser.add_argument("--projection-ranks", type=lambda text: [int(part) for part in text.split(",")],
                        default=[2**power for power in range(0, 11)], help="comma-separated rank counts")
    parser.add_argument("--crossover-search-limit", type=int, default=1 << 20,
                        help="largest rank count searched for where communication dominates")
    parser.add_argument("--title", default="mnist-ddp scaling", help="plot title")
    parser.add_argument("--output", type=Path, required=True, help="directory for the outputs")
    options = parser.parse_args()
    if (options.alpha is None) != (options.beta is None):
        parser.error("--alpha and --beta go together")
    if options.network is None:
        options.network = sorted(NETWORK_PRESETS)
    if 1 not in options.projection_ranks:
        options.projection_ranks = [1] + options.projection_ranks
    return options


def main() -> None:
    options = parse_arguments()
    runs = collect_runs(options.manifest, options)
    allreduce = json.loads(options.allreduce.read_text()) if options.allreduce else None
    model = step_model(runs)
    projections = [projection(model, network, options) for network in networks(options, allreduce)]

    options.output.mkdir(parents=True, exist_ok=True)
    with open(options.output / "scaling.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(asdict(runs[0])))
        writer.writeheader()
        writer.writerows(asdict(run) for run in runs)
    plots = write_plots(runs, projections, options, options.output)

    markdown = ["### Measured", "", measured_table(runs, options.cores), "",
                "### PROJECTION (computed from the measurements above, not measured)", "",
                f"Step without communication: {model.compute_seconds_per_sample * 1e6:.2f} µs per sample "
                f"(forward, backward, batch filling) + {model.optimizer_seconds_per_step * 1e6:.1f} µs per step "
                f"(Adam), measured in the {model.source}. Communication per step: the {GRADIENT_BYTES:,}-byte "
                f"gradient by a ring (2(p−1)/p·n·β + 2(p−1)·α) or a tree / recursive-doubling "
                f"(⌈log2 p⌉·(α + n·β)) all-reduce, plus the {LOSS_BYTES}-byte loss by the tree. Assumes every "
                f"rank computes as fast as one rank alone and nothing overlaps communication; "
                f"efficiency is against one rank."]
    for mode, batch in (("weak", f"{options.batch_size} samples per rank"),
                        ("strong", f"global batch {options.global_batch_size}")):
        markdown += ["", f"Projected parallel efficiency, {mode} scaling ({batch}); – where ranks outnumber samples:",
                     "", efficiency_summary(projections, mode)]
    for projected in projections:
        markdown += ["", projection_markdown(projected, options)]
        check = model_check(runs, CostModel(**projected["network"]))
        if projected["network"]["label"] == "measured" and check:
            markdown += ["", check]
    if plots:
        markdown += ["", "Plots: " + ", ".join(plots)]
    text = "\n".join(markdown) + "\n"
    (options.output / "scaling.md").write_text(text)
    print(text)

    report = {
        "cores": options.cores,
        "measured": [asdict(run) for run in runs],
        "allreduce_benchmark": allreduce,
        "projection": {
            "label": "PROJECTION: computed from the measured step and the all-reduce cost models, not measured",
            "step_model": asdict(model), "gradient_bytes": GRADIENT_BYTES, "loss_bytes": LOSS_BYTES,
            "networks": projections,
        },
        "plots": plots,
    }
    (options.output / "scaling.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
