/// What an IDX file holds: MNIST images (a rank-3 array of bytes) or labels (a rank-1 array).
public enum IDXKind: Sendable, Equatable {
    case images
    case labels

    /// The number of dimensions its header lists: count, then rows and columns for images.
    public var dimensionCount: Int {
        switch self {
        case .images: 3
        case .labels: 1
        }
    }

    /// The magic number that opens the file: two zero bytes, 0x08 (unsigned bytes), then the
    /// dimension count.
    public var magic: UInt32 {
        0x0000_0800 | UInt32(dimensionCount)
    }
}

/// Why an IDX file (or a pair of them) cannot be used; every case names the file at fault.
public enum IDXError: Error, Equatable, CustomStringConvertible {
    /// Neither the file nor, where one is accepted, its alternative exists.
    case missingFile(path: String)
    /// The file exists but cannot be opened or read.
    case unreadableFile(path: String, reason: String)
    /// The file is named `.gz` but does not begin with the gzip signature.
    case notGzip(path: String, leadingBytes: [UInt8])
    /// The gzip stream is damaged: bad deflate data, checksum mismatch, cut short, or followed
    /// by other bytes.
    case corruptGzip(path: String, reason: String)
    /// The file ends inside its header.
    case truncatedHeader(path: String, bytesHeld: Int, bytesNeeded: Int)
    /// The first four bytes are not the magic number of the expected kind of file.
    case badMagic(path: String, expected: UInt32, found: UInt32)
    /// The magic number says unsigned bytes, but with the wrong number of dimensions.
    case wrongDimensionCount(path: String, expected: Int, found: Int)
    /// A dimension in the header is zero.
    case zeroDimension(path: String, dimensions: [Int])
    /// The header's dimensions multiply beyond the largest IDX file the reader accepts.
    case dimensionsTooLarge(path: String, dimensions: [Int])
    /// The file holds fewer items than its header announces (`itemsHeld` whole ones).
    case truncated(path: String, kind: IDXKind, dimensions: [Int], itemsHeld: Int)
    /// Bytes follow the last item the header announces.
    case trailingBytes(path: String, expectedBytes: Int, extraBytes: Int)
    /// The images file and the labels file disagree on the number of samples.
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    /// A label is not below the class count (MNIST's: a digit 0–9); `index` is its position in
    /// the whole file.
    case labelOutOfRange(path: String, index: Int, value: UInt8, classCount: Int = MNISTDataset.classCount)
    /// The caller asked for samples the file does not have.
    case sampleRangeOutOfBounds(path: String, requested: Range<Int>, available: Int)

    public var description: String {
        switch self {
        case let .missingFile(path):
            "\(path): no such file"
        case let .unreadableFile(path, reason):
            "\(path): cannot read: \(reason)"
        case let .notGzip(path, leadingBytes):
            "\(path): not a gzip file: starts with \(hex(leadingBytes)), gzip starts with 1f 8b"
        case let .corruptGzip(path, reason):
            "\(path): corrupt gzip stream: \(reason)"
        case let .truncatedHeader(path, held, needed):
            "\(path): truncated header: \(held) of \(needed) bytes"
        case let .badMagic(path, expected, found):
            "\(path): bad magic number: expected \(hex(expected)), found \(hex(found))"
        case let .wrongDimensionCount(path, expected, found):
            "\(path): header lists \(found) dimensions, expected \(expected)"
        case let .zeroDimension(path, dimensions):
            "\(path): header has a zero dimension: \(shape(dimensions))"
        case let .dimensionsTooLarge(path, dimensions):
            "\(path): header dimensions \(shape(dimensions)) exceed the \(IDXFile.maximumPayloadSize >> 30) GiB an IDX file may hold"
        case let .truncated(path, kind, dimensions, held):
            "\(path): truncated: header says \(contents(kind, dimensions)), file holds \(held)"
        case let .trailingBytes(path, expected, extra):
            "\(path): \(extra) unexpected bytes after the \(expected) bytes of data"
        case let .countMismatch(imagesPath, images, labelsPath, labels):
            "\(imagesPath): holds \(images) images but \(labelsPath) holds \(labels) labels"
        case let .labelOutOfRange(path, index, value, classCount):
            "\(path): label \(index) is \(value), expected \(classCount == MNISTDataset.classCount ? "a digit" : "a label") 0–\(classCount - 1)"
        case let .sampleRangeOutOfBounds(path, requested, available):
            "\(path): samples \(requested.lowerBound)..<\(requested.upperBound) requested, file holds \(available)"
        }
    }
}

private func contents(_ kind: IDXKind, _ dimensions: [Int]) -> String {
    switch kind {
    case .images: "\(dimensions[0]) images of \(shape(dimensions.dropFirst()))"
    case .labels: "\(dimensions[0]) labels"
    }
}

private func shape(_ dimensions: some Collection<Int>) -> String {
    dimensions.map(String.init).joined(separator: "×")
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

private func hex(_ bytes: [UInt8]) -> String {
    bytes.isEmpty
        ? "nothing (empty file)"
        : bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined(separator: " ")
}
