import Data
import Foundation
import TestSupport
import Testing

/// Each broken file is refused with the error that names its specific fault, whether the file is
/// stored raw or gzip'd.
@Suite("Malformed IDX files")
struct MalformedFileTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    private func load(samples: Range<Int>? = nil) throws(IDXError) -> LabeledImages {
        try MNISTDataset.load(.train, from: directory.path, samples: samples)
    }

    @Test(arguments: [false, true])
    func wellFormedFilesLoad(compressed: Bool) throws {
        try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [1, 2, 3]), compressed: compressed)
        let loaded = try load()
        #expect(loaded.count == 3)
        #expect((loaded.rows, loaded.columns) == (2, 3))
        #expect(loaded.pixels == Array(imagesFile(count: 3).dropFirst(16)))
        #expect(loaded.labels == [1, 2, 3])
    }

    @Test(arguments: [false, true])
    func badMagicIsReportedWithBothNumbers(compressed: Bool) throws {
        let images = imagesFile(magic: 0x0000_0D03, dimensions: [1, 1, 1], pixels: [0])
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0]), compressed: compressed)
        #expect(throws: IDXError.badMagic(path: paths.images, expected: 0x0000_0803, found: 0x0000_0D03)) { try load() }
    }

    @Test(arguments: [false, true])
    func labelsMagicInTheImagesFileIsAWrongDimensionCount(compressed: Bool) throws {
        let images = imagesFile(magic: 0x0000_0801, dimensions: [1], pixels: [0])
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0]), compressed: compressed)
        #expect(throws: IDXError.wrongDimensionCount(path: paths.images, expected: 3, found: 1)) { try load() }
    }

    @Test(arguments: [false, true])
    func fileEndingInsideTheHeaderIsATruncatedHeader(compressed: Bool) throws {
        let images = Array(imagesFile(count: 1).prefix(10))
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0]), compressed: compressed)
        #expect(throws: IDXError.truncatedHeader(path: paths.images, bytesHeld: 10, bytesNeeded: 16)) { try load() }
    }

    @Test(arguments: [false, true])
    func zeroDimensionIsRefused(compressed: Bool) throws {
        let images = imagesFile(dimensions: [1, 0, 28], pixels: [])
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0]), compressed: compressed)
        #expect(throws: IDXError.zeroDimension(path: paths.images, dimensions: [1, 0, 28])) { try load() }
    }

    @Test(arguments: [false, true])
    func dimensionsBeyondAnyFileSizeAreRefused(compressed: Bool) throws {
        let huge = UInt32.max
        let images = imagesFile(dimensions: [huge, huge, huge], pixels: [0])
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(count: huge, labels: [0]), compressed: compressed)
        let dimensions = [Int(huge), Int(huge), Int(huge)]
        #expect(throws: IDXError.dimensionsTooLarge(path: paths.images, dimensions: dimensions)) { try load() }
    }

    @Test(arguments: [false, true])
    func truncatedImagesReportHowManyWholeImagesTheFileHolds(compressed: Bool) throws {
        let images = Array(imagesFile(count: 3).dropLast(5))
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0, 1, 2]), compressed: compressed)
        #expect(throws: IDXError.truncated(path: paths.images, kind: .images, dimensions: [3, 2, 3], itemsHeld: 2)) { try load() }
    }

    @Test(arguments: [false, true])
    func truncatedLabelsReportHowManyLabelsTheFileHolds(compressed: Bool) throws {
        let labels = labelsFile(count: 3, labels: [0, 1])
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labels, compressed: compressed)
        #expect(throws: IDXError.truncated(path: paths.labels, kind: .labels, dimensions: [3], itemsHeld: 2)) { try load() }
    }

    @Test(arguments: [false, true])
    func truncationOutsideTheRequestedShardIsStillReported(compressed: Bool) throws {
        let images = Array(imagesFile(count: 3).dropLast(1))
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0, 1, 2]), compressed: compressed)
        #expect(throws: IDXError.truncated(path: paths.images, kind: .images, dimensions: [3, 2, 3], itemsHeld: 2)) {
            try load(samples: 0 ..< 1)
        }
    }

    @Test(arguments: [false, true])
    func bytesAfterTheLastImageAreRefused(compressed: Bool) throws {
        let images = imagesFile(count: 2) + [7, 7, 7]
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0, 1]), compressed: compressed)
        #expect(throws: IDXError.trailingBytes(path: paths.images, expectedBytes: 12, extraBytes: 3)) { try load() }
    }

    @Test(arguments: [false, true])
    func imageAndLabelCountsMustAgree(compressed: Bool) throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1]), compressed: compressed)
        let mismatch = IDXError.countMismatch(imagesPath: paths.images, images: 3, labelsPath: paths.labels, labels: 2)
        #expect(throws: mismatch) { try load(samples: 0 ..< 1) }
        #expect(throws: mismatch) { try MNISTDataset.sampleCount(of: .train, in: directory.path) }
    }

    @Test(arguments: [false, true])
    func labelTenIsRefusedByIndexEvenOutsideTheRequestedSamples(compressed: Bool) throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [1, 2, 10]), compressed: compressed)
        #expect(throws: IDXError.labelOutOfRange(path: paths.labels, index: 2, value: 10)) { try load(samples: 0 ..< 1) }
    }

    @Test(arguments: [false, true])
    func headerClaimingBillionsOfImagesInATinyFileFailsFastWithoutAllocatingThem(compressed: Bool) throws {
        // A million images: within the limit of an IDX file, far beyond this one.
        let claimed: UInt32 = 1 << 20
        let images = imagesFile(dimensions: [claimed, 28, 28], pixels: [UInt8](repeating: 1, count: 3 * 784 + 5))
        let labels = labelsFile(count: claimed, labels: [0, 1, 2])
        let paths = try directory.writeSplit(.train, images: images, labels: labels, compressed: compressed)
        let start = ContinuousClock.now
        #expect(throws: IDXError.truncated(path: paths.images, kind: .images, dimensions: [1 << 20, 28, 28], itemsHeld: 3)) {
            try load()
        }
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    @Test(arguments: [false, true])
    func samplesBeyondTheFileAreRefused(compressed: Bool) throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1, 2]), compressed: compressed)
        #expect(throws: IDXError.sampleRangeOutOfBounds(path: paths.images, requested: 2 ..< 4, available: 3)) {
            try load(samples: 2 ..< 4)
        }
    }

    @Test func missingFilesAreNamedByTheirGzipName() throws {
        #expect(throws: IDXError.missingFile(path: "\(directory.path)/train-images-idx3-ubyte.gz")) { try load() }
    }

    @Test func uncompressedDataUnderAGzipNameIsNotGzip() throws {
        let images = imagesFile(count: 1)
        try Data(images).write(to: URL(filePath: "\(directory.path)/train-images-idx3-ubyte.gz"))
        try directory.write(labelsFile(labels: [0]), to: "train-labels-idx1-ubyte.gz")
        #expect(throws: IDXError.notGzip(path: "\(directory.path)/train-images-idx3-ubyte.gz", leadingBytes: [0, 0, 8, 3])) {
            try load()
        }
    }

    @Test func gzipWithAWrongChecksumIsCorrupt() throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1, 2]), compressed: true)
        var compressed = try [UInt8](Data(contentsOf: URL(filePath: paths.images)))
        compressed[compressed.count - 8] ^= 0xFF  // the CRC-32 of the trailer
        try Data(compressed).write(to: URL(filePath: paths.images))
        #expect(throws: IDXError.corruptGzip(path: paths.images, reason: "incorrect data check")) { try load() }
    }

    @Test func gzipCutShortIsCorrupt() throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1, 2]), compressed: true)
        let compressed = try [UInt8](Data(contentsOf: URL(filePath: paths.images)))
        try Data(compressed.dropLast(12)).write(to: URL(filePath: paths.images))
        #expect(throws: IDXError.corruptGzip(path: paths.images, reason: "file ends inside the compressed stream")) { try load() }
    }

    @Test func gzipFollowedByOtherBytesIsCorrupt() throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1, 2]), compressed: true)
        let compressed = try [UInt8](Data(contentsOf: URL(filePath: paths.images)))
        try Data(compressed + [1, 2, 3]).write(to: URL(filePath: paths.images))
        #expect(throws: IDXError.corruptGzip(path: paths.images, reason: "3 bytes follow the end of the stream")) { try load() }
    }

    @Test func garbledDeflateDataIsCorrupt() throws {
        let paths = try directory.writeSplit(.train, images: imagesFile(count: 3), labels: labelsFile(labels: [0, 1, 2]), compressed: true)
        var compressed = try [UInt8](Data(contentsOf: URL(filePath: paths.images)))
        // Just past the 10-byte gzip header: a block type of 3 is invalid in deflate.
        compressed[10] |= 0b110
        try Data(compressed).write(to: URL(filePath: paths.images))
        #expect(throws: IDXError.corruptGzip(path: paths.images, reason: "invalid block type")) { try load() }
    }

    @Test func directoryInPlaceOfAFileIsUnreadable() throws {
        try FileManager.default.createDirectory(atPath: "\(directory.path)/train-images-idx3-ubyte.gz", withIntermediateDirectories: false)
        try directory.write(labelsFile(labels: [0]), to: "train-labels-idx1-ubyte.gz")
        #expect(throws: IDXError.unreadableFile(path: "\(directory.path)/train-images-idx3-ubyte.gz", reason: "not a regular file (a directory)")) {
            try load()
        }
    }
}
