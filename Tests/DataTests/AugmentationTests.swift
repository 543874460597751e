import Data
import Foundation
import KernelPaths
import SeededRandom
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

    /// `count` `rows × columns` images of random bytes (seeded) within the box `inset` pixels from
    /// every edge: MNIST scales its digits into the central 20×20 box of 28×28.
    func randomInk(count: Int, rows: Int = 28, columns: Int = 28, inset: Int = 4, seed: UInt64) -> [[UInt8]] {
        var generator = SeededGenerator(seed: seed)
        return (0 ..< count).map { _ in
            var pixels = [UInt8](repeating: 0, count: rows * columns)
            for row in inset ..< rows - inset {
                for column in inset ..< columns - inset {
                    pixels[row * columns + column] = UInt8(truncatingIfNeeded: generator.next())
                }
            }
            return pixels
        }
    }

    @Test("every path's sampler writes exactly what the per-pixel definition does, bit for bit")
    func samplerMatchesThePerPixelDefinition() throws {
        // Real digits, the L in its corner, ink up to every edge (where the zero fill shows) and
        // random ink over the central 20×20 box, under the default bounds and the largest the
        // options allow; then the default bounds' draws for many more samples over real digits.
        // Together they take every branch on every path: chunks read a row at a time, chunks
        // with lanes one column behind, and (under the largest bounds) chunks read lane by lane.
        let digits = try MNISTDataset.load(.test, from: mnistDirectory, samples: 0 ..< 40)
        let digitImages = (0 ..< 40).map { digits.pixels[$0 * 784 ..< ($0 + 1) * 784] }
        let edgeToEdge = (0 ..< 784).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        let images = digitImages + [letterL.pixels[...], edgeToEdge[...]] + randomInk(count: 20, seed: 11).map { $0[...] }
        var cases: [(transform: RandomAffine, bounds: String, index: Int, pixels: ArraySlice<UInt8>)] = []
        // Also turns so slight that the row bounds lie ~1/sin away (10⁻⁵°), and none at all.
        for (rotation, shift) in [(Float(10), Float(2)), (45, 8), (1e-5, 2), (0, 1.5)] {
            let transform = RandomAffine(maxRotationDegrees: rotation, maxShift: shift, seed: 3, epoch: 1)
            cases += images.enumerated().map { (transform, "\(rotation)° \(shift) px", $0, $1) }
        }
        let defaultBounds = RandomAffine(maxRotationDegrees: 10, maxShift: 2, seed: 3, epoch: 2)
        cases += (100 ..< 340).map { (defaultBounds, "10° 2 px, epoch 2", $0, digitImages[$0 % 40]) }
        for (transform, bounds, index, pixels) in cases {
            let expected = perPixelDefinition(transform, pixels: pixels, index: index)
            for path in KernelPath.supported {
                var image = [Float](repeating: .nan, count: 784)
                pixels.withUnsafeBufferPointer {
                    transform.write(pixels: $0.baseAddress!, rows: 28, columns: 28, sampleIndex: index, into: &image, on: path)
                }
                let differing = (0 ..< 784).filter { image[$0].bitPattern != expected[$0].bitPattern }
                #expect(
                    differing.isEmpty,
                    "\(path) path, image \(index), bounds \(bounds): \(differing.count) pixels differ, the first \(differing.prefix(1))")
            }
        }
    }

    @Test("every path writes the same bits for the same draw, at any image size")
    func everyPathWritesTheSameBits() throws {
        // Sizes beside MNIST's: narrower than a 16-lane chunk (sampled pixel by pixel there), and
        // too large for the sampler's scratch on the stack.
        let digits = try MNISTDataset.load(.test, from: mnistDirectory, samples: 0 ..< 20)
        let sizes: [(rows: Int, columns: Int, images: [[UInt8]])] = [
            (28, 28, (0 ..< 20).map { Array(digits.pixels[$0 * 784 ..< ($0 + 1) * 784]) } + randomInk(count: 20, seed: 12)),
            (20, 12, randomInk(count: 20, rows: 20, columns: 12, inset: 2, seed: 13)),
            (36, 40, randomInk(count: 20, rows: 36, columns: 40, inset: 3, seed: 14)),
        ]
        let paths = KernelPath.supported
        for (rotation, shift) in [(Float(10), Float(2)), (45, 8)] {
            let transform = RandomAffine(maxRotationDegrees: rotation, maxShift: shift, seed: 5, epoch: 0)
            for (rows, columns, images) in sizes {
                for (index, pixels) in images.enumerated() {
                    let written = paths.map { path in
                        var image = [Float](repeating: .nan, count: rows * columns)
                        transform.write(pixels: pixels, rows: rows, columns: columns, sampleIndex: index, into: &image, on: path)
                        return image.map(\.bitPattern)
                    }
                    for (path, image) in zip(paths, written) {
                        let differing = (0 ..< rows * columns).filter { image[$0] != written[0][$0] }
                        #expect(
                            differing.isEmpty,
                            "\(path) path against \(paths[0]), \(rows)×\(columns) image \(index), bounds \(rotation)° \(shift) px: \(differing.count) pixels differ, the first \(differing.prefix(1))")
                    }
                }
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

    @Test func imagesNarrowerThanAWordAreSampledNotLeftBlank() {
        // Under 8 columns the ink is found byte by byte; with no turn or shift every path must
        // write the plain scaling, ink included.
        let (rows, columns) = (5, 6)
        let pixels = (0 ..< rows * columns).map { UInt8(truncatingIfNeeded: $0 % 4 == 1 ? 40 * $0 + 7 : 0) }
        let narrow = LabeledImages(rows: rows, columns: columns, firstIndex: 0, pixels: pixels, labels: [0])
        var plain = [Float](repeating: .nan, count: rows * columns)
        var label: Int32 = 0
        narrow.fillBatch(images: &plain, labels: &label, positions: 0 ..< 1)
        let transform = RandomAffine(maxRotationDegrees: 0, maxShift: 0, seed: 5, epoch: 0)
        for path in KernelPath.supported {
            var image = [Float](repeating: .nan, count: rows * columns)
            transform.write(pixels: pixels, rows: rows, columns: columns, sampleIndex: 0, into: &image, on: path)
            #expect(image == plain, "\(path) path")
        }
        #expect(plain.contains { $0 > 0 })
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
