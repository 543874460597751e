#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON-lines file: one object per logged step, per epoch and for the whole run, each line
/// written and flushed at once so that a reader following the file sees whole records.
final class MetricsLog {
    let path: String
    private let file: UnsafeMutablePointer<FILE>

    /// Creates or truncates `path` (a resumed run starts a new log, as its records carry steps).
    init(path: String) throws(TrainingError) {
        guard let file = fopen(path, "w") else {
            throw .metricsFile(path: path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.file = file
    }

    deinit { fclose(file) }

    /// Appends one record; `fields` keep their order in the line.
    func write(_ fields: [(String, JSONValue)]) throws(TrainingError) {
        let line = JSONValue.object(fields).json + "\n"
        guard fputs(line, file) >= 0, fflush(file) == 0 else {
            throw .metricsFile(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
