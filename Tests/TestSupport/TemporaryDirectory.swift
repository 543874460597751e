import Foundation

/// A fresh directory under the system's temporary directory. A test that holds one in a local
/// removes it with `defer { directory.remove() }`: Swift may release a local after its last use,
/// and the directory must outlast the files read from it. Held by a suite, it goes with the suite.
public final class TemporaryDirectory {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("mnist-ddp-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        remove()
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The path of `name` inside this directory.
    public func file(_ name: String) -> String { path + "/" + name }
}

extension TemporaryDirectory {
    /// Writes `bytes` to the file `name` in this directory and returns its path.
    public func writeFile(_ bytes: [UInt8], named name: String) throws -> String {
        let path = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
