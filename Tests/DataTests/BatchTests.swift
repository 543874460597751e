import Data
import Testing

@Suite("Filling a batch")
struct BatchTests {
    /// One 16×16 image holding every byte value once, and a second holding them in reverse.
    let allBytes = LabeledImages(
        rows: 16, columns: 16, firstIndex: 0,
        pixels: (0 ... 255).map(UInt8.init) + (0 ... 255).reversed().map(UInt8.init),
        labels: [3, 8]
    )

    @Test func pixelsScaleExactlyAsByteOver255() {
        var images = [Float](repeating: .nan, count: 256)
        var labels = [Int32](repeating: -1, count: 1)
        allBytes.fillBatch(images: &images, labels: &labels, positions: 0 ..< 1)
        #expect(images.first == 0)
        #expect(images.last == 1)
        for byte in 0 ... 255 {
            #expect(images[byte].bitPattern == (Float(byte) / Float(255)).bitPattern, "byte \(byte)")
        }
    }

    @Test func samplesAreWrittenInTheGivenOrderWithTheirLabels() {
        var images = [Float](repeating: .nan, count: 2 * 256)
        var labels = [Int32](repeating: -1, count: 2)
        allBytes.fillBatch(images: &images, labels: &labels, positions: [1, 0])
        #expect(labels == [8, 3])
        #expect(images[0] == 1 && images[255] == 0)
        #expect(images[256] == 0 && images[511] == 1)
    }

    @Test func batchOfARealShardMatchesItsBytes() throws {
        let shard = try MNISTDataset.load(.test, from: mnistDirectory, samples: 100 ..< 200)
        let order = EpochOrder(sampleCount: shard.count, seed: 9, epoch: 2, rank: 1, shuffled: true)
        let positions = order.batch(1, batchSize: 60)
        var images = [Float](repeating: .nan, count: positions.count * 784)
        var labels = [Int32](repeating: -1, count: positions.count)
        shard.fillBatch(images: &images, labels: &labels, positions: positions)
        for (slot, position) in positions.enumerated() {
            #expect(labels[slot] == Int32(shard.labels[position]))
            #expect(images[slot * 784 ..< (slot + 1) * 784].elementsEqual(
                shard.pixels[position * 784 ..< (position + 1) * 784].map { Float($0) / 255 }))
        }
    }

    /// Writes 1000 × the sample's index plus its byte, an integer a float holds exactly.
    struct IndexStamp: SampleTransform {
        func write(
            pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>
        ) {
            for pixel in 0 ..< rows * columns { image[pixel] = Float(sampleIndex * 1000 + Int(pixels[pixel])) }
        }
    }

    @Test func aTransformWritesEachImageKnowingItsIndexInTheSplit() {
        let shard = LabeledImages(
            rows: 2, columns: 2, firstIndex: 500, pixels: [1, 2, 3, 4, 5, 6, 7, 8], labels: [4, 7])
        var images = [Float](repeating: .nan, count: 8)
        var labels = [Int32](repeating: -1, count: 2)
        shard.fillBatch(images: &images, labels: &labels, positions: [1, 0], transform: IndexStamp())
        #expect(labels == [7, 4])
        #expect(images == [501_005, 501_006, 501_007, 501_008, 500_001, 500_002, 500_003, 500_004])
    }
}
