#!/usr/bin/env python3
"""Writes MNIST's IDX files as an image folder, the layout torchvision's ImageFolder and
`mnist-ddp train --data-dir` read: OUT_DIR/train/DIGIT/NNNNN.png and OUT_DIR/test/DIGIT/NNNNN.png,
28×28 8-bit grey, each file named by its index in the split. For trying image folders on data
whose IDX results are known, and for timing their decoding. Needs only Python's standard library.

    scripts/mnist_to_image_folder.py OUT_DIR [--train N] [--test N] [--data-dir data/mnist]
"""
import argparse
import gzip
import os
import struct
import zlib


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, columns = struct.unpack(">II", data[8:16])
        size = rows * columns
        return [data[16 + i * size:16 + (i + 1) * size] for i in range(count)], rows, columns
    return list(data[8:8 + count]), None, None


def idx_path(directory, stem):
    compressed = os.path.join(directory, stem + ".gz")
    return compressed if os.path.exists(compressed) else os.path.join(directory, stem)


def png(pixels, rows, columns):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + pixels[row * columns:(row + 1) * columns] for row in range(rows))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", columns, rows, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--train", type=int, default=None, help="the first N training images (default: all)")
    parser.add_argument("--test", type=int, default=None, help="the first N test images (default: all)")
    parser.add_argument("--data-dir", default="data/mnist")
    arguments = parser.parse_args()
    for split, prefix, count in [("train", "train", arguments.train), ("test", "t10k", arguments.test)]:
        images, rows, columns = read_idx(idx_path(arguments.data_dir, prefix + "-images-idx3-ubyte"))
        labels, _, _ = read_idx(idx_path(arguments.data_dir, prefix + "-labels-idx1-ubyte"))
        for index in range(len(images) if count is None else min(count, len(images))):
            folder = os.path.join(arguments.out_dir, split, str(labels[index]))
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "%05d.png" % index), "wb") as file:
                file.write(png(images[index], rows, columns))


if __name__ == "__main__":
    main()
