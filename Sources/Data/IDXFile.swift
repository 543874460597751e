/// An IDX file of unsigned bytes, opened with its header read and validated. Its items are then
/// streamed once, in order, keeping only a requested range of them in memory.
final class IDXFile {
    let path: String
    let kind: IDXKind
    /// The item count first, then each item's shape (rows and columns for images).
    let dimensions: [Int]
    /// Bytes per item: rows × columns for an image, 1 for a label.
    let itemSize: Int
    private let source: any ByteSource

    var itemCount: Int { dimensions[0] }

    private static let chunkSize = 1 << 20
    /// The most payload bytes a header may announce: 20 times MNIST's training images, and more
    /// than any IDX dataset of bytes in use (EMNIST's largest split is 638 MB).
    static let maximumPayloadSize = 1 << 30

    init(path: String, kind: IDXKind) throws(IDXError) {
        self.path = path
        self.kind = kind
        source = try openByteSource(path: path)

        let headerSize = 4 + 4 * kind.dimensionCount
        let (header, bytesHeld) = try Self.readBigEndianWords(1 + kind.dimensionCount, from: source)
        // A wrong magic number explains a short header better than the shortness does.
        let magic = header[0]
        if bytesHeld >= 4 && magic != kind.magic {
            if magic & ~0xFF == kind.magic & ~0xFF {
                throw .wrongDimensionCount(path: path, expected: kind.dimensionCount, found: Int(magic & 0xFF))
            }
            throw .badMagic(path: path, expected: kind.magic, found: magic)
        }
        guard bytesHeld == headerSize else {
            throw .truncatedHeader(path: path, bytesHeld: bytesHeld, bytesNeeded: headerSize)
        }

        dimensions = header.dropFirst().map { Int($0) }
        guard !dimensions.contains(0) else {
            throw .zeroDimension(path: path, dimensions: dimensions)
        }
        var payloadSize = 1
        for extent in dimensions {
            let (product, overflow) = payloadSize.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Self.maximumPayloadSize else {
                throw .dimensionsTooLarge(path: path, dimensions: dimensions)
            }
            payloadSize = product
        }
        itemSize = payloadSize / dimensions[0]
    }

    /// The most payload bytes the file can really yield: what to size buffers by, never the
    /// header's claim alone.
    var payloadBound: Int { min(itemCount * itemSize, source.byteLimit) }

    /// Streams the whole payload and returns the bytes of items `range` only. Every payload byte,
    /// kept or not, is shown to `inspect` along with its offset in the payload, so that a check
    /// covers the whole file whatever share of it is kept. The payload's length must match the
    /// header exactly.
    func readItems(
        _ range: Range<Int>,
        inspecting inspect: (UnsafeBufferPointer<UInt8>, _ payloadOffset: Int) throws(IDXError) -> Void = { _, _ in }
    ) throws(IDXError) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= itemCount, "items out of the file's bounds")
        let payloadSize = itemCount * itemSize
        let wanted = range.lowerBound * itemSize ..< range.upperBound * itemSize
        var kept: [UInt8] = []
        kept.reserveCapacity(min(wanted.count, payloadBound))

        let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.chunkSize)
        defer { chunk.deallocate() }
        var offset = 0
        while true {
            let count = try source.read(into: UnsafeMutableRawBufferPointer(chunk))
            let chunkBytes = offset ..< offset + count
            let payloadPart = chunkBytes.clamped(to: 0 ..< payloadSize)
            if !payloadPart.isEmpty {
                try inspect(UnsafeBufferPointer(rebasing: chunk[payloadPart.shifted(by: -offset)]), payloadPart.lowerBound)
            }
            let wantedPart = chunkBytes.clamped(to: wanted)
            if !wantedPart.isEmpty {
                kept.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[wantedPart.shifted(by: -offset)]))
            }
            offset += count
            if count < chunk.count { break }
        }

        if offset < payloadSize {
            throw .truncated(path: path, kind: kind, dimensions: dimensions, itemsHeld: offset / itemSize)
        }
        if offset > payloadSize {
            throw .trailingBytes(path: path, expectedBytes: payloadSize, extraBytes: offset - payloadSize)
        }
        return kept
    }

    /// Up to `count` words and the number of bytes actually read; words past those bytes are 0.
    private static func readBigEndianWords(
        _ count: Int, from source: any ByteSource
    ) throws(IDXError) -> (words: [UInt32], bytesRead: Int) {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 * count, alignment: 4)
        defer { bytes.deallocate() }
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        let bytesRead = try source.read(into: bytes)
        let words = (0 ..< count).map { word in
            bytes[4 * word ..< 4 * word + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        return (words, bytesRead)
    }
}

extension Range<Int> {
    /// The range `distance` further on.
    func shifted(by distance: Int) -> Range<Int> {
        lowerBound + distance ..< upperBound + distance
    }
}
