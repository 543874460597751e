/// Why header bytes are not JSON.
enum HeaderJSONError: Error {
    /// `offset` counts bytes from the start of the header text.
    case syntax(offset: Int, reason: String)
}

/// A cursor over a header's bytes, read in two passes so that a hostile header costs no memory
/// beyond its own bytes and what the schema keeps:
///
/// 1. `validate` checks that the text is exactly one RFC 8259 JSON value, nested at most
///    `maximumDepth` deep, without building anything;
/// 2. the reader (`SafeTensorsFile`) walks the checked text again, keeping only the values the
///    schema names and skipping any other value without allocating.
///
/// Parsed by hand rather than with Foundation's `JSONSerialization` because the specification
/// forbids duplicate keys, which it silently collapses; because offsets are 64-bit integers,
/// which it reads through `Double` (exact only below 2^53); because a tree of the whole header
/// costs tens of bytes per byte of input; and because a format library otherwise needing only
/// the C library should not pull in Foundation.
struct HeaderCursor {
    /// Far deeper than the three levels a valid header uses, and shallow enough that a hostile
    /// header of nested brackets cannot exhaust the stack.
    static let maximumDepth = 64

    private let text: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ text: UnsafeBufferPointer<UInt8>) {
        self.text = text
    }

    /// Checks that the text holds exactly one JSON value surrounded by optional whitespace (the
    /// specification pads headers with trailing spaces).
    static func validate(_ text: UnsafeBufferPointer<UInt8>) throws(HeaderJSONError) {
        var cursor = HeaderCursor(text)
        cursor.skipWhitespace()
        try cursor.skipValue(depth: 0)
        cursor.skipWhitespace()
        if let extra = cursor.peek() {
            throw cursor.syntaxError("unexpected \(describe(extra)) after the header object")
        }
    }

    // MARK: Walking validated text

    /// Calls `body` with each member's key, the cursor on its value; `body` must consume the
    /// value. The cursor must be on an object.
    mutating func forEachMember<Failure: Error>(
        _ body: (inout HeaderCursor, String) throws(Failure) -> Void
    ) throws(Failure) {
        position += 1
        skipWhitespace()
        if consume("}") { return }
        repeat {
            skipWhitespace()
            let key = readString()
            skipWhitespace()
            _ = consume(":")
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
        } while consume(",")
        _ = consume("}")
    }

    /// Calls `body` with the cursor on each element; `body` must consume it. The cursor must be
    /// on an array.
    mutating func forEachElement<Failure: Error>(_ body: (inout HeaderCursor) throws(Failure) -> Void) throws(Failure) {
        position += 1
        skipWhitespace()
        if consume("]") { return }
        repeat {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
        } while consume(",")
        _ = consume("]")
    }

    /// The byte that opens the value under the cursor.
    var next: UInt8? { peek() }

    /// The string under the cursor, unescaped.
    mutating func readString() -> String {
        String(decoding: (try? scanString(keeping: true)) ?? [], as: UTF8.self)
    }

    /// The value under the cursor as an `Int`, when it is a literal of decimal digits only that
    /// fits one; any other value is skipped and gives nil.
    mutating func readNaturalNumber() -> Int? {
        let start = position
        skipValueOfValidText()
        let literal = UnsafeBufferPointer(rebasing: text[start ..< position])
        guard !literal.isEmpty, literal.allSatisfy(isDigit) else { return nil }
        return Int(String(decoding: literal, as: UTF8.self))
    }

    /// Moves past the value under the cursor, allocating nothing.
    mutating func skipValueOfValidText() {
        try? skipValue(depth: 0)
    }

    // MARK: Syntax

    private mutating func skipValue(depth: Int) throws(HeaderJSONError) {
        guard depth < Self.maximumDepth else {
            throw syntaxError("nesting deeper than \(Self.maximumDepth) levels")
        }
        guard let byte = peek() else { throw syntaxError("unexpected end of header") }
        switch byte {
        case UInt8(ascii: "{"): try skipObject(depth: depth)
        case UInt8(ascii: "["): try skipArray(depth: depth)
        case UInt8(ascii: "\""): _ = try scanString(keeping: false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try skipNumber()
        case UInt8(ascii: "t"): try expectWord("true")
        case UInt8(ascii: "f"): try expectWord("false")
        case UInt8(ascii: "n"): try expectWord("null")
        default: throw syntaxError("unexpected \(Self.describe(byte))")
        }
    }

    private mutating func skipObject(depth: Int) throws(HeaderJSONError) {
        position += 1
        skipWhitespace()
        if consume("}") { return }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw syntaxError("expected a string key") }
            let keyStart = position
            _ = try scanString(keeping: false)
            skipWhitespace()
            guard consume(":") else {
                let failure = position
                position = keyStart
                let key = readString()
                position = failure
                throw syntaxError("expected ':' after key \"\(key)\"")
            }
            skipWhitespace()
            try skipValue(depth: depth + 1)
            skipWhitespace()
            if consume(",") { continue }
            if consume("}") { return }
            throw syntaxError("expected ',' or '}' in object")
        }
    }

    private mutating func skipArray(depth: Int) throws(HeaderJSONError) {
        position += 1
        skipWhitespace()
        if consume("]") { return }
        while true {
            skipWhitespace()
            try skipValue(depth: depth + 1)
            skipWhitespace()
            if consume(",") { continue }
            if consume("]") { return }
            throw syntaxError("expected ',' or ']' in array")
        }
    }

    /// Reads a string starting at its opening quote, returning its unescaped UTF-8 when
    /// `keeping` (and nothing otherwise). The caller has checked that the whole text is UTF-8,
    /// so unescaped bytes are copied through as they are.
    private mutating func scanString(keeping: Bool) throws(HeaderJSONError) -> [UInt8] {
        position += 1
        var utf8: [UInt8] = []
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return utf8
            case UInt8(ascii: "\\"):
                position += 1
                let unescaped = try scanEscapedCharacter()
                if keeping { UTF8.encode(unescaped) { utf8.append($0) } }
            case 0..<0x20:
                throw syntaxError("unescaped control character in string")
            default:
                if keeping { utf8.append(byte) }
                position += 1
            }
        }
        throw syntaxError("unterminated string")
    }

    private mutating func scanEscapedCharacter() throws(HeaderJSONError) -> Unicode.Scalar {
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
            position += 1
            return Unicode.Scalar(unescaped)
        }
        guard consume("u") else { throw syntaxError("invalid escape \\\(Self.describe(byte))") }
        var codePoint = try scanHexQuad()
        if (0xD800..<0xDC00).contains(codePoint) {
            guard consume("\\"), consume("u") else { throw syntaxError("unpaired UTF-16 surrogate") }
            let low = try scanHexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw syntaxError("unpaired UTF-16 surrogate") }
            codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(codePoint) else { throw syntaxError("unpaired UTF-16 surrogate") }
        return scalar
    }

    private mutating func scanHexQuad() throws(HeaderJSONError) -> UInt32 {
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

    /// Moves past `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private mutating func skipNumber() throws(HeaderJSONError) {
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
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard peek() == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    private func peek() -> UInt8? {
        position < text.count ? text[position] : nil
    }

    private func syntaxError(_ reason: String) -> HeaderJSONError {
        .syntax(offset: position, reason: reason)
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
