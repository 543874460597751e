#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a path could not be opened as a regular file for reading.
public enum RegularFileError: Error, Equatable, CustomStringConvertible {
    /// Nothing exists at the path.
    case missing
    /// Something exists but is not a regular file: a directory, a FIFO, a device, a socket.
    case notRegular(kind: String)
    /// The system refused; `reason` is its error text.
    case system(reason: String)

    public var description: String {
        switch self {
        case .missing: "no such file"
        case .notRegular(let kind): "not a regular file (a \(kind))"
        case .system(let reason): reason
        }
    }
}

/// A regular file open for reading, closed when released.
///
/// Opening is non-blocking and the type is checked on the open descriptor before anything is
/// read: a plain `open` of a FIFO waits for a writer forever, and a check by path before the
/// open could be raced by a rename.
public final class RegularFile {
    public let descriptor: Int32
    /// The size when opened.
    public let size: Int

    public init(openingForReading path: String) throws(RegularFileError) {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw errno == ENOENT ? .missing : .system(reason: systemErrorText())
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = systemErrorText()
            close(descriptor)
            throw .system(reason: reason)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw .notRegular(kind: fileKind(status.st_mode))
        }
        // Reads of a regular file never block anyway; cleared so that reads behave as usual.
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let reason = systemErrorText()
            close(descriptor)
            throw .system(reason: reason)
        }
        self.descriptor = descriptor
        size = Int(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    /// Fills `buffer` from the current offset, retrying interrupted and short reads; returns
    /// fewer bytes than asked only at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(RegularFileError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var filled = 0
        while filled < buffer.count {
            let got = systemRead(descriptor, base + filled, buffer.count - filled)
            if got > 0 {
                filled += got
            } else if got == 0 {
                break
            } else if errno != EINTR {
                throw .system(reason: systemErrorText())
            }
        }
        return filled
    }
}

/// POSIX `read`, under a name that `RegularFile.read(into:)` does not shadow.
private func systemRead(_ descriptor: Int32, _ destination: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, destination, count)
}

private func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: "directory"
    case S_IFIFO: "FIFO"
    case S_IFCHR: "character device"
    case S_IFBLK: "block device"
    case S_IFSOCK: "socket"
    default: "special file"
    }
}

private func systemErrorText() -> String {
    String(cString: strerror(errno))
}
