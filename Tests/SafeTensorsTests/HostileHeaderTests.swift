import Foundation
import SafeTensors
import TestSupport
import Testing

/// Headers crafted to exhaust or stall a reader are refused quickly, with memory in proportion to
/// the header (measured as the growth of this process's peak resident memory).
@Suite("Hostile safetensors headers", .serialized)
struct HostileHeaderTests {
    /// Far under the 3.9 GB a tree of the 100 MB header below took, and above what reading it
    /// may allocate beside the bytes themselves.
    static let memoryLimit = 64 << 20

    /// Seconds: "well under a second" on a quiet machine, with room for a loaded one.
    static let timeLimit = 3.0

    @Test("100 MB of nested arrays are rejected in a bounded time and memory")
    func nestedArraysOfAHundredMegabytes() throws {
        var header = Array(#"{"t":["#.utf8)
        let unit = Array("[[[[]]]],".utf8)
        header.reserveCapacity(100_000_000 + 16)
        while header.count < 100_000_000 - unit.count { header += unit }
        header += Array("[]]}".utf8)
        let bytes = fileBytes(headerBytes: header)

        let (problem, seconds, growth) = try measured { readProblem(bytes) }
        #expect(problem == .tensorInfoNotObject(tensor: "t"))
        #expect(seconds < Self.timeLimit, "took \(seconds) s")
        #expect(growth < Self.memoryLimit, "peak memory grew by \(growth) bytes")
    }

    @Test("1.4 million zero-size tensors are rejected past the tensor limit, in a bounded time and memory")
    func zeroSizeTensors() throws {
        var header = Array("{".utf8)
        for index in 0..<1_400_000 {
            header += Array(#""t\#(index)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"#.utf8)
        }
        header[header.count - 1] = UInt8(ascii: "}")
        let bytes = fileBytes(headerBytes: header)

        let (problem, seconds, growth) = try measured { readProblem(bytes) }
        #expect(problem == .tooManyTensors(limit: SafeTensorsFile.maximumTensorCount))
        #expect(seconds < Self.timeLimit, "took \(seconds) s")
        #expect(growth < Self.memoryLimit, "peak memory grew by \(growth) bytes")
    }

    @Test("more tensors than the limit are refused")
    func tooManyTensors() {
        let count = SafeTensorsFile.maximumTensorCount + 1
        let entries = (0..<count).map { #""t\#($0)":{"dtype":"U8","shape":[1],"data_offsets":[\#($0),\#($0 + 1)]}"# }
        let bytes = fileBytes(header: "{" + entries.joined(separator: ",") + "}", data: [UInt8](repeating: 7, count: count))
        #expect(readProblem(bytes) == .tooManyTensors(limit: SafeTensorsFile.maximumTensorCount))
    }

    @Test("more metadata entries than the limit are refused")
    func tooManyMetadataEntries() {
        let entries = (0...SafeTensorsFile.maximumMetadataCount).map { #""k\#($0)":"""# }
        #expect(readProblem(fileBytes(header: #"{"__metadata__":{"# + entries.joined(separator: ",") + "}}"))
            == .tooManyMetadataEntries(limit: SafeTensorsFile.maximumMetadataCount))
    }

    @Test("a shape of more dimensions than the limit is refused")
    func tooManyDimensions() {
        let shape = "[" + Array(repeating: "1", count: SafeTensorsFile.maximumRank + 1).joined(separator: ",") + "]"
        #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":"# + shape + #","data_offsets":[0,1]}"#), data: [1]))
            == .invalidField(tensor: "t", field: "shape", expected: "an array of non-negative integers"))
    }

    @Test("a field named twice in a tensor entry is refused")
    func duplicateField() {
        #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}"#), data: [1]))
            == .duplicateKey("dtype"))
    }

    @Test("offsets beyond the data buffer are refused")
    func offsetsBeyondTheBuffer() {
        #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#)))
            == .bufferNotCovered(coveredBytes: 1, bufferBytes: 0))
        #expect(readProblem(fileBytes(header: oneTensorHeader(#"{"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]}"#)))
            == .offsetsNotContiguous(tensor: "t", begin: 9_223_372_036_854_775_806, expectedBegin: 0))
    }

    @Test("fields the schema does not name are skipped, whatever they hold")
    func unknownFieldsAreSkipped() throws {
        let bytes = fileBytes(header: oneTensorHeader(#"{"extra":{"a":[[1,2],{"b":null}]},"dtype":"U8","shape":[1],"data_offsets":[0,1]}"#), data: [4])
        #expect(try SafeTensorsFile(bytes: bytes, source: "extra").entry(named: "t")?.shape == [1])
    }

    @Test("a FIFO in place of a file is refused at once, not waited on")
    func fifoIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("model.safetensors")
        #expect(mkfifo(path, 0o600) == 0)
        #expect(throws: SafeTensorsError(file: path, problem: .unreadable(reason: "not a regular file (a FIFO)"))) {
            try SafeTensorsFile(contentsOf: path)
        }
    }

    @Test("a file over the reader's size limit is refused unread")
    func fileOverTheSizeLimit() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("big.safetensors")
        try Data(fileBytes(header: "{}", data: [])).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError(file: path, problem: .fileTooLarge(size: 10, limit: 9))) {
            try SafeTensorsFile(contentsOf: path, maximumSize: 9)
        }
    }
}

/// `body`'s result, the seconds it took, and how far it raised this process's peak resident
/// memory above what was resident before (Linux: the peak is reset through
/// /proc/self/clear_refs, then read as VmHWM).
func measured<Result>(_ body: () -> Result) throws -> (Result, seconds: Double, peakGrowth: Int) {
    try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    let before = try memoryStatus("VmRSS")
    let start = Date()
    let result = body()
    let seconds = Date().timeIntervalSince(start)
    return (result, seconds, try memoryStatus("VmHWM") - before)
}

/// A field of /proc/self/status, in bytes.
private func memoryStatus(_ field: String) throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
          let kilobytes = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
    else { throw CocoaError(.fileReadCorruptFile) }
    return kilobytes * 1024
}
