"""Checks mnist-ddp's --tensorboard event files with TensorBoard's own reader.

    tensorboard_events.py run RUN_DIR METRICS.jsonl RANKS
    tensorboard_events.py resume RUN_DIR FIRST_METRICS.jsonl RESUMED_METRICS.jsonl RESUMED_STEP
    tensorboard_events.py search SEARCH_RUN_DIR RESULTS.json
    tensorboard_events.py framing FILE...

Exits 0 when every check holds; otherwise an AssertionError says which did not.
"""
import json
import os
import struct
import sys
import zlib

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import api_pb2

TENSORS = {"conv1.weight": 72, "conv1.bias": 8, "conv2.weight": 1152, "conv2.bias": 16,
           "fc1.weight": 7840, "fc1.bias": 10}
TIME_PARTS = ["compute", "all_reduce", "optimizer", "data", "evaluation", "checkpoint", "wall"]


def load(directory):
    accumulator = event_accumulator.EventAccumulator(directory, size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0,
        event_accumulator.HISTOGRAMS: 0, event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def records(path, kind):
    with open(path) as file:
        return [record for record in map(json.loads, file) if record["type"] == kind]


def close(a, b):
    """Equal as the float32 an event's simple_value holds."""
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def scalars(accumulator, tag):
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def check_png(image):
    """Decodes the PNG far enough to know its size and that its pixel data is whole."""
    data = image.encoded_image_string
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height) == (image.width, image.height), f"PNG {width}x{height}, event says {image.width}x{image.height}"
    channels = {0: 1, 2: 3}[colour]
    position, idat = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            idat += data[position + 8:position + 8 + length]
        position += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + width * channels * depth // 8), "pixel data is not whole"
    return width, height


def unique_steps(accumulator):
    for tag in accumulator.Tags()["scalars"]:
        steps = [step for step, _ in scalars(accumulator, tag)]
        assert steps == sorted(set(steps)), f"{tag}: steps {steps} repeat or go back"


def check_training_scalars(accumulator, metrics, steps=None):
    """Each logged step's loss, rate and throughput are the metrics file's."""
    logged = {record["step"]: record for record in records(metrics, "step")}
    selected = sorted(step for step in logged if steps is None or step in steps)
    for tag, field in [("train/loss", "loss"), ("train/learning_rate", "lr"),
                       ("train/samples_per_second", "samples_per_second")]:
        values = dict(scalars(accumulator, tag))
        for step in selected:
            assert step in values, f"{tag}: no step {step}"
            assert close(values[step], logged[step][field]), f"{tag} at {step}: {values[step]} vs {logged[step][field]}"
    return selected


def check_run(directory, metrics, ranks):
    accumulator = load(directory)
    tags = accumulator.Tags()
    unique_steps(accumulator)
    selected = check_training_scalars(accumulator, metrics)
    assert [step for step, _ in scalars(accumulator, "train/loss")] == selected, "train/loss has other steps than the metrics file"

    epochs = records(metrics, "epoch")
    assert len(epochs) >= 2, "the run should evaluate at least twice"
    for record in epochs:
        for name in ["validation", "test"]:
            values = dict(scalars(accumulator, f"{name}/accuracy"))
            assert close(values[record["step"]], record[f"{name}_accuracy"]), f"{name}/accuracy at {record['step']}"
            values = dict(scalars(accumulator, f"{name}/loss"))
            assert close(values[record["step"]], record[f"{name}_loss"]), f"{name}/loss at {record['step']}"
            for label in range(10):
                f1 = dict(scalars(accumulator, f"{name}/f1/{label}"))
                assert 0 < f1[record["step"]] <= 1, f"{name}/f1/{label}"
    evaluation_steps = sorted({record["step"] for record in epochs})

    for tensor, count in TENSORS.items():
        histograms = accumulator.Histograms(f"parameters/{tensor}")
        assert [event.step for event in histograms] == evaluation_steps, f"parameters/{tensor} steps"
        for event in histograms:
            histogram = event.histogram_value
            assert histogram.num == count and sum(histogram.bucket) == count, f"parameters/{tensor}: {histogram.num}"
            assert histogram.min < histogram.max

    grids = accumulator.Images("test/predictions")
    assert [event.step for event in grids] == evaluation_steps, "test/predictions steps"
    for event in grids:
        check_png(event)
    confusion = accumulator.Images("test/confusion_matrix")
    assert len(confusion) == 1
    width, height = check_png(confusion[0])
    assert width >= 600 and height >= 600, f"confusion matrix of {width}x{height}"

    summary = records(metrics, "summary")[0]
    times = {part: dict(scalars(accumulator, f"time/{part}_seconds")) for part in TIME_PARTS}
    for part in TIME_PARTS:
        assert list(times[part]) == [summary["steps"]], f"time/{part}_seconds"
    assert close(times["compute"][summary["steps"]], summary["compute_seconds"])
    assert close(times["all_reduce"][summary["steps"]], summary["all_reduce_seconds"])
    assert close(times["wall"][summary["steps"]], summary["wall_seconds"])

    text = {tag: accumulator.Tensors(tag)[0].tensor_proto.string_val[0].decode() for tag in tags["tensors"]}
    assert set(text) == {"run/configuration", "run/network", "run/kernel_path", "run/world_size", "run/hosts"}, set(text)
    configuration = json.loads(text["run/configuration"].strip("`").removeprefix("json\n"))
    assert configuration["log_every"] > 0 and configuration["tensorboard"]
    assert text["run/world_size"] == str(ranks)
    assert len(text["run/hosts"].splitlines()) == ranks
    assert text["run/kernel_path"] in {"avx512", "avx2", "baseline"}, text["run/kernel_path"]
    assert "9,098 parameters" in text["run/network"]


def check_resume(directory, first_metrics, resumed_metrics, resumed_step):
    # The resumed run's file marks the restart after the checkpoint's step, which tells every
    # reader (not only this one, which also drops steps that go back) to drop what came after.
    files = sorted(os.path.join(directory, name) for name in os.listdir(directory) if ".tfevents." in name)
    assert len(files) == 2, files
    events = list(event_file_loader.EventFileLoader(files[1]).Load())
    assert events[0].file_version == "brain.Event:2"
    assert events[1].session_log.status == event_pb2.SessionLog.START and events[1].step == resumed_step + 1, events[1]
    accumulator = load(directory)
    unique_steps(accumulator)
    before = [r["step"] for r in records(first_metrics, "step")]
    after = [r["step"] for r in records(resumed_metrics, "step")]
    assert any(step > resumed_step for step in before), "the first run should log past the checkpoint resumed"
    check_training_scalars(accumulator, first_metrics, {step for step in before if step <= resumed_step})
    check_training_scalars(accumulator, resumed_metrics, set(after))
    steps = [step for step, _ in scalars(accumulator, "train/loss")]
    assert steps == sorted({s for s in before if s <= resumed_step} | set(after)), steps


def check_search(directory, results_path):
    results = json.load(open(results_path))
    experiment_run = load(directory)
    content = experiment_run.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
    experiment = hparams_metadata.parse_experiment_plugin_data(content[hparams_metadata.EXPERIMENT_TAG])
    names = [info.name for info in experiment.hparam_infos]
    assert names == ["lr", "batch_size", "augment", "lr_schedule", "model"], names
    learning_rates = [value.number_value for value in experiment.hparam_infos[0].domain_discrete.values]
    assert learning_rates == sorted({r["lr"] for r in results}), learning_rates
    metrics = [info.name.tag for info in experiment.metric_infos]
    assert metrics == ["validation/accuracy", "validation/loss", "time/wall_seconds"], metrics

    for result in results:
        session = load(os.path.join(directory, f"config-{result['config']}"))
        content = session.PluginTagToContent(hparams_metadata.PLUGIN_NAME)
        start = hparams_metadata.parse_session_start_info_plugin_data(content[hparams_metadata.SESSION_START_INFO_TAG])
        assert start.hparams["lr"].number_value == result["lr"], (start.hparams["lr"], result["lr"])
        assert start.hparams["batch_size"].number_value == result["batch_size"]
        assert start.hparams["augment"].bool_value == result["augment"]
        assert start.hparams["lr_schedule"].string_value == result["lr_schedule"]
        assert start.hparams["model"].string_value == result["model"]
        end = hparams_metadata.parse_session_end_info_plugin_data(content[hparams_metadata.SESSION_END_INFO_TAG])
        assert end.status == api_pb2.STATUS_SUCCESS
        accuracy = scalars(session, "validation/accuracy")[-1][1]
        loss = scalars(session, "validation/loss")[-1][1]
        assert close(accuracy, result["validation_accuracy"]), (accuracy, result["validation_accuracy"])
        assert close(loss, result["validation_loss"])
        train_time = scalars(session, "time/wall_seconds")[-1][1]
        assert 0 < train_time <= result["train_seconds"], (train_time, result["train_seconds"])


def check_framing(paths):
    """Every file is whole records: no record cut short at the end."""
    for path in paths:
        data = open(path, "rb").read()
        position, count = 0, 0
        while position < len(data):
            assert position + 12 <= len(data), f"{path}: a header cut short at byte {position}"
            (length,) = struct.unpack("<Q", data[position:position + 8])
            position += 12 + length + 4
            count += 1
        assert position == len(data), f"{path}: the last record is cut short"
        assert count >= 1, f"{path}: no record"


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    {"run": lambda: check_run(arguments[0], arguments[1], int(arguments[2])),
     "resume": lambda: check_resume(arguments[0], arguments[1], arguments[2], int(arguments[3])),
     "search": lambda: check_search(arguments[0], arguments[1]),
     "framing": lambda: check_framing(arguments)}[command]()
    print("ok")
