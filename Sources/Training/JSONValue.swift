import SafeTensors

/// The JSON our metrics records and checkpoint metadata hold, written by hand so that the
/// trainer needs no Foundation (whose ICU data alone would cost every rank megabytes of memory).
public enum JSONValue {
    case number(Double)
    /// A float written with its shortest exact decimal form (0.001, not 0.0010000000474974513).
    case float(Float)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    /// Keys keep their order.
    case object([(String, JSONValue)])

    public var json: String {
        switch self {
        case .number(let value): value.isFinite ? String(value) : "null"
        case .float(let value): value.isFinite ? String(value) : "null"
        case .integer(let value): String(value)
        case .string(let value): jsonQuoted(value)
        case .bool(let value): String(value)
        case .null: "null"
        case .array(let values): "[" + values.map(\.json).joined(separator: ",") + "]"
        case .object(let fields): "{" + fields.map { jsonQuoted($0.0) + ":" + $0.1.json }.joined(separator: ",") + "}"
        }
    }
}
