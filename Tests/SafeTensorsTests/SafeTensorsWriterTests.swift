import SafeTensors
import Testing

@Test func writerEmitsTheSpecifiedLayoutByteForByte() {
    let bytes = SafeTensorsFile.serialize(
        [
            NamedTensor(name: "b", shape: [2], floats: [1.0, -2.0]),
            NamedTensor(name: "a", shape: [], int64s: [7]),
        ],
        metadata: ["format": "pt"])

    let json = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
        + #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#
    #expect(json.utf8.count == 138)
    // 138 bytes of JSON plus 6 spaces make 144, so the data starts at 8 + 144, a multiple of 8.
    let expected: [UInt8] =
        [144, 0, 0, 0, 0, 0, 0, 0]
        + Array(json.utf8) + Array("      ".utf8)
        + [0x07, 0, 0, 0, 0, 0, 0, 0]  // a: Int64 7
        + [0x00, 0x00, 0x80, 0x3F]  // b[0]: Float 1.0 = 0x3F800000
        + [0x00, 0x00, 0x00, 0xC0]  // b[1]: Float -2.0 = 0xC0000000
    #expect(bytes == expected)
}

@Test func writerOmitsEmptyMetadataAndAlignsTheDataStart() {
    let bytes = SafeTensorsFile.serialize([NamedTensor(name: "x", shape: [1], floats: [0])])
    let json = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
    let padding = (8 - json.utf8.count % 8) % 8
    #expect(Array(bytes[8..<(8 + json.utf8.count)]) == Array(json.utf8))
    #expect(bytes.count == 8 + json.utf8.count + padding + 4)
    #expect((8 + json.utf8.count + padding) % 8 == 0)
}

@Test func writerEscapesNamesAndMetadataAsJSON() throws {
    let name = "layer \"1\"\\weight\n\u{01}é"
    let bytes = SafeTensorsFile.serialize(
        [NamedTensor(name: name, shape: [1], floats: [3])], metadata: ["note": "tab\there"])
    let file = try SafeTensorsFile(bytes: bytes, source: "escaped")
    #expect(try file.floats(named: name) == [3])
    #expect(file.metadata == ["note": "tab\there"])
    let header = String(decoding: bytes[8...], as: UTF8.self)
    #expect(header.contains(#""layer \"1\"\\weight\n\u0001é""#))
}

@Test func severalTensorsAndMetadataRoundTrip() throws {
    let weights = (0..<24).map { Float($0) * 0.5 - 3 }
    let bytes = SafeTensorsFile.serialize(
        [
            NamedTensor(name: "conv1.weight", shape: [2, 1, 3, 4], floats: weights),
            NamedTensor(name: "conv1.bias", shape: [2], floats: [.pi, -.infinity]),
            NamedTensor(name: "empty", shape: [0, 5], floats: []),
            NamedTensor(name: "step", shape: [1], int64s: [Int64.min]),
            NamedTensor(name: "mask", dtype: .u8, shape: [3], littleEndianBytes: [0, 1, 255]),
        ],
        metadata: ["epoch": "3", "seed": "42", "": "empty key"])

    let file = try SafeTensorsFile(bytes: bytes, source: "round-trip")
    #expect(file.metadata == ["epoch": "3", "seed": "42", "": "empty key"])
    #expect(file.tensors.map(\.name) == ["conv1.bias", "conv1.weight", "empty", "mask", "step"])
    #expect(try file.floats(named: "conv1.weight", shape: [2, 1, 3, 4]) == weights)
    #expect(try file.floats(named: "conv1.bias") == [.pi, -.infinity])
    #expect(try file.floats(named: "empty", shape: [0, 5]) == [])
    #expect(try file.int64s(named: "step", shape: [1]) == [Int64.min])
    let mask = try #require(file.entry(named: "mask"))
    #expect(mask.dtype == .u8 && mask.shape == [3])
    #expect(Array(file.data(of: mask)) == [0, 1, 255])
}

@Test func floatBitPatternsSurviveTheRoundTripExactly() throws {
    let values: [Float] = [.nan, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, Float(bitPattern: 0x7FC0_1234)]
    let bytes = SafeTensorsFile.serialize([NamedTensor(name: "v", shape: [5], floats: values)])
    let read = try SafeTensorsFile(bytes: bytes, source: "bits").floats(named: "v")
    #expect(read.map(\.bitPattern) == values.map(\.bitPattern))
}

@Test func writtenFileIsTheSameWhateverTheOrderOfTheTensorsGiven() {
    let a = NamedTensor(name: "a", shape: [1], floats: [1])
    let b = NamedTensor(name: "b", shape: [1], floats: [2])
    #expect(SafeTensorsFile.serialize([a, b], metadata: ["x": "1", "y": "2"])
        == SafeTensorsFile.serialize([b, a], metadata: ["y": "2", "x": "1"]))
}
