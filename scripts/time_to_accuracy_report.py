#!/usr/bin/env python3
"""Turns the runs of `scripts/scaling-benchmark.sh --time-to-accuracy` into a table (Markdown)
and JSON: per mode and rank count, the seconds a whole run took to reach the target test
accuracy (start-up, training, evaluations and checkpoints included), the epochs it needed, and
beside them the step throughput of the same runs.

Input: the benchmark's manifest (one tab-separated line per run: mode, ranks, repeat, metrics
file, the cores other processes kept busy) and the metrics JSON-lines file of each run of
`mnist-ddp train --target-accuracy --metrics`. Standard library only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def summary_and_epochs(path: Path) -> tuple[dict, int]:
    """The run's summary record and how many epochs it completed."""
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    summaries = [record for record in records if record.get("type") == "summary"]
    if not summaries:
        raise SystemExit(f"time-to-accuracy: {path} holds no summary record: the run did not finish")
    return summaries[-1], sum(1 for record in records if record.get("type") == "epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--target", type=float, required=True, help="the target test accuracy, in percent")
    parser.add_argument("--title", required=True)
    parser.add_argument("--output", type=Path, required=True)
    options = parser.parse_args()

    groups: dict[tuple[str, int], list[tuple[dict, int, float]]] = {}
    for line in options.manifest.read_text().splitlines():
        mode, ranks, _repeat, metrics, others = line.split("\t")
        summary, epochs = summary_and_epochs(options.output / metrics)
        groups.setdefault((mode, int(ranks)), []).append((summary, epochs, float(others)))

    rows = []
    for (mode, ranks), runs in groups.items():
        reached = [run for run in runs if run[0].get("reached_target_accuracy")]
        summary, epochs, others = min(reached or runs, key=lambda run: run[0]["wall_seconds"])
        rows.append({
            "mode": mode, "ranks": ranks, "repeats": len(runs), "reached": len(reached),
            "seconds_to_target": summary["wall_seconds"] if reached else None, "epochs": epochs,
            "test_accuracy": summary["test_accuracy"], "samples_per_second": summary["samples_per_second"],
            "evaluation_seconds": summary["evaluation_seconds"], "other_cores_busy": others,
        })

    header = ["mode", "ranks", f"s to {options.target:g} %", "epochs", "test accuracy", "samples/s in steps",
              "evaluation s", "reached in", "other cores busy"]
    lines = [f"# {options.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        seconds = "not reached" if row["seconds_to_target"] is None else f"{row['seconds_to_target']:.2f}"
        lines.append("| " + " | ".join([
            row["mode"], str(row["ranks"]), seconds, str(row["epochs"]), f"{100 * row['test_accuracy']:.2f} %",
            f"{row['samples_per_second']:,.0f}", f"{row['evaluation_seconds']:.2f}",
            f"{row['reached']}/{row['repeats']} runs", f"{row['other_cores_busy']:.2f}",
        ]) + " |")
    table = "\n".join(lines) + "\n"
    (options.output / "time-to-accuracy.md").write_text(table)
    (options.output / "time-to-accuracy.json").write_text(json.dumps(
        {"target_accuracy_percent": options.target, "runs": rows}, indent=2) + "\n")
    print(table, end="")


if __name__ == "__main__":
    main()
