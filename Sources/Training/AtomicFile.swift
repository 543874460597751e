#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why `writeAtomically` failed: the file it was writing, the step that failed and the system's
/// reason.
public struct AtomicWriteError: Error, Equatable, CustomStringConvertible {
    /// The steps of an atomic write, in order.
    public enum Step: String, Sendable {
        case createTemporary = "create its temporary file"
        case write = "write its temporary file"
        case syncFile = "flush its temporary file to disk"
        case rename = "rename its temporary file into place"
        case syncDirectory = "flush its directory to disk"
    }

    public let path: String
    public let step: Step
    /// The system's error text (`strerror`).
    public let reason: String

    public init(path: String, step: Step, reason: String) {
        self.path = path
        self.step = step
        self.reason = reason
    }

    public var description: String { "cannot write \(path): could not \(step.rawValue): \(reason)" }
}

/// Replaces the file at `path` with `bytes` so that a reader, or a restart after a crash or
/// power loss, sees either the old content or the new, never a mixture or a partial file.
///
/// The bytes go to a temporary file beside `path` (same directory, so the rename cannot cross
/// file systems), are flushed to disk, and the temporary is renamed over `path`; then the
/// directory is flushed so the rename itself survives power loss. On failure before the rename
/// the temporary is removed and `path` is untouched; a failure flushing the directory is
/// reported although the new file is already in place.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws(AtomicWriteError) {
    func ensure(_ succeeded: Bool, _ step: AtomicWriteError.Step) throws(AtomicWriteError) {
        guard succeeded else { throw AtomicWriteError(path: path, step: step, reason: systemErrorText()) }
    }

    let temporary = temporaryPath(forWritingTo: path)
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    try ensure(descriptor >= 0, .createTemporary)
    do {
        do {
            defer { close(descriptor) }
            try ensure(writeAll(bytes, to: descriptor), .write)
            try ensure(fsync(descriptor) == 0, .syncFile)
        }
        try ensure(rename(temporary, path) == 0, .rename)
    } catch {
        unlink(temporary)
        throw error
    }
    try ensure(syncDirectory(containing: path), .syncDirectory)
}

/// The temporary file `writeAtomically` uses for `path`: hidden, and unique to this process,
/// so that concurrent writers in other processes never share one.
public func temporaryPath(forWritingTo path: String) -> String {
    let nameStart = path.lastIndex(of: "/").map(path.index(after:)) ?? path.startIndex
    return "\(path[..<nameStart]).\(path[nameStart...]).tmp-\(getpid())"
}

/// The directory holding `path`: `.` when the path names none.
private func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// Writes all of `bytes`, retrying short and interrupted writes; false with `errno` set on failure.
private func writeAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
    bytes.withUnsafeBytes { buffer in
        var written = 0
        while written < buffer.count {
            let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            written += count
        }
        return true
    }
}

/// Flushes the directory holding `path`, which makes a rename in it durable; false with
/// `errno` set on failure.
private func syncDirectory(containing path: String) -> Bool {
    let descriptor = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    return fsync(descriptor) == 0
}

/// The text for the current `errno`.
func systemErrorText() -> String {
    String(cString: strerror(errno))
}
