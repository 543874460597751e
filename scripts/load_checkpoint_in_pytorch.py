#!/usr/bin/env python3
"""Loads an mnist-ddp checkpoint into PyTorch and reports its test accuracy.

Our checkpoints are safetensors files holding the model under PyTorch's state_dict names and
shapes, next to Adam's moments under "optimizer."; the model loads with no conversion at all.
The network is the one the checkpoint's metadata "model" describes (scripts/pytorch_model.py
builds it; a checkpoint without the key holds the seed network), for inputs of its
"input_shape" (1x28x28 without one).
"""

import argparse
import json
import os
import sys

from safetensors import safe_open
from safetensors.torch import load_file
import torch

from pytorch_model import MNIST_INPUT_SHAPE, SEED_MODEL, SequentialCNN, parse_shape
from pytorch_reference import DEFAULT_DATA_DIR, accuracy, load_mnist, test_batches


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", help="a .safetensors checkpoint written by mnist-ddp train")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", DEFAULT_DATA_DIR))
    args = parser.parse_args()

    with safe_open(args.checkpoint, "pt") as file:
        metadata = file.metadata() or {}
    input_shape = parse_shape(metadata["input_shape"]) if "input_shape" in metadata else MNIST_INPUT_SHAPE
    model = SequentialCNN(metadata.get("model", SEED_MODEL), input_shape)
    tensors = load_file(args.checkpoint)
    model.load_state_dict(
        {name: tensor for name, tensor in tensors.items() if not name.startswith("optimizer.")}, strict=True)

    images, labels = load_mnist(args.data_dir, "t10k")
    images, labels = kept_classes(args.checkpoint, metadata, images, labels)
    if (1, *images.shape[1:]) != tuple(input_shape):
        sys.exit(f"{args.checkpoint}: the network takes {'x'.join(map(str, input_shape))} inputs, "
                 f"{args.data_dir}'s test images are 1x{images.shape[1]}x{images.shape[2]}")
    test_accuracy = accuracy(model, test_batches("dataloader", images, labels))
    print(f"{args.checkpoint}: test accuracy {test_accuracy * 100:.2f}% ({round(test_accuracy * len(labels))}/{len(labels)}) in PyTorch {torch.__version__}")


def kept_classes(checkpoint, metadata, images, labels):
    """The test samples of the classes a `--classes` run kept, relabelled as it did (the i-th
    recorded class name is label i). MNIST's class names are its digits; other datasets' subsets
    are refused rather than guessed."""
    names = json.loads(metadata.get("class_names", "null")) or [str(digit) for digit in range(10)]
    if names == [str(digit) for digit in range(10)]:
        return images, labels
    if metadata.get("dataset", "mnist") != "mnist":
        sys.exit(f"{checkpoint}: trained on classes {names} of {metadata.get('dataset')}; this script scores MNIST subsets only")
    label_of_digit = {int(name): label for label, name in enumerate(names)}
    keep = [index for index, digit in enumerate(labels.tolist()) if digit in label_of_digit]
    relabelled = torch.tensor([label_of_digit[labels[index].item()] for index in keep], dtype=labels.dtype)
    return images[keep], relabelled


if __name__ == "__main__":
    sys.exit(main())
