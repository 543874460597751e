#!/usr/bin/env python3
"""Renders MNIST test images as photographs of handwriting would be: dark ink on light paper,
three times larger, away from the centre of a wider page, as 8-bit grey PNG files
(IMAGE_DIR/00042-label7.png). For checking `mnist-ddp predict`'s preprocessing against the
28×28 originals. Needs only numpy (installed by scripts/setup.sh).

    scripts/render_mnist_pngs.py OUT_DIR [--count N] [--data-dir data/mnist]
"""
import argparse
import gzip
import os
import struct
import zlib

import numpy as np

PAGE_WIDTH, PAGE_HEIGHT = 200, 150
PAPER, INK = 235, 25
SCALE = 3


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, columns = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, columns)
    return np.frombuffer(data, np.uint8, offset=8)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise SystemExit(f"render_mnist_pngs: no {stem}(.gz) in {directory}")


def png(grey):
    """An 8-bit grey PNG of a 2-D uint8 array."""
    height, width = grey.shape
    raw = b"".join(b"\x00" + grey[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upscale(image, factor):
    """Bilinear enlargement by an integer factor, sampling at pixel centres."""
    side = image.shape[0]
    coordinates = (np.arange(side * factor) + 0.5) / factor - 0.5
    low = np.clip(np.floor(coordinates).astype(int), 0, side - 1)
    high = np.clip(low + 1, 0, side - 1)
    weight = np.clip(coordinates - low, 0, 1)
    values = image.astype(np.float64)
    rows = values[low] * (1 - weight)[:, None] + values[high] * weight[:, None]
    return rows[:, low] * (1 - weight)[None, :] + rows[:, high] * weight[None, :]


def render(image, index):
    """Dark ink on paper, enlarged, at a place that depends on the index."""
    ink = upscale(image, SCALE) / 255
    page = np.full((PAGE_HEIGHT, PAGE_WIDTH), float(PAPER))
    size = ink.shape[0]
    left = 8 + (index * 37) % (PAGE_WIDTH - size - 16)
    top = 8 + (index * 17) % (PAGE_HEIGHT - size - 16)
    region = page[top:top + size, left:left + size]
    page[top:top + size, left:left + size] = region - (PAPER - INK) * ink
    return np.clip(np.rint(page), 0, 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=10000, help="how many test images, from the first (default: all)")
    parser.add_argument("--data-dir", default="data/mnist")
    arguments = parser.parse_args()
    images = read_idx(find(arguments.data_dir, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(arguments.data_dir, "t10k-labels-idx1-ubyte"))
    os.makedirs(arguments.out_dir, exist_ok=True)
    for index in range(min(arguments.count, len(images))):
        path = os.path.join(arguments.out_dir, f"{index:05d}-label{labels[index]}.png")
        with open(path, "wb") as file:
            file.write(png(render(images[index], index)))


if __name__ == "__main__":
    main()
