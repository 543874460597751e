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
}
