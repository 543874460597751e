import Data
import Foundation
import TestSupport
import Testing

@Suite("The vendored MNIST files")
struct VendoredMNISTTests {
    @Test func sha256HelperMatchesTheStandardTestVectors() {
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
    }

    @Test func filesMatchTheirRecordedChecksums() throws {
        let sums = try String(contentsOfFile: mnistDirectory + "/SHA256SUMS", encoding: .utf8)
        let entries = sums.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(entries.count == 4)
        for entry in entries {
            let (digest, name) = (String(entry[0]), String(entry[1]))
            let bytes = try [UInt8](Data(contentsOf: URL(filePath: "\(mnistDirectory)/\(name)")))
            #expect(sha256Hex(bytes) == digest, "\(name)")
        }
    }

    @Test func trainingSplitHolds60000ImagesOf28By28StartingWithLabels50419() throws {
        let train = try MNISTDataset.load(.train, from: mnistDirectory)
        #expect(train.count == 60000)
        #expect((train.rows, train.columns) == (28, 28))
        #expect(train.pixels.count == 60000 * 784)
        #expect(train.labels.prefix(5) == [5, 0, 4, 1, 9])
        #expect(train.labels.suffix(3) == [5, 6, 8])
    }

    @Test func testSplitHolds10000ImagesOf28By28StartingWithLabels72104() throws {
        let test = try MNISTDataset.load(.test, from: mnistDirectory)
        #expect(test.count == 10000)
        #expect((test.rows, test.columns) == (28, 28))
        #expect(test.labels.prefix(5) == [7, 2, 1, 0, 4])
    }

    @Test func firstTrainingImageHasItsKnownInk() throws {
        let first = try MNISTDataset.load(.train, from: mnistDirectory, samples: 0 ..< 1)
        #expect(first.pixels.reduce(0) { $0 + Int($1) } == 27525)
        let middleRow = Array(first.pixels[14 * 28 ..< 15 * 28])
        #expect(middleRow == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51, 0xF0, 0xFD, 0xFD, 0x77, 0x19] + Array(repeating: 0, count: 9))
    }

    @Test func sampleCountComesFromTheHeaders() throws {
        #expect(try MNISTDataset.sampleCount(of: .train, in: mnistDirectory) == 60000)
        #expect(try MNISTDataset.sampleCount(of: .test, in: mnistDirectory) == 10000)
    }

    @Test func shardEqualsTheSameSliceOfTheWholeSetAndHoldsOnlyItself() throws {
        let whole = try MNISTDataset.load(.train, from: mnistDirectory)
        let range = Sharding.range(of: whole.count, rank: 1, worldSize: 3)
        let shard = try MNISTDataset.load(.train, from: mnistDirectory, samples: range)

        #expect(shard.firstIndex == range.lowerBound)
        #expect(shard.labels[...] == whole.labels[range])
        #expect(shard.pixels[...] == whole.pixels[range.lowerBound * 784 ..< range.upperBound * 784])
        #expect(shard.pixels.count == range.count * 784)
        // Beyond the shard's own bytes, only the allocator's rounding to whole pages.
        #expect(shard.pixels.capacity - shard.pixels.count < 8192)
        #expect(shard.labels.capacity - shard.labels.count < 8192)
    }

    @Test func uncompressedFilesAreReadWhenNoGzipFileExists() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for stem in [MNISTSplit.test.imagesStem, MNISTSplit.test.labelsStem] {
            let compressed = try Data(contentsOf: URL(filePath: "\(mnistDirectory)/\(stem).gz"))
            try directory.write(gunzipped([UInt8](compressed)), to: stem)
        }
        let fromRaw = try MNISTDataset.load(.test, from: directory.path)
        let fromGzip = try MNISTDataset.load(.test, from: mnistDirectory)
        #expect(fromRaw.pixels == fromGzip.pixels)
        #expect(fromRaw.labels == fromGzip.labels)
    }
}
