import RegularFile

/// One tensor's description in a header.
public struct TensorEntry: Equatable, Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// The tensor's bytes within the data buffer that follows the header (the header's
    /// `data_offsets`).
    public let dataOffsets: Range<Int>
}

/// A parsed safetensors file: its metadata, its tensors' descriptions and its bytes.
///
/// Layout, per the specification: an 8-byte little-endian header length N; N bytes of UTF-8
/// JSON mapping each tensor name to `{"dtype", "shape", "data_offsets"}`, plus an optional
/// `"__metadata__"` object of strings; then the data buffer, which the tensors' offsets must
/// tile exactly, without gaps or overlaps.
public struct SafeTensorsFile: Sendable {
    /// The largest header the reference implementation accepts.
    public static let maximumHeaderLength: UInt64 = 100_000_000
    /// Far more tensors than any model this reader is for (ours has 18 with Adam's moments),
    /// and few enough that a header of tiny entries cannot make the reader hoard memory: tensors
    /// of zero elements take no bytes of the file, so its size does not bound their number.
    public static let maximumTensorCount = 65_536
    public static let maximumMetadataCount = 65_536
    /// PyTorch's limit on a tensor's dimensions.
    public static let maximumRank = 64

    /// The path or label errors name.
    public let source: String
    /// The header's `"__metadata__"`, empty when absent.
    public let metadata: [String: String]
    /// Every tensor, in the order of their data in the buffer.
    public let tensors: [TensorEntry]

    /// The whole file, header included: what to send to a process that should read it too.
    public let bytes: [UInt8]
    private let dataStart: Int
    private let tensorIndices: [String: Int]

    /// Reads and validates the file at `path`, which must be a regular file of at most
    /// `maximumSize` bytes.
    public init(contentsOf path: String, maximumSize: Int = .max) throws(SafeTensorsError) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(at: path, limit: maximumSize)
        } catch {
            throw SafeTensorsError(file: path, problem: error)
        }
        try self.init(bytes: bytes, source: path)
    }

    /// Validates `bytes` as a complete safetensors file; `source` names it in errors.
    public init(bytes: [UInt8], source: String) throws(SafeTensorsError) {
        do {
            (metadata, tensors, dataStart) = try Self.parse(bytes)
        } catch {
            throw SafeTensorsError(file: source, problem: error)
        }
        self.bytes = bytes
        self.source = source
        tensorIndices = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($0.element.name, $0.offset) })
    }

    /// The tensor called `name`, or nil.
    public func entry(named name: String) -> TensorEntry? {
        tensorIndices[name].map { tensors[$0] }
    }

    /// The raw little-endian bytes of `entry`, which must come from this file.
    public func data(of entry: TensorEntry) -> ArraySlice<UInt8> {
        bytes[dataStart + entry.dataOffsets.lowerBound ..< dataStart + entry.dataOffsets.upperBound]
    }

    /// The elements of the F32 tensor `name`, in row-major order; when `shape` is given, the
    /// tensor must have exactly that shape.
    public func floats(named name: String, shape: [Int]? = nil) throws(SafeTensorsError) -> [Float] {
        try elements(named: name, dtype: .f32, shape: shape) { (bits: UInt32) in Float(bitPattern: bits) }
    }

    /// The elements of the I64 tensor `name`, in row-major order; when `shape` is given, the
    /// tensor must have exactly that shape.
    public func int64s(named name: String, shape: [Int]? = nil) throws(SafeTensorsError) -> [Int64] {
        try elements(named: name, dtype: .i64, shape: shape) { (bits: UInt64) in Int64(bitPattern: bits) }
    }

    private func elements<Bits: FixedWidthInteger, Element>(
        named name: String, dtype: DType, shape: [Int]?, from bits: (Bits) -> Element
    ) throws(SafeTensorsError) -> [Element] {
        guard let entry = entry(named: name) else {
            throw SafeTensorsError(file: source, problem: .noSuchTensor(name))
        }
        guard entry.dtype == dtype else {
            throw SafeTensorsError(file: source, problem: .dtypeMismatch(tensor: name, expected: dtype, actual: entry.dtype))
        }
        if let shape, shape != entry.shape {
            throw SafeTensorsError(file: source, problem: .shapeMismatch(tensor: name, expected: shape, actual: entry.shape))
        }
        let stride = MemoryLayout<Bits>.size
        return data(of: entry).withUnsafeBytes { raw in
            (0..<raw.count / stride).map { index in
                bits(Bits(littleEndian: raw.loadUnaligned(fromByteOffset: index * stride, as: Bits.self)))
            }
        }
    }

    private static func parse(
        _ bytes: [UInt8]
    ) throws(SafeTensorsError.Problem) -> (metadata: [String: String], tensors: [TensorEntry], dataStart: Int) {
        guard bytes.count >= 8 else { throw .truncatedHeaderLength(fileSize: bytes.count) }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= maximumHeaderLength else { throw .headerTooLarge(length: headerLength) }
        guard headerLength <= bytes.count - 8 else {
            throw .truncatedHeader(length: headerLength, available: bytes.count - 8)
        }
        let dataStart = 8 + Int(headerLength)
        let (metadata, tensors) = try bytes[8..<dataStart].withUnsafeBufferPointer {
            header throws(SafeTensorsError.Problem) in try parseHeader(header)
        }
        let covered = try validateLayout(of: tensors)
        guard covered == bytes.count - dataStart else {
            throw .bufferNotCovered(coveredBytes: covered, bufferBytes: bytes.count - dataStart)
        }
        return (metadata, tensors, dataStart)
    }

    /// The metadata and the tensors (sorted by offset) of a header: checked as JSON first, so
    /// that a syntax error is reported as such wherever it is, then read against the schema.
    private static func parseHeader(
        _ header: UnsafeBufferPointer<UInt8>
    ) throws(SafeTensorsError.Problem) -> (metadata: [String: String], tensors: [TensorEntry]) {
        guard isValidUTF8(header) else { throw .headerNotUTF8 }
        guard header.first == UInt8(ascii: "{") else { throw .headerNotObject }
        do {
            try HeaderCursor.validate(header)
        } catch {
            switch error {
            case .syntax(let offset, let reason): throw .malformedJSON(offset: 8 + offset, reason: reason)
            }
        }

        var metadata: [String: String]?
        var tensors: [TensorEntry] = []
        var names = Set<String>()
        var cursor = HeaderCursor(header)
        try cursor.forEachMember { (cursor, key) throws(SafeTensorsError.Problem) in
            guard names.insert(key).inserted else { throw .duplicateKey(key) }
            if key == "__metadata__" {
                metadata = try parseMetadata(&cursor)
            } else {
                guard tensors.count < maximumTensorCount else { throw .tooManyTensors(limit: maximumTensorCount) }
                tensors.append(try parseTensorEntry(name: key, &cursor))
            }
        }
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        return (metadata ?? [:], tensors)
    }

    private static func parseMetadata(_ cursor: inout HeaderCursor) throws(SafeTensorsError.Problem) -> [String: String] {
        guard cursor.next == UInt8(ascii: "{") else { throw .metadataNotObject }
        var metadata: [String: String] = [:]
        try cursor.forEachMember { (cursor, key) throws(SafeTensorsError.Problem) in
            guard cursor.next == UInt8(ascii: "\"") else { throw .metadataValueNotString(key: key) }
            guard metadata.count < maximumMetadataCount else { throw .tooManyMetadataEntries(limit: maximumMetadataCount) }
            guard metadata.updateValue(cursor.readString(), forKey: key) == nil else { throw .duplicateKey(key) }
        }
        return metadata
    }

    /// One tensor's `{"dtype", "shape", "data_offsets"}`; other fields are skipped, as the
    /// reference reader skips them. Fields are checked in that order whatever their order in
    /// the file, so that a fault is reported the same way wherever it sits.
    private static func parseTensorEntry(
        name: String, _ cursor: inout HeaderCursor
    ) throws(SafeTensorsError.Problem) -> TensorEntry {
        guard cursor.next == UInt8(ascii: "{") else { throw .tensorInfoNotObject(tensor: name) }
        // Each field: absent (nil), or present and valid (a value), or present and invalid.
        var dtypeName: String??
        var shape: [Int]??
        var offsets: [Int]??
        var fields = Set<String>()
        try cursor.forEachMember { (cursor, field) throws(SafeTensorsError.Problem) in
            guard fields.insert(field).inserted else { throw .duplicateKey(field) }
            switch field {
            case "dtype":
                if cursor.next == UInt8(ascii: "\"") {
                    dtypeName = .some(cursor.readString())
                } else {
                    dtypeName = .some(nil)
                    cursor.skipValueOfValidText()
                }
            case "shape": shape = readNaturalNumbers(&cursor, atMost: maximumRank)
            case "data_offsets": offsets = readNaturalNumbers(&cursor, atMost: 2)
            default: cursor.skipValueOfValidText()
            }
        }

        guard let dtypeName else { throw .missingField(tensor: name, field: "dtype") }
        guard let dtypeName else { throw .invalidField(tensor: name, field: "dtype", expected: "a string") }
        guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
        guard let shape else { throw .missingField(tensor: name, field: "shape") }
        guard let shape else {
            throw .invalidField(
                tensor: name, field: "shape", expected: "an array of non-negative integers")
        }
        guard let offsets else { throw .missingField(tensor: name, field: "data_offsets") }
        guard let offsets, offsets.count == 2 else {
            throw .invalidField(tensor: name, field: "data_offsets", expected: "two non-negative integers [begin, end]")
        }
        guard offsets[0] <= offsets[1] else { throw .offsetsReversed(tensor: name, begin: offsets[0], end: offsets[1]) }
        return TensorEntry(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
    }

    /// The array under the cursor as at most `limit` natural numbers, or nil when it is anything
    /// else (the value is then skipped).
    private static func readNaturalNumbers(_ cursor: inout HeaderCursor, atMost limit: Int) -> [Int]? {
        guard cursor.next == UInt8(ascii: "[") else {
            cursor.skipValueOfValidText()
            return nil
        }
        var numbers: [Int] = []
        var valid = true
        cursor.forEachElement { cursor in
            let number = cursor.readNaturalNumber()
            guard valid, let number, numbers.count < limit else {
                valid = false
                return
            }
            numbers.append(number)
        }
        return valid ? numbers : nil
    }

    /// Checks that `tensors`, sorted by offset, tile the buffer from 0 without gaps or overlaps
    /// and that each spans exactly its dtype and shape; returns the number of bytes they cover.
    private static func validateLayout(of tensors: [TensorEntry]) throws(SafeTensorsError.Problem) -> Int {
        var expectedBegin = 0
        for tensor in tensors {
            guard tensor.dataOffsets.lowerBound == expectedBegin else {
                throw .offsetsNotContiguous(tensor: tensor.name, begin: tensor.dataOffsets.lowerBound, expectedBegin: expectedBegin)
            }
            guard let bits = bitCount(dtype: tensor.dtype, shape: tensor.shape) else {
                throw .shapeTooLarge(tensor: tensor.name, shape: tensor.shape)
            }
            guard bits % 8 == 0 else { throw .sizeNotWholeBytes(tensor: tensor.name, bits: bits) }
            guard tensor.dataOffsets.count == bits / 8 else {
                throw .sizeMismatch(
                    tensor: tensor.name, dtype: tensor.dtype, shape: tensor.shape,
                    expectedBytes: bits / 8, actualBytes: tensor.dataOffsets.count)
            }
            expectedBegin = tensor.dataOffsets.upperBound
        }
        return expectedBegin
    }
}

/// The number of bits a tensor of `dtype` and `shape` occupies, or nil when that overflows.
func bitCount(dtype: DType, shape: [Int]) -> Int? {
    var bits = dtype.bitSize
    for dimension in shape {
        let (product, overflow) = bits.multipliedReportingOverflow(by: dimension)
        guard !overflow else { return nil }
        bits = product
    }
    return bits
}

/// Whether `bytes` are UTF-8: checked by the standard library's fast validation, a bounded
/// chunk at a time so that it never copies more than that.
private func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let chunkSize = 1 << 16
    var start = 0
    while start < bytes.count {
        var end = min(start + chunkSize, bytes.count)
        // Never split a character: back up over continuation bytes (at most three).
        while end < bytes.count && end > start && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        if end == start { return false }
        guard String(validating: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self) != nil else { return false }
        start = end
    }
    return true
}

/// The whole content of the regular file at `path`, refused unread when larger than `limit`.
private func readFile(at path: String, limit: Int) throws(SafeTensorsError.Problem) -> [UInt8] {
    let file: RegularFile
    do {
        file = try RegularFile(openingForReading: path)
    } catch .missing {
        throw .unreadable(reason: "No such file or directory")
    } catch {
        throw .unreadable(reason: error.description)
    }
    guard file.size <= limit else { throw .fileTooLarge(size: file.size, limit: limit) }
    var bytes = [UInt8](repeating: 0, count: file.size)
    let read = bytes.withUnsafeMutableBytes { buffer in Result { () throws(RegularFileError) in try file.read(into: buffer) } }
    let count: Int
    do { count = try read.get() } catch { throw .unreadable(reason: error.description) }
    guard count == bytes.count else { throw .unreadable(reason: "file shrank while being read") }
    return bytes
}
