#!/usr/bin/env python3
"""Regenerates Tests/CNNTests/Fixtures/seed_cnn_golden.json: PyTorch's numbers for the model.

The model and the MNIST reader are scripts/pytorch_reference.py's, so the fixture, the benchmark
comparison and mnist-ddp all describe one network. Whoever changes the model changes it there and
in Sources/CNN, runs this script, and the golden tests (Tests/CNNTests/GoldenReferenceTests.swift)
then check the Swift model against the new fixture.

From one batch of the first 8 training images and the parameters of torch.manual_seed(0):
the initial parameters, the logits, the mean cross-entropy, the activations of the first two
images, the gradients, and the parameters after each of 3 Adam steps (lr 1e-3) on that batch.

  scripts/make_golden_fixture.py [--data-dir data/mnist] [--output Tests/CNNTests/Fixtures/seed_cnn_golden.json]

It needs PyTorch and numpy; scripts/compare-pytorch.sh --install puts the CPU build of both in
.venv/, so from the project's root:

  .venv/bin/python scripts/make_golden_fixture.py                                  # regenerate in place
  .venv/bin/python scripts/make_golden_fixture.py --output /tmp/seed_cnn_golden.json   # or a copy, to compare

then `swift test -c release --filter CNNTests` checks the Swift model against it. PyTorch
2.13.0+cpu reproduces the committed fixture (written by 2.15.0+cu132) byte for byte, apart from
the "torch_version" it records: every float of the batch, parameters, logits, loss, activations,
gradients and Adam steps is the same. Another version may round a few float32 results
differently; the golden tests allow a relative error of 1e-5 per tensor.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_reference import CNN, DEFAULT_DATA_DIR, as_float_tensor, load_mnist  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = 0
BATCH = 8
ACTIVATION_IMAGES = 2
ADAM = {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8}
ADAM_STEPS = 3


def tensor(value):
    """A float32 tensor as {shape, data}; each float32 is written as the double it equals."""
    value = value.detach().to(torch.float32)
    return {"shape": list(value.shape), "data": value.flatten().tolist()}


def state(model):
    return {name: tensor(value) for name, value in model.state_dict().items()}


def activations(model, images):
    """Each stage's output for `images`, as the Swift model exposes them."""
    conv1 = F.relu(model.conv1(images))
    pool1 = F.max_pool2d(conv1, 2)
    conv2 = F.relu(model.conv2(pool1))
    pool2 = F.max_pool2d(conv2, 2)
    return {"conv1_relu": tensor(conv1), "pool1": tensor(pool1), "conv2_relu": tensor(conv2), "pool2": tensor(pool2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", DEFAULT_DATA_DIR))
    parser.add_argument("--output", default=ROOT / "Tests" / "CNNTests" / "Fixtures" / "seed_cnn_golden.json")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    model = CNN()
    images, labels = load_mnist(args.data_dir, "train")
    batch_images, batch_labels = as_float_tensor(images[:BATCH]), labels[:BATCH]

    fixture = {
        "about": "PyTorch reference for the seed CNN; float32; params in state_dict order and layout",
        "torch_version": torch.__version__,
        "seed": SEED,
        "batch": {"split": "train", "start": 0, "count": BATCH, "labels": batch_labels.tolist(),
                  "images": tensor(batch_images)},
        "initial_params": state(model),
    }
    logits = model(batch_images)
    loss = F.cross_entropy(logits, batch_labels)
    loss.backward()
    fixture["logits"] = tensor(logits)
    fixture["loss"] = loss.item()
    with torch.no_grad():
        fixture["activations"] = activations(model, batch_images[:ACTIVATION_IMAGES])
    fixture["grads"] = {name: tensor(value.grad) for name, value in model.named_parameters()}

    optimizer = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], betas=tuple(ADAM["betas"]), eps=ADAM["eps"])
    steps = []
    for _ in range(ADAM_STEPS):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch_images), batch_labels)
        loss.backward()
        optimizer.step()
        steps.append({"loss_before_step": loss.item(), "params": state(model)})
    fixture["adam"] = {**ADAM, "steps": steps}

    Path(args.output).write_text(json.dumps(fixture))
    print(f"wrote {args.output}: loss {fixture['loss']:.6f}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
