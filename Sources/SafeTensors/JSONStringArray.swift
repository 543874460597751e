/// The strings of `text` when it is exactly a JSON array of strings (from its first byte), such
/// as a checkpoint's `class_names` metadata value; nil for anything else. Checked by the header's own validator
/// first, so that no text can cost more than its own bytes.
public func jsonStringArray(_ text: String) -> [String]? {
    let bytes = Array(text.utf8)
    guard bytes.first == UInt8(ascii: "[") else { return nil }
    return bytes.withUnsafeBufferPointer { text -> [String]? in
        guard (try? HeaderCursor.validate(text)) != nil else { return nil }
        var cursor = HeaderCursor(text)
        var strings: [String] = []
        var allStrings = true
        cursor.forEachElement { element in
            if element.next == UInt8(ascii: "\"") { strings.append(element.readString()) } else {
                allStrings = false
                element.skipValueOfValidText()
            }
        }
        return allStrings ? strings : nil
    }
}
