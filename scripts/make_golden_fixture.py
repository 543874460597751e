#!/usr/bin/env python3
"""Regenerates Tests/CNNTests/Fixtures/seed_cnn_golden.json: PyTorch's numbers for the model;
with --model, a preset's fixture (lenet5_golden.json, keras_transfer_golden.json).

The model is scripts/pytorch_model.py's and the MNIST reader scripts/pytorch_reference.py's, so
the fixture, the benchmark comparison and mnist-ddp all describe one network. Whoever changes the
model changes it there and in Sources/CNN, runs this script, and the golden tests
(Tests/CNNTests/GoldenReferenceTests.swift, PlannedGoldenReferenceTests.swift) then check the
Swift model against the new fixture.

From one batch of the first 8 training images and the parameters of torch.manual_seed(0):
the initial parameters, the logits, the mean cross-entropy, the activations of the first two
images, the gradients, and the parameters after each of 3 Adam steps (lr 1e-3) on that batch.

  scripts/make_golden_fixture.py [--data-dir data/mnist] [--output Tests/CNNTests/Fixtures/seed_cnn_golden.json]

It needs PyTorch and numpy; scripts/compare-pytorch.sh --install puts the CPU build of both in
.venv/, so from the project's root:

  .venv/bin/python scripts/make_golden_fixture.py                                  # regenerate in place
  .venv/bin/python scripts/make_golden_fixture.py --output /tmp/seed_cnn_golden.json   # or a copy, to compare

then `swift test -c release --filter CNNTests` checks the Swift model against it. PyTorch
2.13.0+cpu reproduced the committed fixture (written by 2.15.0+cu132) byte for byte, apart from
the "torch_version" it records: every float of the batch, parameters, logits, loss, activations,
gradients and Adam steps was the same. Another version or another CPU may round a few float32
results differently (on an AVX-512 AMD EPYC, 2.13.0+cpu's logits, loss and gradients differ from
the file's by up to 2.2e-7 relative); the golden tests allow a relative error of 1e-5 per tensor.

--model SPEC (a preset, or a layer list with --output) asks .build/release/mnist-ddp for the
network's canonical description (`mnist-ddp model SPEC --canonical`) and builds it with
scripts/pytorch_model.py. Its parameters are far too many to store four times over (keras-transfer
has 600,938), so that fixture differs from the seed's:
  - the initial parameters are mnist-ddp's own `initialize(seed: 0)` (PyTorch's bounds, our
    xoshiro256** generator, drawn here exactly as Sources/SeededRandom does);
  - a tensor of more than 4,096 floats is recorded as every `stride`-th float (a prime dividing none
    of its dimensions, so the samples cover every row and column) and its whole L2 norm;
  - the batch is the images' bytes (the network sees byte/255);
  - dropout keeps what our `DropoutMask` keeps (Sources/CNNKernelInterface/DropoutMask.swift,
    computed here as it computes it; PyTorch's generator cannot give our masks) for seed 0, the
    step's number (0 for the gradients, 0, 1, 2 for the Adam steps) and sample 0 first, scaled by
    PyTorch's 1/(1 - p); the masks are recorded, and the tests check that DropoutMask draws them.

  .venv/bin/python scripts/make_golden_fixture.py --model lenet5
  .venv/bin/python scripts/make_golden_fixture.py --model keras-transfer
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pytorch_model import MNIST_INPUT_SHAPE, SEED_MODEL, SequentialCNN, canonical_description  # noqa: E402
from pytorch_reference import DEFAULT_DATA_DIR, as_float_tensor, load_mnist  # noqa: E402

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


def seed_fixture(args):
    torch.manual_seed(SEED)
    model = SequentialCNN(SEED_MODEL)
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

    return fixture


MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment
SAMPLED_ABOVE = 4096  # floats: a larger tensor is recorded every stride-th float


def splitmix_finalizer(value):
    """SplitMix64's finaliser of a numpy uint64 array (wrapping arithmetic), or of an int."""
    z = np.asarray(value, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_keeps(probability, seed, layer, step, first_sample, count, elements):
    """[count, elements] bools: what DropoutMask(probability, seed, layer, step, first_sample) keeps."""
    mix = lambda value: int(splitmix_finalizer(value))  # noqa: E731
    layer_state = mix(mix(seed) ^ layer)
    streams = [mix(mix(layer_state ^ step) ^ (first_sample + sample)) for sample in range(count)]
    threshold = math.ceil(probability * 16_777_216)
    offsets = (np.arange(1, elements + 1, dtype=np.uint64) * np.uint64(GOLDEN))
    return np.stack([splitmix_finalizer(np.uint64(stream) + offsets) >> np.uint64(40) >= np.uint64(threshold)
                     for stream in streams])


class Xoshiro256:
    """Sources/SeededRandom's SeededGenerator(seed:) (xoshiro256**, seeded through SplitMix64)."""

    def __init__(self, seed):
        state, words = seed, []
        for _ in range(4):
            state = (state + GOLDEN) & MASK
            words.append(int(splitmix_finalizer(state)))
        self.s = words

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & MASK  # noqa: E731
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        shifted = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= shifted
        s[3] = rotl(s[3], 45)
        return result


def initialize_like_mnist_ddp(model, seed):
    """PlannedNetwork.initialize(seed:): every weight and bias uniform in ±1/√fan_in, float32 as
    nextFloat(symmetricBound:) computes it, tensor after tensor in state_dict order."""
    generator = Xoshiro256(seed)
    layers = dict(model.named_children())
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            fan_in = layers[name.rsplit(".", 1)[0]].weight[0].numel()
            bound = np.float32(1 / math.sqrt(fan_in))
            draws = np.array([generator.next() >> 40 for _ in range(tensor.numel())], dtype=np.float32)
            values = (draws * np.float32(2 ** -24) * np.float32(2) - np.float32(1)) * bound
            tensor.copy_(torch.from_numpy(values.astype(np.float32)).reshape(tensor.shape))


def sampling_stride(shape):
    """1 for a small tensor; else the least prime ≥ count/4096 that divides none of its dimensions."""
    count = math.prod(shape)
    if count <= SAMPLED_ABOVE:
        return 1
    stride = math.ceil(count / SAMPLED_ABOVE)
    while any(stride % d == 0 for d in range(2, math.isqrt(stride) + 1)) or any(n % stride == 0 for n in shape):
        stride += 1
    return stride


def floats(values):
    """float32 values as the shortest-but-safe decimals: 9 significant digits name a float32 exactly."""
    return [float(f"{value:.9g}") for value in values.tolist()]


def sampled(value):
    """A tensor as {shape, stride, norm, data}: data its every stride-th float, norm its whole L2 norm."""
    value = value.detach().to(torch.float32)
    stride = sampling_stride(list(value.shape))
    flat = value.flatten().numpy()
    return {"shape": list(value.shape), "stride": stride, "norm": float(np.linalg.norm(flat.astype(np.float64))),
            "data": floats(flat[::stride])}


def sampled_state(tensors):
    return {name: sampled(value) for name, value in tensors}


class OurDropoutCNN(SequentialCNN):
    """The network with dropout keeping what DropoutMask keeps for (seed, self.step, sample 0 first)."""

    def __init__(self, description, input_shape, dropout_seed):
        super().__init__(description, input_shape)
        self.dropout_seed, self.step, self.masks = dropout_seed, 0, {}

    def dropout(self, x, place, probability):
        if not self.training:
            return x
        keeps = dropout_keeps(probability, self.dropout_seed, place, self.step, 0, x.shape[0], x[0].numel())
        self.masks.setdefault(self.step, {})[str(place)] = [np.packbits(row, bitorder="little").tobytes().hex()
                                                             for row in keeps]
        scale = torch.tensor(1 / (1 - probability), dtype=torch.float32)  # PyTorch's noise.div_(1 - p)
        return x * (torch.from_numpy(keeps).reshape(x.shape).to(torch.float32) * scale)


def planned_fixture(args):
    canonical = canonical_description(args.model)
    model = OurDropoutCNN(canonical, MNIST_INPUT_SHAPE, dropout_seed=SEED)
    initialize_like_mnist_ddp(model, SEED)
    images, labels = load_mnist(args.data_dir, "train")
    batch_images, batch_labels = as_float_tensor(images[:BATCH]), labels[:BATCH]

    fixture = {
        "about": f"PyTorch reference for {args.model}; float32; tensors of more than {SAMPLED_ABOVE} floats "
                 "sampled every stride-th float, with their whole L2 norm; see scripts/make_golden_fixture.py",
        "torch_version": torch.__version__,
        "model": args.model,
        "canonical": canonical,
        "input_shape": list(MNIST_INPUT_SHAPE),
        "classes": model.output_shape[0],
        "seed": SEED,
        "batch": {"split": "train", "start": 0, "count": BATCH, "labels": batch_labels.tolist(),
                  "pixels": images[:BATCH].flatten().tolist()},
        "initial_params": sampled_state(model.state_dict().items()),
    }
    model.step = 0
    logits = model(batch_images)
    loss = F.cross_entropy(logits, batch_labels)
    loss.backward()
    fixture["logits"] = tensor(logits)
    fixture["loss"] = loss.item()
    fixture["grads"] = sampled_state((name, value.grad) for name, value in model.named_parameters())

    optimizer = torch.optim.Adam(model.parameters(), lr=ADAM["lr"], betas=tuple(ADAM["betas"]), eps=ADAM["eps"])
    steps = []
    for step in range(ADAM_STEPS):
        model.step = step
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch_images), batch_labels)
        loss.backward()
        optimizer.step()
        steps.append({"loss_before_step": loss.item(), "params": sampled_state(model.state_dict().items())})
    fixture["adam"] = {**ADAM, "steps": steps}
    fixture["dropout_masks"] = [{"step": step, "layers": model.masks.get(step, {})} for step in range(ADAM_STEPS)]
    return fixture


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a preset or a layer list, as mnist-ddp's --model takes it (default: the seed network)")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", DEFAULT_DATA_DIR))
    parser.add_argument("--output", help="default: Tests/CNNTests/Fixtures/seed_cnn_golden.json, or MODEL_golden.json for a preset")
    args = parser.parse_args()
    fixtures = ROOT / "Tests" / "CNNTests" / "Fixtures"
    if args.output is None:
        if args.model is not None and not args.model.replace("-", "").isalnum():
            parser.error("--output is needed for a layer list")
        args.output = fixtures / ("seed_cnn_golden.json" if args.model is None else f"{args.model.replace('-', '_')}_golden.json")

    torch.set_num_threads(1)
    fixture = seed_fixture(args) if args.model is None else planned_fixture(args)
    Path(args.output).write_text(json.dumps(fixture))
    print(f"wrote {args.output}: loss {fixture['loss']:.6f}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
