import Foundation
import TensorBoard
import Testing

/// The framing of event files, against values computed by TensorBoard's own reader
/// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.crc32c` and `masked_crc32c`).
@Suite("TFRecord framing")
struct TFRecordTests {
    @Test("CRC-32C gives the standard check value of \"123456789\"")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test("CRC-32C of 32 zero bytes is RFC 3720's")
    func zeros() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("the masked CRC is TensorFlow's rotation plus its constant")
    func masked() {
        #expect(CRC32C.masked(Array("123456789".utf8)) == 0xC78A_B0E5)
    }

    @Test("a record is its length, the length's masked CRC, the data and the data's masked CRC, little-endian")
    func framing() {
        let record = TFRecord.framed(Array("abc".utf8))
        #expect(record == [3, 0, 0, 0, 0, 0, 0, 0] + [0xB0, 0x99, 0x49, 0x0E] + Array("abc".utf8) + [0x6E, 0x57, 0xF1, 0x21])
    }

    @Test("an empty record is 16 bytes of framing")
    func emptyRecord() {
        #expect(TFRecord.framed([]).count == 16)
    }
}

/// The event files a SummaryWriter makes.
@Suite("Summary writer")
struct SummaryWriterTests {
    @Test("a directory that cannot be made is refused, naming the part of its path at fault")
    func unwritableDirectory() throws {
        let scratch = NSTemporaryDirectory() + "summary-writer-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        // A directory cannot be made under a regular file, not even by root.
        FileManager.default.createFile(atPath: scratch + "/file", contents: Data())
        #expect(throws: EventFileError.self) { try SummaryWriter(directory: scratch + "/file/run", host: "host") }
        do {
            _ = try SummaryWriter(directory: scratch + "/file/run", host: "host")
        } catch {
            #expect(error.path == scratch + "/file" && error.reason == "not a directory", "\(error)")
        }
    }

    @Test("each writer makes its own file, beginning with the version record, named events.out.tfevents.<time>.<host>")
    func fileName() throws {
        let scratch = NSTemporaryDirectory() + "summary-writer-names-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let first = try SummaryWriter(directory: scratch + "/run", host: "node7")
        let second = try SummaryWriter(directory: scratch + "/run", host: "node7")
        #expect(first.path != second.path)
        let name = URL(fileURLWithPath: first.path).lastPathComponent
        #expect(name.hasPrefix("events.out.tfevents."))
        #expect(name.split(separator: ".")[4] == "node7")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: first.path)))
        #expect(Array(bytes.suffix(from: 12).dropLast(4)).count == Int(bytes[0]))
        #expect(String(decoding: bytes, as: UTF8.self).contains("brain.Event:2"))
    }
}
