import Data
import Testing

@Suite("Error descriptions")
struct IDXErrorDescriptionTests {
    @Test func truncationSaysWhatTheHeaderPromisedAndWhatTheFileHolds() {
        let error = IDXError.truncated(path: "train-images-idx3-ubyte.gz", kind: .images, dimensions: [60000, 28, 28], itemsHeld: 59123)
        #expect(error.description == "train-images-idx3-ubyte.gz: truncated: header says 60000 images of 28×28, file holds 59123")
    }

    @Test func badMagicShowsBothNumbersInHex() {
        let error = IDXError.badMagic(path: "x", expected: 0x0000_0803, found: 0x1F8B_0800)
        #expect(error.description == "x: bad magic number: expected 0x00000803, found 0x1f8b0800")
    }

    @Test func labelOutOfRangeNamesTheIndexAndValue() {
        let error = IDXError.labelOutOfRange(path: "labels", index: 17, value: 10)
        #expect(error.description == "labels: label 17 is 10, expected a digit 0–9")
    }

    @Test func labelOutOfRangeOfOtherClassCountsNamesTheirLabels() {
        let error = IDXError.labelOutOfRange(path: "labels", index: 3, value: 7, classCount: 5)
        #expect(error.description == "labels: label 3 is 7, expected a label 0–4")
    }

    @Test func notGzipShowsTheLeadingBytes() {
        let error = IDXError.notGzip(path: "a.gz", leadingBytes: [0, 0, 8, 3])
        #expect(error.description == "a.gz: not a gzip file: starts with 00 00 08 03, gzip starts with 1f 8b")
    }
}
