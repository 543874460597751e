import Testing
import Training

/// Reports print any number a diverged or corrupt model can produce, without trapping.
@Suite("Number formatting")
struct FormattingTests {
    @Test("fixed takes any Double", arguments: [
        (Double.infinity, "inf"), (-Double.infinity, "-inf"), (Double.nan, "nan"), (1e300, "1e+300"),
        (-0.0, "0.0000"), (9.66e9, "9660000000.0000"), (1e15, "1000000000000000.0"), (-2.5, "-2.5000"), (0.00004, "0.0000"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"),
    ])
    func fixedTakesAnyDouble(value: Double, text: String) {
        #expect(fixed(value, 4) == text)
    }

    @Test("grouped takes any Double and any Int")
    func groupedTakesAnything() {
        #expect(grouped(101_848.9) == "101,848")
        #expect(grouped(Double.infinity) == "inf")
        #expect(grouped(Double.nan) == "nan")
        #expect(grouped(1e300) == "1e+300")
        #expect(grouped(Int.min) == "-9,223,372,036,854,775,808")
    }
}
