import CZlib
import Data
import Foundation
import TestSupport

/// The vendored MNIST files.
let mnistDirectory = ProcessRunner.shippedMNIST

extension TemporaryDirectory {
    /// Writes `bytes` to `name` in this directory, gzip'd first when `name` ends in `.gz`, and
    /// returns the file's path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let path = file(name)
        if name.hasSuffix(".gz") {
            try writeGzip(bytes, to: path)
        } else {
            try Data(bytes).write(to: URL(filePath: path))
        }
        return path
    }

    /// Writes a split's two files, compressed or not, and returns their paths.
    @discardableResult
    func writeSplit(
        _ split: MNISTSplit, images: [UInt8], labels: [UInt8], compressed: Bool
    ) throws -> (images: String, labels: String) {
        let suffix = compressed ? ".gz" : ""
        return (
            try write(images, to: split.imagesStem + suffix),
            try write(labels, to: split.labelsStem + suffix)
        )
    }
}

/// An IDX images file: the header as given, then `pixels`.
func imagesFile(magic: UInt32 = 0x0000_0803, dimensions: [UInt32], pixels: [UInt8]) -> [UInt8] {
    IDXFixture.bytes(magic: magic, dimensions: dimensions, body: pixels)
}

/// `count` distinct images of `rows` × `columns` with a valid header.
func imagesFile(count: Int, rows: Int = 2, columns: Int = 3) -> [UInt8] {
    imagesFile(
        dimensions: [UInt32(count), UInt32(rows), UInt32(columns)],
        pixels: (0 ..< count * rows * columns).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    )
}

/// An IDX labels file: the header as given, then `labels`.
func labelsFile(magic: UInt32 = 0x0000_0801, count: UInt32? = nil, labels: [UInt8]) -> [UInt8] {
    IDXFixture.bytes(magic: magic, dimensions: [count ?? UInt32(labels.count)], body: labels)
}

/// Writes `bytes` to `path` as a single-member gzip stream, by zlib itself.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    guard let file = gzopen(path, "wb9") else { throw CocoaError(.fileWriteUnknown) }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    guard gzclose(file) == Z_OK, written == bytes.count else { throw CocoaError(.fileWriteUnknown) }
}

/// The decompressed contents of a gzip stream, inflated by zlib itself through a scratch file.
func gunzipped(_ compressed: [UInt8]) throws -> [UInt8] {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("scratch.gz")
    try Data(compressed).write(to: URL(filePath: path))
    guard let file = gzopen(path, "rb") else { throw CocoaError(.fileReadUnknown) }
    defer { gzclose(file) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        guard count >= 0 else { throw CocoaError(.fileReadCorruptFile) }
        contents += chunk.prefix(Int(count))
        if count == 0 { return contents }
    }
}
