#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Reads and validates the file at `path`.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let bytes: [UInt8]
        do {
            bytes = try readFile(at: path)
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
        let header = bytes[8..<dataStart]
        guard String(validating: header, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        guard header.first == UInt8(ascii: "{") else { throw .headerNotObject }

        let json: HeaderJSON
        do {
            json = try HeaderJSONParser.parse(header)
        } catch {
            switch error {
            case .syntax(let offset, let reason): throw .malformedJSON(offset: 8 + offset, reason: reason)
            case .duplicateKey(let key): throw .duplicateKey(key)
            }
        }
        // A text that starts with '{' and parses is an object; the pattern only unwraps it.
        guard case .object(let members) = json else { throw .headerNotObject }

        var metadata: [String: String] = [:]
        var tensors: [TensorEntry] = []
        for (key, value) in members {
            if key == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                tensors.append(try parseTensorEntry(name: key, value))
            }
        }
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }
        let covered = try validateLayout(of: tensors)
        guard covered == bytes.count - dataStart else {
            throw .bufferNotCovered(coveredBytes: covered, bufferBytes: bytes.count - dataStart)
        }
        return (metadata, tensors, dataStart)
    }

    private static func parseMetadata(_ value: HeaderJSON) throws(SafeTensorsError.Problem) -> [String: String] {
        guard case .object(let members) = value else { throw .metadataNotObject }
        var metadata: [String: String] = [:]
        for (key, value) in members {
            guard case .string(let string) = value else { throw .metadataValueNotString(key: key) }
            metadata[key] = string
        }
        return metadata
    }

    private static func parseTensorEntry(name: String, _ value: HeaderJSON) throws(SafeTensorsError.Problem) -> TensorEntry {
        guard case .object(let members) = value else { throw .tensorInfoNotObject(tensor: name) }
        func field(_ field: String) throws(SafeTensorsError.Problem) -> HeaderJSON {
            guard let member = members.first(where: { $0.key == field }) else {
                throw .missingField(tensor: name, field: field)
            }
            return member.value
        }

        guard case .string(let dtypeName) = try field("dtype") else {
            throw .invalidField(tensor: name, field: "dtype", expected: "a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }

        guard case .array(let dimensions) = try field("shape"),
              dimensions.allSatisfy({ $0.naturalNumber != nil })
        else {
            throw .invalidField(tensor: name, field: "shape", expected: "an array of non-negative integers")
        }

        guard case .array(let offsets) = try field("data_offsets"), offsets.count == 2,
              let begin = offsets[0].naturalNumber, let end = offsets[1].naturalNumber
        else {
            throw .invalidField(tensor: name, field: "data_offsets", expected: "two non-negative integers [begin, end]")
        }
        guard begin <= end else { throw .offsetsReversed(tensor: name, begin: begin, end: end) }

        return TensorEntry(name: name, dtype: dtype, shape: dimensions.map { $0.naturalNumber! }, dataOffsets: begin..<end)
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

/// The whole content of the file at `path`.
private func readFile(at path: String) throws(SafeTensorsError.Problem) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw .unreadable(reason: String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else { throw .unreadable(reason: String(cString: strerror(errno))) }

    var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
    var filled = 0
    while filled < bytes.count {
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw .unreadable(reason: String(cString: strerror(errno))) }
        guard count > 0 else { throw .unreadable(reason: "file shrank while being read") }
        filled += count
    }
    return bytes
}
