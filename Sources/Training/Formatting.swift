// Number formatting for reports, without Foundation (see JSONValue for why). Every function
// takes any value, including infinities, NaN and magnitudes no `Int` holds: a report of a
// diverged or corrupt model must print, not trap.

/// `value` with `digits` decimals, without Foundation's formatter; values too large to print
/// exactly that way (|value| ≥ 2^53 once scaled) and non-finite ones in Swift's own notation.
public func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (value.magnitude * scale).rounded()
    guard scaled < 0x1p53 else { return String(value) }
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    let fractionText = String(fraction)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(whole) }
    return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
}

/// `text` right-aligned in `width` columns.
public func pad(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

/// An integer with thousands separators: 60,000.
public func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
        result.append(character)
    }
    return (value < 0 ? "-" : "") + result
}

/// A measured quantity (a rate) truncated to an integer with thousands separators; one beyond an
/// `Int`, or not finite, in Swift's own notation.
public func grouped(_ value: Double) -> String {
    let rounded = value.rounded(.towardZero)
    guard rounded.magnitude < 0x1p63 else { return String(value) }
    return grouped(Int(rounded))
}
