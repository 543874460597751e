/// A tensor to be written: its name, dtype, shape and elements as little-endian bytes.
public struct NamedTensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let littleEndianBytes: [UInt8]

    /// A tensor of any dtype from its encoded bytes, which must be exactly as many as the dtype
    /// and shape need.
    public init(name: String, dtype: DType, shape: [Int], littleEndianBytes: [UInt8]) {
        precondition(name != "__metadata__", "\"__metadata__\" is reserved for the header's metadata")
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor \"\(name)\": negative dimension in \(shape)")
        precondition(
            bitCount(dtype: dtype, shape: shape) == littleEndianBytes.count * 8,
            "tensor \"\(name)\": \(littleEndianBytes.count) bytes do not hold \(dtype.rawValue) \(shape)")
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.littleEndianBytes = littleEndianBytes
    }

    /// An F32 tensor of `values` in row-major order.
    public init(name: String, shape: [Int], floats values: [Float]) {
        self.init(name: name, dtype: .f32, shape: shape, littleEndianBytes: encodeLittleEndian(values.map(\.bitPattern)))
    }

    /// An I64 tensor of `values` in row-major order.
    public init(name: String, shape: [Int], int64s values: [Int64]) {
        self.init(name: name, dtype: .i64, shape: shape, littleEndianBytes: encodeLittleEndian(values))
    }
}

extension SafeTensorsFile {
    /// The bytes of a safetensors file holding `tensors` and `metadata`.
    ///
    /// Deterministic: tensors are laid out in name order (the reference writer orders by
    /// alignment first, which the specification leaves free), metadata keys are sorted, and the
    /// header is padded with spaces so that the data starts 8-byte aligned, as the reference
    /// writer pads it. Tensor names must be unique.
    public static func serialize(_ tensors: [NamedTensor], metadata: [String: String] = [:]) -> [UInt8] {
        let ordered = tensors.sorted { $0.name < $1.name }
        precondition(
            zip(ordered, ordered.dropFirst()).allSatisfy { $0.name != $1.name },
            "tensor names must be unique")

        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { jsonQuoted($0.key) + ":" + jsonQuoted($0.value) }
            members.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in ordered {
            let end = offset + tensor.littleEndianBytes.count
            members.append(
                jsonQuoted(tensor.name) + ":{\"dtype\":\"\(tensor.dtype.rawValue)\","
                    + "\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
                    + "\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + members.joined(separator: ",") + "}").utf8)
        header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)

        var file = encodeLittleEndian([UInt64(header.count)])
        file.reserveCapacity(8 + header.count + offset)
        file += header
        for tensor in ordered {
            file += tensor.littleEndianBytes
        }
        return file
    }
}

private func encodeLittleEndian<Word: FixedWidthInteger>(_ words: [Word]) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(words.count * MemoryLayout<Word>.size)
    for word in words {
        withUnsafeBytes(of: word.littleEndian) { bytes += $0 }
    }
    return bytes
}
