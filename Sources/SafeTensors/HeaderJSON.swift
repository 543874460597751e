/// A JSON value as the header parser reads it.
///
/// The header is parsed by hand rather than with Foundation's `JSONSerialization` because the
/// specification forbids duplicate keys, which `JSONSerialization` silently collapses; because
/// offsets are 64-bit integers, which it reads through `Double` (exact only below 2^53); and
/// because a format library otherwise needing only the C library should not pull in Foundation.
indirect enum HeaderJSON {
    /// Members in file order.
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    /// The number's literal text, so that consumers convert integers exactly.
    case number(String)
    case bool(Bool)
    case null

    /// The value as an `Int`, when it is a literal of decimal digits only that fits one.
    var naturalNumber: Int? {
        guard case .number(let literal) = self, literal.utf8.allSatisfy(isDigit) else { return nil }
        return Int(literal)
    }
}

/// Why header bytes are not JSON the reader accepts.
enum HeaderJSONError: Error {
    /// Not JSON at all; `offset` counts bytes from the start of the parsed text.
    case syntax(offset: Int, reason: String)
    case duplicateKey(String)
}

/// A recursive-descent parser for RFC 8259 JSON, rejecting duplicate keys in any object.
struct HeaderJSONParser {
    /// Far deeper than the three levels a valid header uses, and shallow enough that a hostile
    /// header of nested brackets cannot exhaust the stack.
    static let maximumDepth = 64

    private let text: ArraySlice<UInt8>
    private var position: Int

    /// Parses `text`, which must hold exactly one JSON value surrounded by optional whitespace
    /// (the specification pads headers with trailing spaces).
    static func parse(_ text: ArraySlice<UInt8>) throws(HeaderJSONError) -> HeaderJSON {
        var parser = HeaderJSONParser(text: text, position: text.startIndex)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if let extra = parser.peek() {
            throw parser.syntaxError("unexpected \(describe(extra)) after the header object")
        }
        return value
    }

    private mutating func parseValue(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
        guard depth < Self.maximumDepth else {
            throw syntaxError("nesting deeper than \(Self.maximumDepth) levels")
        }
        guard let byte = peek() else { throw syntaxError("unexpected end of header") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        default: throw syntaxError("unexpected \(Self.describe(byte))")
        }
    }

    private mutating func parseObject(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
        position += 1
        var members: [(key: String, value: HeaderJSON)] = []
        var keys = Set<String>()
        skipWhitespace()
        if consume("}") { return .object(members) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a string key") }
            let key = try parseString()
            guard keys.insert(key).inserted else { throw .duplicateKey(key) }
            skipWhitespace()
            guard consume(":") else { throw syntaxError("expected ':' after key \"\(key)\"") }
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            if consume(",") { continue }
            if consume("}") { return .object(members) }
            throw syntaxError("expected ',' or '}' in object")
        }
    }

    private mutating func parseArray(depth: Int) throws(HeaderJSONError) -> HeaderJSON {
        position += 1
        var elements: [HeaderJSON] = []
        skipWhitespace()
        if consume("]") { return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if consume(",") { continue }
            if consume("]") { return .array(elements) }
            throw syntaxError("expected ',' or ']' in array")
        }
    }

    /// Reads a string starting at its opening quote. The caller has checked that the whole
    /// text is UTF-8, so unescaped bytes are copied through as they are.
    private mutating func parseString() throws(HeaderJSONError) -> String {
        position += 1
        var utf8: [UInt8] = []
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                position += 1
                try appendEscapedCharacter(to: &utf8)
            case 0..<0x20:
                throw syntaxError("unescaped control character in string")
            default:
                utf8.append(byte)
                position += 1
            }
        }
        throw syntaxError("unterminated string")
    }

    private mutating func appendEscapedCharacter(to utf8: inout [UInt8]) throws(HeaderJSONError) {
        guard let byte = peek() else { throw syntaxError("unterminated string") }
        let unescaped: UInt8? = switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
        if let unescaped {
            utf8.append(unescaped)
            position += 1
            return
        }
        guard consume("u") else { throw syntaxError("invalid escape \\\(Self.describe(byte))") }
        var codePoint = try parseHexQuad()
        if (0xD800..<0xDC00).contains(codePoint) {
            guard consume("\\"), consume("u") else { throw syntaxError("unpaired UTF-16 surrogate") }
            let low = try parseHexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw syntaxError("unpaired UTF-16 surrogate") }
            codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(codePoint) else { throw syntaxError("unpaired UTF-16 surrogate") }
        UTF8.encode(scalar) { utf8.append($0) }
    }

    private mutating func parseHexQuad() throws(HeaderJSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = hexDigitValue(byte) else {
                throw syntaxError("expected four hexadecimal digits after \\u")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Reads `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and returns its text.
    private mutating func parseNumber() throws(HeaderJSONError) -> String {
        let start = position
        _ = consume("-")
        if !consume("0") {
            guard skipDigits() > 0 else { throw syntaxError("expected a digit") }
        }
        if consume(".") {
            guard skipDigits() > 0 else { throw syntaxError("expected a digit after '.'") }
        }
        if consume("e") || consume("E") {
            _ = consume("+") || consume("-")
            guard skipDigits() > 0 else { throw syntaxError("expected a digit in exponent") }
        }
        return String(decoding: text[start..<position], as: UTF8.self)
    }

    private mutating func skipDigits() -> Int {
        let start = position
        while let byte = peek(), isDigit(byte) { position += 1 }
        return position - start
    }

    private mutating func expectWord(_ word: StaticString) throws(HeaderJSONError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard text[position...].starts(with: expected) else { throw syntaxError("expected '\(word)'") }
        position += expected.count
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), [0x20, 0x09, 0x0A, 0x0D].contains(byte) { position += 1 }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard peek() == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    private func peek() -> UInt8? {
        position < text.endIndex ? text[position] : nil
    }

    private func syntaxError(_ reason: String) -> HeaderJSONError {
        .syntax(offset: position - text.startIndex, reason: reason)
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }
}

private func isDigit(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
}

private func hexDigitValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
}

/// `string` as a JSON string literal, escaped as serde_json (the reference writer's JSON
/// library) escapes it: quote, backslash and control characters; everything else as UTF-8.
public func jsonQuoted(_ string: String) -> String {
    var quoted = "\""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": quoted += "\\\""
        case "\\": quoted += "\\\\"
        case "\u{08}": quoted += "\\b"
        case "\u{0C}": quoted += "\\f"
        case "\n": quoted += "\\n"
        case "\r": quoted += "\\r"
        case "\t": quoted += "\\t"
        case "\u{00}"..."\u{1F}":
            let hex = String(scalar.value, radix: 16)
            quoted += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: quoted.unicodeScalars.append(scalar)
        }
    }
    return quoted + "\""
}
