/// FNV-1a (64 bit) over the little-endian bytes of floats' bit patterns (and of texts): a cheap
/// fingerprint that any change of any bit alters, for checkpoint checksums and for comparing
/// replicas.
struct FloatFingerprint {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ values: some Sequence<Float>) {
        for element in values {
            var bits = element.bitPattern
            for _ in 0..<4 {
                addByte(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
            }
        }
    }

    /// Adds the UTF-8 bytes of `text`, preceded by their count, so that consecutive texts cannot run together
    /// ("ab" + "c" differs from "a" + "bc").
    mutating func add(text: String) {
        var count = UInt64(text.utf8.count)
        for _ in 0..<8 {
            addByte(UInt8(truncatingIfNeeded: count))
            count >>= 8
        }
        for byte in text.utf8 { addByte(byte) }
    }

    private mutating func addByte(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
}
