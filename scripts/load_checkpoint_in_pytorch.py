#!/usr/bin/env python3
"""Loads an mnist-ddp checkpoint into the tutorial's PyTorch CNN and reports its test accuracy.

Our checkpoints are safetensors files holding the model under PyTorch's state_dict names and
shapes, next to Adam's moments under "optimizer."; the model loads with no conversion at all.
"""

import argparse
import os
import sys

from safetensors.torch import load_file
import torch

from pytorch_reference import CNN, DEFAULT_DATA_DIR, accuracy, load_mnist, test_batches


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", help="a .safetensors checkpoint written by mnist-ddp train")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", DEFAULT_DATA_DIR))
    args = parser.parse_args()

    tensors = load_file(args.checkpoint)
    model = CNN()
    model.load_state_dict(
        {name: tensor for name, tensor in tensors.items() if not name.startswith("optimizer.")}, strict=True)

    images, labels = load_mnist(args.data_dir, "t10k")
    test_accuracy = accuracy(model, test_batches("dataloader", images, labels))
    print(f"{args.checkpoint}: test accuracy {test_accuracy * 100:.2f}% ({round(test_accuracy * len(labels))}/{len(labels)}) in PyTorch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
