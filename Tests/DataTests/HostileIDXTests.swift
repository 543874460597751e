import Data
import Foundation
import TestSupport
import Testing

/// Headers that claim what no file can hold, and files that are not files, are refused before
/// anything is allocated for them or waited on.
@Suite("Hostile IDX files")
struct HostileIDXTests {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    @Test("rows = 0xFFFFFFFF is refused from the header, before any image buffer", arguments: [false, true])
    func rowsOfFourBillion(compressed: Bool) throws {
        let images = imagesFile(dimensions: [10_000, 0xFFFF_FFFF, 28], pixels: [UInt8](repeating: 0, count: 784))
        let paths = try directory.writeSplit(.test, images: images, labels: labelsFile(count: 10_000, labels: [0]), compressed: compressed)
        let refusal = IDXError.dimensionsTooLarge(path: paths.images, dimensions: [10_000, 0xFFFF_FFFF, 28])
        #expect(throws: refusal) { try MNISTDataset.imageSize(of: .test, in: directory.path) }
        #expect(throws: refusal) { try MNISTDataset.stream(.test, from: directory.path, batchSize: 100) { _ in } }
        #expect(throws: refusal) { try MNISTDataset.load(.test, from: directory.path) }
    }

    @Test("a header announcing more than 1 GiB is refused, however well the file compresses", arguments: [false, true])
    func payloadOverTheLimit(compressed: Bool) throws {
        let images = imagesFile(dimensions: [2, 32_768, 16_385], pixels: [])
        let paths = try directory.writeSplit(.train, images: images, labels: labelsFile(labels: [0, 1]), compressed: compressed)
        #expect(throws: IDXError.dimensionsTooLarge(path: paths.images, dimensions: [2, 32_768, 16_385])) {
            try MNISTDataset.load(.train, from: directory.path)
        }
    }

    @Test("the image size is read from the header alone")
    func imageSizeFromTheHeader() throws {
        // Compressed and cut after the header: only streaming the images would find that out.
        try directory.writeSplit(.train, images: Array(imagesFile(count: 3, rows: 5, columns: 7).prefix(16)),
                                 labels: labelsFile(labels: [1, 2, 3]), compressed: true)
        let size = try MNISTDataset.imageSize(of: .train, in: directory.path)
        #expect((size.rows, size.columns) == (5, 7))
    }

    @Test("a FIFO in place of a data file is refused at once, not waited on", .timeLimit(.minutes(1)))
    func fifoIsRefused() throws {
        let path = directory.file("train-images-idx3-ubyte.gz")
        #expect(mkfifo(path, 0o600) == 0)
        try directory.write(labelsFile(labels: [0]), to: "train-labels-idx1-ubyte.gz")
        #expect(throws: IDXError.unreadableFile(path: path, reason: "not a regular file (a FIFO)")) {
            try MNISTDataset.load(.train, from: directory.path)
        }
    }
}
