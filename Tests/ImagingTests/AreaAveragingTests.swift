import Imaging
import Testing

/// Resizing by area averaging: each output pixel the mean of the source area it covers.
@Suite("Area averaging")
struct AreaAveragingTests {
    static func grey(_ width: Int, _ height: Int, _ samples: [UInt8]) -> Bitmap {
        Bitmap(width: width, height: height, channels: 1, samples: samples)
    }

    @Test("shrinking 4×4 to 2×2 gives each 2×2 block's mean")
    func wholeBlocksAveraged() {
        let image = Self.grey(4, 4, [
            10, 20, 100, 100,
            30, 40, 100, 100,
            0, 0, 255, 255,
            0, 4, 255, 255,
        ])
        #expect(image.resized(width: 2, height: 2) == Self.grey(2, 2, [25, 100, 1, 255]))
    }

    @Test("shrinking 3×3 to 2×2 weights each source pixel by the part of it an output pixel covers")
    func fractionalCoverage() {
        // Each output covers 1.5×1.5 source pixels: a corner pixel wholly, its two edge
        // neighbours half, the centre a quarter. Top left: (0 + 30/2 + 90/2 + 120/4) / 2.25 = 40.
        let image = Self.grey(3, 3, [
            0, 30, 60,
            90, 120, 150,
            180, 210, 240,
        ])
        #expect(image.resized(width: 2, height: 2) == Self.grey(2, 2, [40, 80, 160, 200]))
    }

    @Test("enlarging by a whole factor repeats each pixel into a block")
    func wholeFactorRepeats() {
        #expect(Self.grey(2, 2, [1, 2, 3, 4]).resized(width: 4, height: 4) == Self.grey(4, 4, [
            1, 1, 2, 2,
            1, 1, 2, 2,
            3, 3, 4, 4,
            3, 3, 4, 4,
        ]))
    }

    @Test("enlarging 2 to 3 gives the ends as they are and the middle, straddling both, their mean")
    func enlargingStraddles() {
        #expect(Self.grey(2, 1, [0, 90]).resized(width: 3, height: 1) == Self.grey(3, 1, [0, 45, 90]))
    }

    @Test("means are rounded to the nearest byte, halves up")
    func rounding() {
        #expect(Self.grey(2, 1, [0, 1]).resized(width: 1, height: 1) == Self.grey(1, 1, [1]))
        #expect(Self.grey(2, 1, [254, 255]).resized(width: 1, height: 1) == Self.grey(1, 1, [255]))
        #expect(Self.grey(3, 1, [0, 0, 1]).resized(width: 1, height: 1) == Self.grey(1, 1, [0]))
    }

    @Test("an RGB image is resized each channel apart")
    func channelsApart() {
        let image = Bitmap(width: 2, height: 1, channels: 3, samples: [255, 0, 10, 0, 100, 30])
        #expect(image.resized(width: 1, height: 1) == Bitmap(width: 1, height: 1, channels: 3, samples: [128, 50, 20]))
    }

    @Test("an image resized to its own size is unchanged")
    func ownSizeUnchanged() {
        let image = Bitmap(width: 3, height: 2, channels: 3, samples: (0 ..< 18).map { UInt8($0 * 13) })
        #expect(image.resized(width: 3, height: 2) == image)
    }

    @Test("planes hold each channel's samples together, as C×H×W")
    func planes() {
        let image = Bitmap(width: 2, height: 1, channels: 3, samples: [1, 2, 3, 4, 5, 6])
        #expect(image.planes == [1, 4, 2, 5, 3, 6])
    }
}
