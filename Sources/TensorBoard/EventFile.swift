#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an event file could not be created or written: the path and the system's reason.
public struct EventFileError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// One `events.out.tfevents.*` file, written a whole record at a time straight to the file
/// descriptor (nothing is buffered), so that a TensorBoard reading it meanwhile sees each record
/// as soon as it is written. A record that cannot be written whole is cut off again, so the file
/// never ends in a partial record.
final class EventFile {
    let path: String
    private let descriptor: Int32
    /// The length of the records written whole.
    private var length: off_t = 0

    /// Creates a new event file in `directory` (made with its parents if needed), named as
    /// TensorFlow names them: the time in seconds, the host, the process; never an existing file.
    init(directory: String, host: String) throws(EventFileError) {
        try Self.makeDirectories(directory)
        let stem = "\(directory)/events.out.tfevents.\(Self.paddedSeconds()).\(host).\(getpid())"
        var attempt = 0
        while true {
            let candidate = attempt == 0 ? stem : "\(stem).\(attempt)"
            let descriptor = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if descriptor >= 0 {
                path = candidate
                self.descriptor = descriptor
                return
            }
            guard errno == EEXIST else { throw EventFileError(path: candidate, reason: Self.systemReason()) }
            attempt += 1
        }
    }

    deinit { close(descriptor) }

    /// Appends `data` as one TFRecord.
    func append(_ data: [UInt8]) throws(EventFileError) {
        let record = TFRecord.framed(data)
        var written = 0
        while written < record.count {
            let result = record.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                let reason = result == 0 ? "nothing written" : Self.systemReason()
                _ = ftruncate(descriptor, length)
                _ = lseek(descriptor, length, SEEK_SET)
                throw EventFileError(path: path, reason: reason)
            }
            written += result
        }
        length += off_t(record.count)
    }

    /// `mkdir -p`: each missing component of `path`, in order.
    private static func makeDirectories(_ path: String) throws(EventFileError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw EventFileError(path: prefix, reason: systemReason())
            }
            var status = stat()
            guard stat(prefix, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw EventFileError(path: prefix, reason: "not a directory")
            }
            prefix += "/"
        }
    }

    private static func paddedSeconds() -> String {
        let seconds = String(time(nil))
        return String(repeating: "0", count: max(0, 10 - seconds.count)) + seconds
    }

    private static func systemReason() -> String { String(cString: strerror(errno)) }
}

/// Seconds since the Unix epoch, as events record their time.
func wallTime() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
