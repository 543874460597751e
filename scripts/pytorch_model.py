"""Any network of mnist-ddp as a PyTorch module, built from its canonical description.

The canonical description is what `mnist-ddp model SPEC --canonical` prints and what checkpoints
record under the metadata key "model": layers separated by single spaces, each `[NAME=]KIND[(ARGS)]`,

  conv(OUT,K,pad=P)  relu  maxpool(N)  dropout(P)  flatten  linear(OUT)

with every conv and linear layer named. The module has an attribute of that name per parameter
layer (nn.Conv2d, nn.Linear), created in the description's order, so its state_dict() keys and
shapes are our checkpoint's tensors and torch.manual_seed draws its parameters in our order. The
layers without parameters are calls in forward(). Presets live in mnist-ddp alone:
`canonical_description` asks it for the text of any SPEC.
"""

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
# What a checkpoint without a "model" key holds: the seed network, as `mnist-ddp model seed --canonical`
# prints it (Tests/CommandLineTests/PyTorchModelScriptTests.swift checks that it still does).
SEED_MODEL = "conv1=conv(8,3,pad=1) relu maxpool(2) conv2=conv(16,3,pad=1) relu maxpool(2) flatten fc1=linear(10)"
MNIST_INPUT_SHAPE = (1, 28, 28)

_LAYER = re.compile(r"(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)=)?(?P<kind>[a-z]+)(?:\((?P<args>[^()]*)\))?")
_INTEGER = r"[0-9]+"
_ARGUMENTS = {  # kind: the pattern of its arguments (None: it takes none)
    "conv": re.compile(rf"({_INTEGER}),({_INTEGER}),pad=({_INTEGER})"),
    "relu": None,
    "maxpool": re.compile(rf"({_INTEGER})"),
    "dropout": re.compile(r"([0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?)"),
    "flatten": None,
    "linear": re.compile(rf"({_INTEGER})"),
}
_PARAMETER_KINDS = {"conv", "linear"}


class Layer(NamedTuple):
    name: str | None
    kind: str
    args: tuple  # conv (out, kernel, padding); maxpool (size,); dropout (p,); linear (out,); else ()


def parse(text):
    """The layers of a canonical description; ValueError naming the layer for anything else."""
    layers = []
    for place, word in enumerate(text.split(), 1):
        match = _LAYER.fullmatch(word)
        if match is None or match["kind"] not in _ARGUMENTS:
            raise ValueError(f"layer {place} '{word}': not a layer of a canonical description")
        name, kind, args = match["name"], match["kind"], match["args"]
        pattern = _ARGUMENTS[kind]
        if pattern is None:
            if args is not None:
                raise ValueError(f"layer {place} '{word}': {kind} takes no arguments")
            values = ()
        else:
            arguments = pattern.fullmatch(args or "")
            if arguments is None:
                raise ValueError(f"layer {place} '{word}': bad arguments for {kind}")
            values = tuple(float(v) if kind == "dropout" else int(v) for v in arguments.groups())
        if kind in _PARAMETER_KINDS and name is None:
            raise ValueError(f"layer {place} '{word}': unnamed; canonical descriptions name every conv and linear layer "
                             "(mnist-ddp model SPEC --canonical prints one)")
        if kind not in _PARAMETER_KINDS and name is not None:
            raise ValueError(f"layer {place} '{word}': only conv and linear layers are named in a canonical description")
        layers.append(Layer(name, kind, values))
    if not layers:
        raise ValueError("an empty description")
    return layers


def parse_shape(text):
    """(C, H, W) of '1x28x28', '1×28×28' or '[1, 28, 28]'."""
    dimensions = tuple(int(d) for d in re.findall(r"[0-9]+", text))
    if len(dimensions) != 3 or re.fullmatch(r"\s*\[?\s*[0-9]+\s*[x×,]\s*[0-9]+\s*[x×,]\s*[0-9]+\s*\]?\s*", text) is None:
        raise ValueError(f"'{text}' is not an input shape CxHxW")
    return dimensions


class SequentialCNN(nn.Module):
    """The network `description` (canonical) describes, for inputs of `input_shape` (C, H, W)."""

    def __init__(self, description, input_shape=MNIST_INPUT_SHAPE):
        super().__init__()
        self.description = description
        self.layers = parse(description)
        shape = tuple(input_shape)
        for place, layer in enumerate(self.layers, 1):
            def refuse(reason):
                return ValueError(f"layer {place} ({layer.kind}): {reason}, receiving {'x'.join(map(str, shape))}")
            if layer.kind == "conv":
                out, kernel, padding = layer.args
                if len(shape) != 3:
                    raise refuse("conv needs channels x height x width")
                setattr(self, layer.name, nn.Conv2d(shape[0], out, kernel, padding=padding))
                shape = (out, shape[1] + 2 * padding - kernel + 1, shape[2] + 2 * padding - kernel + 1)
            elif layer.kind == "maxpool":
                if len(shape) != 3:
                    raise refuse("maxpool needs channels x height x width")
                size = layer.args[0]
                shape = (shape[0], shape[1] // size, shape[2] // size)
            elif layer.kind == "flatten":
                shape = (shape[0] * shape[1] * shape[2],) if len(shape) == 3 else shape
            elif layer.kind == "linear":
                if len(shape) != 1:
                    raise refuse("linear needs a flat input")
                setattr(self, layer.name, nn.Linear(shape[0], layer.args[0]))
                shape = (layer.args[0],)
            if min(shape) < 1:
                raise refuse("nothing left")
        self.output_shape = shape

    def forward(self, x):
        for place, layer in enumerate(self.layers):
            if layer.kind in _PARAMETER_KINDS:
                x = getattr(self, layer.name)(x)
            elif layer.kind == "relu":
                x = F.relu(x)
            elif layer.kind == "maxpool":
                x = F.max_pool2d(x, layer.args[0])
            elif layer.kind == "dropout":
                x = self.dropout(x, place, layer.args[0])
            else:  # flatten
                x = x.reshape(x.shape[0], -1)
        return x

    def dropout(self, x, place, probability):
        """Layer `place`'s (0-based) dropout: PyTorch's own; a subclass may give its masks."""
        return F.dropout(x, probability, self.training)


def canonical_description(spec, input_shape=MNIST_INPUT_SHAPE, classes=10, binary=None):
    """`mnist-ddp model SPEC --canonical`'s text: presets and layer lists are mnist-ddp's to resolve."""
    binary = binary or ROOT / ".build" / "release" / "mnist-ddp"
    command = [str(binary), "model", spec, "--canonical", "--input", "x".join(map(str, input_shape)),
               "--classes", str(classes)]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        raise SystemExit(f"cannot run {binary} to resolve --model {spec}: {error.strerror} (swift build -c release)")
    if result.returncode != 0:
        raise SystemExit(f"mnist-ddp model {spec}: {result.stderr.strip() or f'exit status {result.returncode}'}")
    return result.stdout.strip()
