import Data
import Foundation
import Testing

@Suite("Augmentation")
struct AugmentationTests {
    /// One 28×28 image: an L in the top-left quadrant, a bar down from (4, 4) and a foot to the right.
    let letterL: LabeledImages = {
        var pixels = [UInt8](repeating: 0, count: 784)
        for row in 4 ..< 12 { pixels[row * 28 + 4] = 255 }
        for column in 4 ..< 10 { pixels[11 * 28 + column] = 255 }
        return LabeledImages(rows: 28, columns: 28, firstIndex: 0, pixels: pixels, labels: [1])
    }()

    func augmented(_ transform: RandomAffine, index: Int) -> [Float] {
        var image = [Float](repeating: .nan, count: 784)
        transform.write(pixels: letterL.pixels, rows: 28, columns: 28, sampleIndex: index, into: &image)
        return image
    }

    /// The ink-weighted centre (column, row) of an image.
    func centroid(_ image: [Float]) -> (x: Float, y: Float) {
        let ink = image.reduce(0, +)
        let x = image.indices.reduce(Float(0)) { $0 + Float($1 % 28) * image[$1] } / ink
        let y = image.indices.reduce(Float(0)) { $0 + Float($1 / 28) * image[$1] } / ink
        return (x, y)
    }

    /// The augmentation's definition, one output pixel at a time: the inverse turn and shift of
    /// the pixel's position, sampled bilinearly with zero beyond the edges, scaled to /255.
    func perPixelDefinition(_ transform: RandomAffine, pixels: ArraySlice<UInt8>, index: Int) -> [Float] {
        let (angle, dx, dy) = transform.draw(sampleIndex: index)
        let (cosine, sine) = (cosf(angle), sinf(angle))
        let centre = Float(27) / 2
        func byte(_ row: Int, _ column: Int) -> Float {
            (0 ..< 28).contains(row) && (0 ..< 28).contains(column) ? Float(pixels[pixels.startIndex + row * 28 + column]) : 0
        }
        return (0 ..< 784).map { pixel in
            let v = Float(pixel / 28) - centre - dy
            let x = centre - sine * v - cosine * (centre + dx) + cosine * Float(pixel % 28)
            let y = centre + cosine * v - sine * (centre + dx) + sine * Float(pixel % 28)
            let (left, top) = (x.rounded(.down), y.rounded(.down))
            let (fx, fy) = (x - left, y - top)
            let (column, row) = (Int(left), Int(top))
            let upper = byte(row, column) * (1 - fx) + byte(row, column + 1) * fx
            let lower = byte(row + 1, column) * (1 - fx) + byte(row + 1, column + 1) * fx
            return (upper * (1 - fy) + lower * fy) / 255
        }
    }

    @Test("the fast sampler writes exactly what the per-pixel definition does, bit for bit")
    func samplerMatchesThePerPixelDefinition() throws {
        // Real digits, the L in its corner, and ink up to every edge (where the zero fill shows),
        // under the default bounds and the largest the options allow.
        let digits = try MNISTDataset.load(.test, from: mnistDirectory, samples: 0 ..< 40)
        let edgeToEdge = (0 ..< 784).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        let images = (0 ..< 40).map { digits.pixels[$0 * 784 ..< ($0 + 1) * 784] } + [letterL.pixels[...], edgeToEdge[...]]
        for (rotation, shift) in [(Float(10), Float(2)), (45, 8)] {
            let transform = RandomAffine(maxRotationDegrees: rotation, maxShift: shift, seed: 3, epoch: 1)
            for (index, pixels) in images.enumerated() {
                var image = [Float](repeating: .nan, count: 784)
                pixels.withUnsafeBufferPointer {
                    transform.write(pixels: $0.baseAddress!, rows: 28, columns: 28, sampleIndex: index, into: &image)
                }
                let expected = perPixelDefinition(transform, pixels: pixels, index: index)
                let differing = (0 ..< 784).filter { image[$0].bitPattern != expected[$0].bitPattern }
                #expect(
                    differing.isEmpty,
                    "image \(index), bounds \(rotation)° \(shift) px: \(differing.count) pixels differ, the first \(differing.prefix(1))")
            }
        }
    }

    @Test func theDrawDependsOnlyOnSeedEpochAndSampleIndex() {
        let transform = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 7, epoch: 3)
        let again = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 7, epoch: 3)
        #expect(augmented(transform, index: 41).map(\.bitPattern) == augmented(again, index: 41).map(\.bitPattern))
        #expect(augmented(transform, index: 41) != augmented(transform, index: 42))
        let nextEpoch = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 7, epoch: 4)
        #expect(augmented(transform, index: 41) != augmented(nextEpoch, index: 41))
    }

    @Test func drawsStayWithinTheBoundsAndSpreadOverThem() {
        let transform = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 0, epoch: 0)
        let draws = (0 ..< 1000).map { transform.draw(sampleIndex: $0) }
        let limit = Float(10 * Double.pi / 180)
        #expect(draws.allSatisfy { abs($0.angle) <= limit && abs($0.dx) <= 2 && abs($0.dy) <= 2 })
        #expect(draws.contains { $0.angle > limit * 0.9 } && draws.contains { $0.angle < -limit * 0.9 })
        #expect(draws.contains { $0.dx > 1.8 } && draws.contains { $0.dy < -1.8 })
    }

    @Test func noTurnAndNoShiftLeavesTheImageAsPlainScalingWrites() {
        let transform = RandomAffine(maxRotationDegrees: 0, maxShift: 0, seed: 5, epoch: 0)
        var plain = [Float](repeating: .nan, count: 784)
        var label: Int32 = 0
        letterL.fillBatch(images: &plain, labels: &label, positions: 0 ..< 1)
        #expect(augmented(transform, index: 9) == plain)
    }

    @Test func anAsymmetricShapeKeepsItsOrientationWithinTheBounds() {
        // The L's ink centre lies 9.6 pixels up and left of the image's centre: a mirror or a
        // turn beyond the bound would carry it to another quadrant, while the allowed moves keep
        // it within the shift plus the chord of a 10° turn (and half a pixel of blur).
        let original = centroid(augmented(RandomAffine(maxRotationDegrees: 0, maxShift: 0, seed: 0, epoch: 0), index: 0))
        let transform = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 1, epoch: 0)
        let shift: Float = 2 * Float(2).squareRoot()
        let turn: Float = 9.6 * 2 * sinf(Float.pi / 36)
        let reach = shift + turn + 0.5
        for index in 0 ..< 200 {
            let moved = centroid(augmented(transform, index: index))
            #expect(hypotf(moved.x - original.x, moved.y - original.y) <= reach, "sample \(index)")
        }
    }
}
