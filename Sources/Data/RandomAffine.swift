import SeededRandom

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training-time augmentation: each image turned by a random angle up to ±`maxRotationDegrees`
/// about its centre and moved by up to ±`maxShift` pixels along each axis, sampled bilinearly
/// with zero (background) beyond the edges, then scaled to byte/255. Never mirrored: a mirrored
/// 6 would read as a 9's cousin, not a 6.
///
/// The draw for a sample depends only on (seed, epoch, the sample's index in the training file),
/// so a run is reproducible on any world size and a resumed run draws what the uninterrupted one
/// would have. Writing an image allocates nothing.
public struct RandomAffine: SampleTransform, Sendable {
    public let maxRotationDegrees: Float
    public let maxShift: Float
    /// The seed of this epoch's draws, from which each sample's generator is derived by index.
    private let epochKey: UInt64

    public init(maxRotationDegrees: Float, maxShift: Float, seed: UInt64, epoch: Int) {
        self.maxRotationDegrees = maxRotationDegrees
        self.maxShift = maxShift
        // A stream of its own, apart from the data order's (seed, epoch, rank) streams.
        var generator = SeededGenerator(seed: seed, stream: [UInt64(epoch), 0x6175_676D_656E_74])
        epochKey = generator.next()
    }

    /// The rotation (radians) and shift (pixels along columns and rows) drawn for the sample at
    /// `sampleIndex`.
    public func draw(sampleIndex: Int) -> (angle: Float, dx: Float, dy: Float) {
        // SplitMix64 seeding spreads consecutive seeds over unrelated states.
        var generator = SeededGenerator(seed: epochKey &+ UInt64(sampleIndex))
        let degrees = maxRotationDegrees > 0 ? generator.nextFloat(symmetricBound: maxRotationDegrees) : 0
        let dx = maxShift > 0 ? generator.nextFloat(symmetricBound: maxShift) : 0
        let dy = maxShift > 0 ? generator.nextFloat(symmetricBound: maxShift) : 0
        return (degrees * .pi / 180, dx, dy)
    }

    public func write(
        pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>
    ) {
        let (angle, dx, dy) = draw(sampleIndex: sampleIndex)
        let (cosine, sine) = (cosf(angle), sinf(angle))
        let centreX = Float(columns - 1) / 2
        let centreY = Float(rows - 1) / 2
        // Only points within a pixel of the ink can take any: the rest of the image (most of an
        // MNIST digit's frame) is written as background without sampling.
        guard let ink = inkBounds(pixels, rows: rows, columns: columns) else {
            image.update(repeating: 0, count: rows * columns)
            return
        }
        let (lowX, highX) = (Float(ink.columns.lowerBound) - 1, Float(ink.columns.upperBound))
        let (lowY, highY) = (Float(ink.rows.lowerBound) - 1, Float(ink.rows.upperBound))
        // Each output pixel takes the input at the point the turn and shift carry onto it:
        // the inverse map, so every output pixel is written once.
        for y in 0 ..< rows {
            let v = Float(y) - centreY - dy
            let rowX = centreX - sine * v - cosine * (centreX + dx)
            let rowY = centreY + cosine * v - sine * (centreX + dx)
            for x in 0 ..< columns {
                let sourceX = rowX + cosine * Float(x)
                let sourceY = rowY + sine * Float(x)
                image[y * columns + x] =
                    sourceX > lowX && sourceX < highX && sourceY > lowY && sourceY < highY
                    ? bilinear(pixels, rows: rows, columns: columns, x: sourceX, y: sourceY) / 255 : 0
            }
        }
    }

    /// The rows and columns holding any ink; nil for a blank image.
    private func inkBounds(
        _ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int
    ) -> (rows: Range<Int>, columns: Range<Int>)? {
        var (top, bottom, left, right) = (rows, -1, columns, -1)
        for row in 0 ..< rows {
            var first = columns, last = -1
            for column in 0 ..< columns where pixels[row * columns + column] != 0 {
                first = min(first, column)
                last = column
            }
            guard last >= 0 else { continue }
            top = min(top, row)
            bottom = row
            left = min(left, first)
            right = max(right, last)
        }
        return bottom < 0 ? nil : (top ..< bottom + 1, left ..< right + 1)
    }

    /// The bytes around (x, y) blended by distance, 0 outside the image.
    @inline(__always)
    private func bilinear(_ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, x: Float, y: Float) -> Float {
        let left = x.rounded(.down), top = y.rounded(.down)
        let (fx, fy) = (x - left, y - top)
        let (column, row) = (Int(left), Int(top))
        @inline(__always) func byte(_ r: Int, _ c: Int) -> Float {
            r >= 0 && r < rows && c >= 0 && c < columns ? Float(pixels[r * columns + c]) : 0
        }
        let upper = byte(row, column) * (1 - fx) + byte(row, column + 1) * fx
        let lower = byte(row + 1, column) * (1 - fx) + byte(row + 1, column + 1) * fx
        return upper * (1 - fy) + lower * fy
    }
}
