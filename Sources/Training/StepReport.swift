#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rank 0's count of the steps taken, rewritten in place after every step (a few bytes into the
/// page cache, no sync), so that a launcher that restarts a failed job can say how many steps
/// the failure lost: those after the checkpoint it resumes from.
public final class StepReport {
    /// The report's name in the checkpoint directory, which rank 0 and the launcher both reach.
    public static let fileName = ".launch-steps"
    /// Wide enough for any step count, so that each record overwrites the whole previous one.
    static let width = 20
    private let descriptor: Int32

    /// Opens `path` for the report, or nil when it cannot be written (the report is then missing,
    /// and training goes on without it).
    public init?(path: String) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
    }

    deinit { close(descriptor) }

    func record(step: Int) {
        let digits = String(step)
        let text = digits + String(repeating: " ", count: Self.width - 1 - digits.count) + "\n"
        _ = text.withCString { pwrite(descriptor, $0, Self.width, 0) }
    }

    /// The steps taken that the report at `path` records, or nil when it holds none.
    public static func steps(recordedAt path: String) -> Int? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: width + 1)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        return Int(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).filter(\.isNumber))
    }
}
