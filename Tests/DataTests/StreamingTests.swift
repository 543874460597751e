import Data
import TestSupport
import Testing

/// Streaming a split batch by batch gives exactly what loading it whole gives, holding one batch.
@Suite("Streaming a split in batches")
struct StreamingTests {
    @Test("the real test set streams as the same samples, in order, in batches of the size asked")
    func streamEqualsLoad() throws {
        let whole = try MNISTDataset.load(.test, from: mnistDirectory)
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        var batchSizes: [Int] = []
        var firstIndices: [Int] = []
        try MNISTDataset.stream(.test, from: mnistDirectory, batchSize: 999) { batch in
            pixels += batch.pixels
            labels += batch.labels
            batchSizes.append(batch.count)
            firstIndices.append(batch.firstIndex)
        }
        #expect(pixels == whole.pixels)
        #expect(labels == whole.labels)
        #expect(batchSizes == Array(repeating: 999, count: 10) + [10])
        #expect(firstIndices == (0...10).map { $0 * 999 })
    }

    @Test("a slice of the real test set streams as loading that slice gives, in batches counted from its start")
    func streamedSliceEqualsLoadedSlice() throws {
        let slice = 3_300 ..< 6_650
        let loaded = try MNISTDataset.load(.test, from: mnistDirectory, samples: slice)
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        var batches: [Range<Int>] = []
        try MNISTDataset.stream(.test, from: mnistDirectory, samples: slice, batchSize: 100) { batch in
            pixels += batch.pixels
            labels += batch.labels
            batches.append(batch.firstIndex ..< batch.firstIndex + batch.count)
        }
        #expect(pixels == loaded.pixels)
        #expect(labels == loaded.labels)
        #expect(batches == stride(from: 3_300, to: 6_650, by: 100).map { $0 ..< min($0 + 100, 6_650) })
    }

    @Test(arguments: [false, true])
    func truncatedImagesFailAfterTheBatchesBeforeTheCut(compressed: Bool) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Four 2×3 images announced, three and a half present.
        let images = Array(imagesFile(count: 4).dropLast(3))
        try directory.writeSplit(.test, images: images, labels: labelsFile(labels: [1, 2, 3, 4]), compressed: compressed)
        var streamed = 0
        #expect(throws: IDXError.self) {
            try MNISTDataset.stream(.test, from: directory.path, batchSize: 2) { streamed += $0.count }
        }
        #expect(streamed == 2, "only the whole batch before the cut is passed on")
    }

    @Test func badLabelsStopTheStreamBeforeAnyBatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.writeSplit(.test, images: imagesFile(count: 2), labels: labelsFile(labels: [1, 12]), compressed: false)
        var streamed = 0
        #expect(throws: IDXError.labelOutOfRange(path: directory.path + "/t10k-labels-idx1-ubyte", index: 1, value: 12)) {
            try MNISTDataset.stream(.test, from: directory.path, batchSize: 2) { streamed += $0.count }
        }
        #expect(streamed == 0)
    }
}
