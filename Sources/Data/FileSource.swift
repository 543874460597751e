#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sequential reader of a file's bytes, decompressed if need be.
protocol ByteSource: AnyObject {
    /// At least as many bytes as the file can yield: used to size allocations by what the file
    /// can actually hold rather than by what its header claims.
    var byteLimit: Int { get }

    /// Fills `buffer` and returns its size, or returns fewer bytes only at the end of the data.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IDXError) -> Int
}

/// Opens `path` for sequential reading: decompressing if its name ends in `.gz`, as-is otherwise.
func openByteSource(path: String) throws(IDXError) -> any ByteSource {
    let file = try FileSource(path: path)
    return path.hasSuffix(".gz") ? try GzipSource(file: file) : file
}

/// The bytes of a regular file, read with POSIX calls.
final class FileSource: ByteSource {
    let path: String
    let byteLimit: Int
    private let descriptor: Int32

    init(path: String) throws(IDXError) {
        self.path = path
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw errno == ENOENT
                ? .missingFile(path: path) : .unreadableFile(path: path, reason: systemMessage())
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = systemMessage()
            close(descriptor)
            throw .unreadableFile(path: path, reason: reason)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw .unreadableFile(path: path, reason: "not a regular file")
        }
        byteLimit = Int(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IDXError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = readSome(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if got > 0 {
                filled += got
            } else if got == 0 {
                break
            } else if errno != EINTR {
                throw .unreadableFile(path: path, reason: systemMessage())
            }
        }
        return filled
    }
}

/// POSIX `read`, under a name that `FileSource.read(into:)` does not shadow.
private func readSome(_ descriptor: Int32, _ destination: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, destination, count)
}

/// The C library's text for the current `errno`.
func systemMessage() -> String {
    String(cString: strerror(errno))
}
