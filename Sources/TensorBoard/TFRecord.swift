/// TFRecord framing, the container of TensorBoard's event files: per record its length as a
/// little-endian UInt64, the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C
/// of the data (a little-endian UInt32 each).
public enum TFRecord {
    public static func framed(_ data: [UInt8]) -> [UInt8] {
        let length = littleEndianBytes(UInt64(data.count))
        var record = length
        record.reserveCapacity(data.count + 16)
        record += littleEndianBytes(CRC32C.masked(length))
        record += data
        record += littleEndianBytes(CRC32C.masked(data))
        return record
    }

    private static func littleEndianBytes<Integer: FixedWidthInteger>(_ value: Integer) -> [UInt8] {
        (0 ..< Integer.bitWidth / 8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}
