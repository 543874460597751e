/// The identity of one training run: 16 lowercase hexadecimal digits, drawn from the system's
/// random source when a run starts fresh and kept by every resume of it. Each checkpoint records
/// the run that wrote it, so that a run prunes only its own checkpoints.
public struct RunID: Hashable, Sendable, CustomStringConvertible {
    public let description: String

    /// The id spelled by `text`, or nil unless it is exactly 16 lowercase hexadecimal digits.
    public init?(_ text: String) {
        guard text.utf8.count == 16,
              text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        description = text
    }

    /// A new id from the operating system's random source.
    public static func random() -> RunID {
        var generator = SystemRandomNumberGenerator()
        return RunID(value: generator.next())
    }

    /// The id whose digits are `value`'s.
    init(value: UInt64) {
        description = sixteenHexadecimalDigits(value)
    }
}

/// `value` in lowercase hexadecimal, zero-padded to 16 digits.
func sixteenHexadecimalDigits(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
