/// FNV-1a (64 bit) over the little-endian bytes of floats' bit patterns: a cheap fingerprint
/// that any change of any bit alters, for checkpoint checksums and for comparing replicas.
struct FloatFingerprint {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ values: some Sequence<Float>) {
        for element in values {
            var bits = element.bitPattern
            for _ in 0..<4 {
                value = (value ^ UInt64(bits & 0xFF)) &* 0x0000_0100_0000_01B3
                bits >>= 8
            }
        }
    }
}
