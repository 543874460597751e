import SafeTensors
import Testing

/// A file whose header is exactly `header` (no padding added) followed by `data`.
func fileBytes(header: String, data: [UInt8] = []) -> [UInt8] {
    fileBytes(headerBytes: Array(header.utf8), data: data)
}

func fileBytes(headerBytes: [UInt8], data: [UInt8] = []) -> [UInt8] {
    let length = UInt64(headerBytes.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + headerBytes + data
}

/// The problem reading `bytes` reports, or nil when it reads fine.
func readProblem(_ bytes: [UInt8]) -> SafeTensorsError.Problem? {
    do {
        _ = try SafeTensorsFile(bytes: bytes, source: "bad.safetensors")
        return nil
    } catch {
        #expect(error.file == "bad.safetensors")
        return error.problem
    }
}

/// A header with one tensor `t` described by `info`.
func oneTensorHeader(_ info: String) -> String {
    #"{"t":"# + info + "}"
}

@Test func headerPaddedWithTrailingSpacesIsAccepted() throws {
    let bytes = fileBytes(header: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}         "#, data: [0, 0, 0x80, 0x3F])
    #expect(try SafeTensorsFile(bytes: bytes, source: "padded").floats(named: "t") == [1])
}

@Test func fileWithoutTensorsIsAccepted() throws {
    let file = try SafeTensorsFile(bytes: fileBytes(header: "{}"), source: "empty")
    #expect(file.tensors.isEmpty && file.metadata.isEmpty)
}

@Test func tensorsAreListedInDataOrderNotHeaderOrder() throws {
    let header = #"{"second":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"#
        + #""first":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
    let file = try SafeTensorsFile(bytes: fileBytes(header: header, data: [10, 20]), source: "order")
    #expect(file.tensors.map(\.name) == ["first", "second"])
    #expect(file.tensors.map(\.dataOffsets) == [0..<1, 1..<2])
}

@Test func unicodeEscapesInNamesAreDecoded() throws {
    let header = #"{"w\u00e9\ud83d\ude00":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}"#
    let file = try SafeTensorsFile(bytes: fileBytes(header: header, data: [9]), source: "unicode")
    #expect(file.tensors.map(\.name) == ["wé😀"])
}

@Test func fileShorterThanTheLengthPrefixIsTruncated() {
    #expect(readProblem([1, 2, 3]) == .truncatedHeaderLength(fileSize: 3))
}

@Test func headerLongerThanTheFileIsTruncated() {
    var bytes = fileBytes(header: "{}")
    bytes[0] = 8
    #expect(readProblem(bytes) == .truncatedHeader(length: 8, available: 2))
}

@Test func headerOverOneHundredMegabytesIsRejected() {
    let length: UInt64 = 100_000_001
    let bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + Array("{}".utf8)
    #expect(readProblem(bytes) == .headerTooLarge(length: length))
}

@Test func headerThatIsNotUTF8IsRejected() {
    #expect(readProblem(fileBytes(headerBytes: [UInt8(ascii: "{"), 0xFF, UInt8(ascii: "}")])) == .headerNotUTF8)
}

@Test(arguments: ["", "[]", " {}", "\"{}\"", "null"])
func headerThatDoesNotStartWithABraceIsRejected(header: String) {
    #expect(readProblem(fileBytes(header: header)) == .headerNotObject)
}

@Test func headerThatIsNotJSONReportsWhereItBreaks() {
    #expect(readProblem(fileBytes(header: #"{"t":"#)) == .malformedJSON(offset: 13, reason: "unexpected end of header"))
    #expect(readProblem(fileBytes(header: #"{"t" 1}"#)) == .malformedJSON(offset: 13, reason: "expected ':' after key \"t\""))
    #expect(readProblem(fileBytes(header: "{} x")) == .malformedJSON(offset: 11, reason: "unexpected 'x' after the header object"))
    #expect(readProblem(fileBytes(header: #"{"t":01}"#)) == .malformedJSON(offset: 14, reason: "expected ',' or '}' in object"))
    #expect(readProblem(fileBytes(header: #"{"t\q":1}"#)) == .malformedJSON(offset: 12, reason: "invalid escape \\'q'"))
    #expect(readProblem(fileBytes(header: #"{"\ud800":1}"#)) == .malformedJSON(offset: 16, reason: "unpaired UTF-16 surrogate"))
}

@Test func deeplyNestedHeaderIsRejectedWithoutExhaustingTheStack() {
    let header = #"{"t":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
    #expect(readProblem(fileBytes(header: header)) == .malformedJSON(offset: 76, reason: "nesting deeper than 64 levels"))
}

@Test func duplicateKeysAreRejected() {
    let info = #"{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#
    #expect(readProblem(fileBytes(header: #"{"t":"# + info + #","t":"# + info + "}", data: [1])) == .duplicateKey("t"))
    #expect(readProblem(fileBytes(header: #"{"__metadata__":{"k":"1","k":"2"}}"#)) == .duplicateKey("k"))
}

@Test func metadataMustMapStringsToStrings() {
    #expect(readProblem(fileBytes(header: #"{"__metadata__":"v"}"#)) == .metadataNotObject)
    #expect(readProblem(fileBytes(header: #"{"__metadata__":{"k":1}}"#)) == .metadataValueNotString(key: "k"))
    #expect(readProblem(fileBytes(header: #"{"__metadata__":{"k":null}}"#)) == .metadataValueNotString(key: "k"))
}

@Test func tensorEntryMustBeAnObjectWithEveryField() {
    #expect(readProblem(fileBytes(header: #"{"t":[]}"#)) == .tensorInfoNotObject(tensor: "t"))
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"shape":[],"data_offsets":[0,1]}"#)))
        == .missingField(tensor: "t", field: "dtype"))
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","data_offsets":[0,1]}"#)))
        == .missingField(tensor: "t", field: "shape"))
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[]}"#)))
        == .missingField(tensor: "t", field: "data_offsets"))
}

@Test func dtypeMustBeASpecifiedName() {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":32,"shape":[],"data_offsets":[0,4]}"#)))
        == .invalidField(tensor: "t", field: "dtype", expected: "a string"))
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"F33","shape":[],"data_offsets":[0,4]}"#)))
        == .unknownDType(tensor: "t", dtype: "F33"))
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"f32","shape":[],"data_offsets":[0,4]}"#)))
        == .unknownDType(tensor: "t", dtype: "f32"))
}

@Test(arguments: [#""2""#, "[-1]", "[1.0]", "[1e0]", #"["2"]"#, "[null]", "[18446744073709551616]"])
func shapeMustBeAnArrayOfNonNegativeIntegers(shape: String) {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":"# + shape + #","data_offsets":[0,1]}"#)))
        == .invalidField(tensor: "t", field: "shape", expected: "an array of non-negative integers"))
}

@Test(arguments: ["[0]", "[0,1,1]", "[0,-1]", "[0,1.0]", #"[0,"1"]"#, "{}"])
func dataOffsetsMustBeTwoNonNegativeIntegers(offsets: String) {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[1],"data_offsets":"# + offsets + "}"), data: [1]))
        == .invalidField(tensor: "t", field: "data_offsets", expected: "two non-negative integers [begin, end]"))
}

@Test func dataOffsetsMustNotEndBeforeTheyBegin() {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[1],"data_offsets":[1,0]}"#), data: [1]))
        == .offsetsReversed(tensor: "t", begin: 1, end: 0))
}

@Test func tensorsMustStartAtTheBeginningOfTheBuffer() {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[1],"data_offsets":[1,2]}"#), data: [1, 2]))
        == .offsetsNotContiguous(tensor: "t", begin: 1, expectedBegin: 0))
}

@Test func tensorsMustNotLeaveGaps() {
    let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"#
        + #""b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#
    #expect(readProblem(fileBytes(header: header, data: [1, 2, 3])) == .offsetsNotContiguous(tensor: "b", begin: 2, expectedBegin: 1))
}

@Test func tensorsMustNotOverlap() {
    let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"#
        + #""b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
    let problem = readProblem(fileBytes(header: header, data: [1, 2]))
    #expect(problem == .offsetsNotContiguous(tensor: "b", begin: 1, expectedBegin: 2))
    #expect(problem?.description == #"tensor "b": data begins at 1 but the previous tensor ends at 2 (overlap)"#)
}

@Test func tensorBytesMustMatchDTypeAndShape() {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#), data: [0, 0, 0, 0]))
        == .sizeMismatch(tensor: "t", dtype: .f32, shape: [2], expectedBytes: 8, actualBytes: 4))
}

@Test func shapeWhoseSizeOverflowsIsRejected() {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}"#)))
        == .shapeTooLarge(tensor: "t", shape: [4_294_967_296, 4_294_967_296]))
}

@Test func packedSubByteTensorsMustFillWholeBytes() throws {
    #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"F4","shape":[3],"data_offsets":[0,2]}"#), data: [0, 0]))
        == .sizeNotWholeBytes(tensor: "t", bits: 12))
    let even = fileBytes(header: oneTensorHeader(#"{"dtype":"F4","shape":[4],"data_offsets":[0,2]}"#), data: [0, 0])
    #expect(try SafeTensorsFile(bytes: even, source: "f4").entry(named: "t")?.dtype == .f4)
}

@Test func tensorsMustCoverTheWholeBuffer() {
    let header = oneTensorHeader(#"{"dtype":"U8","shape":[2],"data_offsets":[0,2]}"#)
    #expect(readProblem(fileBytes(header: header, data: [1, 2, 3])) == .bufferNotCovered(coveredBytes: 2, bufferBytes: 3))
    #expect(readProblem(fileBytes(header: header, data: [1])) == .bufferNotCovered(coveredBytes: 2, bufferBytes: 1))
}

@Test func aFileCutShortSaysItIsTruncatedOrCorruptAndHowMuchIsMissing() throws {
    let tensors = SafeTensorsFile.serialize([NamedTensor(name: "w", shape: [100], floats: [Float](repeating: 1, count: 100))])
    let cut = Array(tensors.dropLast(150))
    let problem = try #require(readProblem(cut))
    #expect(problem.description == "truncated or corrupt: its tensors need 400 bytes of data, the file holds 250")
}

@Test func bytesAfterTheTensorsAreCalledCorrupt() {
    let header = oneTensorHeader(#"{"dtype":"U8","shape":[2],"data_offsets":[0,2]}"#)
    #expect(readProblem(fileBytes(header: header, data: [1, 2, 3]))?.description
        == "corrupt: its tensors cover 2 bytes of data, the file holds 3")
}

@Test func askingForAMissingTensorNamesIt() throws {
    let file = try SafeTensorsFile(bytes: SafeTensorsFile.serialize([]), source: "ckpt")
    #expect(throws: SafeTensorsError(file: "ckpt", problem: .noSuchTensor("w"))) { try file.floats(named: "w") }
}

@Test func askingForTheWrongDTypeOrShapeNamesBoth() throws {
    let bytes = SafeTensorsFile.serialize([NamedTensor(name: "w", shape: [2, 2], floats: [1, 2, 3, 4])])
    let file = try SafeTensorsFile(bytes: bytes, source: "ckpt")
    #expect(throws: SafeTensorsError(file: "ckpt", problem: .dtypeMismatch(tensor: "w", expected: .i64, actual: .f32))) {
        try file.int64s(named: "w")
    }
    #expect(throws: SafeTensorsError(file: "ckpt", problem: .shapeMismatch(tensor: "w", expected: [4], actual: [2, 2]))) {
        try file.floats(named: "w", shape: [4])
    }
}

@Test func errorDescriptionNamesTheFileAndTheProblemInOneLine() {
    let error = SafeTensorsError(file: "checkpoints/step-000001000.safetensors", problem: .truncatedHeader(length: 8, available: 3))
    #expect(error.description
        == "checkpoints/step-000001000.safetensors: truncated: header says 8 bytes of JSON at offset 8, but only 3 follow")
}

@Test func missingFileReportsTheSystemError() {
    #expect(throws: SafeTensorsError(file: "/nonexistent/x.safetensors", problem: .unreadable(reason: "No such file or directory"))) {
        try SafeTensorsFile(contentsOf: "/nonexistent/x.safetensors")
    }
}

@Test func everyTruncationOfAValidFileIsRejected() throws {
    let bytes = SafeTensorsFile.serialize(
        [NamedTensor(name: "w", shape: [2, 2], floats: [1, 2, 3, 4]), NamedTensor(name: "n", shape: [], int64s: [5])],
        metadata: ["epoch": "1"])
    _ = try SafeTensorsFile(bytes: bytes, source: "whole")
    for length in 0..<bytes.count {
        #expect(readProblem(Array(bytes[..<length])) != nil, "prefix of \(length) bytes")
    }
}
