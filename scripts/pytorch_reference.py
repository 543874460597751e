#!/usr/bin/env python3
"""PyTorch's side of the comparison: the tutorial's CNN trained the tutorial's way.

Same model, loss, optimizer, batch size and data as mnist-ddp, one thread per process:
  --model SPEC    the network, as mnist-ddp's --model takes it (default: the seed network, the
                  tutorial's CNN); scripts/pytorch_model.py builds it from what
                  `mnist-ddp model SPEC --canonical` prints, so this needs .build/release/mnist-ddp
  --mode single   one process
  --mode ddp      DistributedDataParallel over gloo, --ranks processes, 60 samples per rank per step
  --feed dataloader   the tutorial's DataLoader, one sample converted to a tensor at a time
                      (torchvision's ToTensor, minus its PIL round trip, so a little cheaper)
  --feed preloaded    the whole training set as one float tensor, batches taken by index

Prints a line per epoch, a summary, and last one JSON line for scripts/compare-pytorch.sh.
Epoch time is training only; the test set is evaluated once, after the last epoch.
"""

import argparse
import gzip
import json
import os
import resource
import socket
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_model import SEED_MODEL, SequentialCNN, canonical_description  # noqa: E402

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
BATCH_SIZE = 60
EVAL_BATCH_SIZE = 1000


def read_idx(path):
    """The array in a gzip'd IDX file of unsigned bytes, shaped as its header says."""
    with gzip.open(path, "rb") as file:
        data = bytearray(file.read())  # writable, so tensors can share it without a copy
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dimensions = struct.unpack(f">{data[3]}I", data[4 : 4 + 4 * data[3]])
    header = 4 + 4 * len(dimensions)
    if len(data) - header != int(np.prod(dimensions)):
        raise ValueError(f"{path}: header promises {dimensions}, file holds {len(data) - header} bytes")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dimensions)


def load_mnist(data_dir, split):
    """(images uint8 [N, 28, 28], labels int64 [N]) of split 'train' or 't10k'."""
    images = read_idx(Path(data_dir) / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(Path(data_dir) / f"{split}-labels-idx1-ubyte.gz")
    return images, torch.from_numpy(labels.astype(np.int64))


class MNISTSamples(Dataset):
    """One sample at a time, converted the way torchvision's ToTensor does: [1, 28, 28] float in [0, 1]."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = torch.from_numpy(self.images[index].copy()).unsqueeze(0).float().div(255)
        return image, self.labels[index]


def as_float_tensor(images):
    """All images as one [N, 1, 28, 28] float tensor in [0, 1]."""
    return torch.from_numpy(images).unsqueeze(1).float().div_(255)


def training_batches(feed, images, labels, sampler):
    """Yields (images, labels) of one epoch. `sampler` is None for the single process, which shuffles itself."""
    if feed == "dataloader":
        yield from DataLoader(
            MNISTSamples(images, labels), batch_size=BATCH_SIZE, shuffle=sampler is None, sampler=sampler)
        return
    order = torch.randperm(len(images)) if sampler is None else torch.tensor(list(sampler))
    for start in range(0, len(order), BATCH_SIZE):
        batch = order[start : start + BATCH_SIZE]
        yield images[batch], labels[batch]


def test_batches(feed, images, labels):
    if feed == "dataloader":
        yield from DataLoader(MNISTSamples(images, labels), batch_size=EVAL_BATCH_SIZE)
        return
    for start in range(0, len(images), EVAL_BATCH_SIZE):
        yield images[start : start + EVAL_BATCH_SIZE], labels[start : start + EVAL_BATCH_SIZE]


@torch.no_grad()
def accuracy(model, batches):
    model.eval()
    correct = total = 0
    for images, labels in batches:
        correct += (model(images).argmax(dim=1) == labels).sum().item()
        total += len(labels)
    model.train()
    return correct / total


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def train(rank, world_size, args, port):
    """One process's whole run; in DDP mode, one rank. Rank 0 prints the report."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if world_size > 1:
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)

    images, labels = load_mnist(args.data_dir, "train")
    test_images, test_labels = load_mnist(args.data_dir, "t10k")
    if args.feed == "preloaded":
        images, test_images = as_float_tensor(images), as_float_tensor(test_images)

    model = SequentialCNN(args.canonical)
    trained = nn.parallel.DistributedDataParallel(model) if world_size > 1 else model
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-3)
    sampler = DistributedSampler(range(len(images)), world_size, rank, shuffle=True, seed=0) if world_size > 1 else None

    epoch_seconds = []
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        start = time.perf_counter()
        loss_sum, steps = torch.zeros(()), 0
        for batch_images, batch_labels in training_batches(args.feed, images, labels, sampler):
            loss = F.cross_entropy(trained(batch_images), batch_labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            steps += 1
        epoch_seconds.append(time.perf_counter() - start)
        if rank == 0:
            shard = " (rank 0's shard)" if world_size > 1 else ""
            print(f"epoch {epoch + 1}/{args.epochs}  train loss {loss_sum.item() / steps:.4f}{shard}"
                  f"  {epoch_seconds[-1]:.2f} s  {len(images) / epoch_seconds[-1]:,.0f} samples/s", flush=True)

    test_accuracy = accuracy(model, test_batches(args.feed, test_images, test_labels)) if rank == 0 else None
    peaks = [peak_rss_mib()]
    if world_size > 1:
        peaks = [None] * world_size
        dist.all_gather_object(peaks, peak_rss_mib())
        dist.destroy_process_group()
    if rank != 0:
        return

    mean_epoch_seconds = sum(epoch_seconds) / len(epoch_seconds)
    result = {
        "impl": "pytorch", "mode": args.mode, "feed": args.feed, "ranks": world_size, "threads_per_rank": 1,
        "epochs": args.epochs, "epoch_seconds": round(mean_epoch_seconds, 4),
        "samples_per_second": round(len(images) / mean_epoch_seconds, 1), "test_accuracy": test_accuracy,
        "peak_rss_mib": round(max(peaks), 1), "torch_version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    named = ""
    if args.model is not None:
        result["model"], result["canonical_model"] = args.model, args.canonical
        named = f"{args.model}, "
    print(f"pytorch {torch.__version__} ({result['cpu_capability']}) {named}{args.mode} ({world_size} x 1 thread), {args.feed} feed: "
          f"{mean_epoch_seconds:.2f} s/epoch, {result['samples_per_second']:,.0f} samples/s, "
          f"test accuracy {test_accuracy * 100:.2f}%, peak RSS {' / '.join(f'{p:.0f}' for p in peaks)} MiB per process")
    print(json.dumps(result), flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="the network: a preset or a layer list, as mnist-ddp takes it (default: the seed network)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--mode", choices=["single", "ddp"], default="single")
    parser.add_argument("--ranks", type=int, default=2, help="processes in ddp mode (default 2)")
    parser.add_argument("--feed", choices=["dataloader", "preloaded"], default="dataloader")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", DEFAULT_DATA_DIR))
    args = parser.parse_args()
    args.canonical = SEED_MODEL if args.model is None else canonical_description(args.model)
    if args.mode == "single":
        train(0, 1, args, port=None)
    else:
        mp.spawn(train, args=(args.ranks, args, free_port()), nprocs=args.ranks)


if __name__ == "__main__":
    sys.exit(main())
