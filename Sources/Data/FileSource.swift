import RegularFile

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

/// The bytes of a regular file; anything else at the path (a FIFO, a device, a directory) is
/// refused before a byte is read.
final class FileSource: ByteSource {
    let path: String
    let byteLimit: Int
    private let file: RegularFile

    init(path: String) throws(IDXError) {
        self.path = path
        do {
            file = try RegularFile(openingForReading: path)
        } catch .missing {
            throw .missingFile(path: path)
        } catch {
            throw .unreadableFile(path: path, reason: error.description)
        }
        byteLimit = file.size
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(IDXError) -> Int {
        do {
            return try file.read(into: buffer)
        } catch {
            throw .unreadableFile(path: path, reason: error.description)
        }
    }
}
