#!/usr/bin/env bash
# Regenerates Sources/TensorBoard/Generated/*.pb.swift, the swift-protobuf messages of the
# TensorBoard event format, which are committed so that no build runs protoc. Run it only when
# TensorBoard's format or swift-protobuf's generator changes.
#
# The message definitions come from the installed `tensorboard` PyPI package (Apache-2.0): its
# wheel ships the compiled descriptors (*_pb2.py), not the .proto sources, so this script reads
# the descriptors of the files the writer needs into a descriptor set and gives that to protoc
# (`--descriptor_set_in`), exactly as if the .proto files were at hand.
#
# Needs: protoc (Debian's protobuf-compiler), python3 with tensorboard, and protoc-gen-swift built
# from the swift-protobuf version Package.swift resolves (its first build takes several minutes,
# so it is built once in a scratch directory, never in this repository):
#   git clone https://github.com/apple/swift-protobuf /tmp/swift-protobuf-gen
#   git -C /tmp/swift-protobuf-gen checkout 1.39.0
#   (cd /tmp/swift-protobuf-gen && swift build -c release --product protoc-gen-swift)
#   scripts/generate-tensorboard-protos.sh /tmp/swift-protobuf-gen/.build/release/protoc-gen-swift
set -euo pipefail
cd "$(dirname "$0")/.."
plugin=${1:?usage: $0 PATH/TO/protoc-gen-swift}
output=Sources/TensorBoard/Generated
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

python3 - "$scratch/tensorboard.pb" <<'PYTHON'
import sys
from google.protobuf import descriptor_pb2
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

# Each file after the files it imports, as protoc wants them.
files, names = descriptor_pb2.FileDescriptorSet(), set()
def add(descriptor):
    for dependency in descriptor.dependencies:
        add(dependency)
    if descriptor.name not in names:
        names.add(descriptor.name)
        descriptor.CopyToProto(files.file.add())
add(event_pb2.DESCRIPTOR)
add(plugin_data_pb2.DESCRIPTOR)
open(sys.argv[1], "wb").write(files.SerializeToString())
PYTHON

rm -f "$output"/*.pb.swift
# google/protobuf/struct.proto is in the descriptor set for protoc's sake; its Swift types come
# with the SwiftProtobuf library.
protoc --descriptor_set_in="$scratch/tensorboard.pb" --plugin=protoc-gen-swift="$plugin" \
    --swift_opt=FileNaming=DropPath --swift_out="$output" \
    tensorboard/compat/proto/{histogram,tensor_shape,types,resource_handle,tensor,summary,event}.proto \
    tensorboard/plugins/hparams/{api,plugin_data}.proto
for file in "$output"/*.pb.swift; do
    { echo "// The message definitions are TensorBoard's: Copyright The TensorFlow Authors, Apache License 2.0."
      cat "$file"; } > "$scratch/file" && mv "$scratch/file" "$file"
done
ls "$output"
