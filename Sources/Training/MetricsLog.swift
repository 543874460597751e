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
    func write(_ fields: [(key: String, value: JSONValue)]) throws(TrainingError) {
        let body = fields.map { "\"\($0.key)\":\($0.value.json)" }.joined(separator: ",")
        let line = "{\(body)}\n"
        guard fputs(line, file) >= 0, fflush(file) == 0 else {
            throw .metricsFile(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

/// The few JSON value kinds our records hold.
enum JSONValue {
    case number(Double)
    case integer(Int)
    case string(String)
    case integers([Int])

    var json: String {
        switch self {
        case .number(let value): value.isFinite ? String(value) : "null"
        case .integer(let value): String(value)
        case .string(let value): "\"" + escaped(value) + "\""
        case .integers(let values): "[" + values.map(String.init).joined(separator: ",") + "]"
        }
    }

    private func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
