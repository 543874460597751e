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
        // Each output pixel takes the input at the point the turn and shift carry onto it:
        // the inverse map, so every output pixel is written once.
        for y in 0 ..< rows {
            let v = Float(y) - centreY - dy
            for x in 0 ..< columns {
                let u = Float(x) - centreX - dx
                let sourceX = cosine * u - sine * v + centreX
                let sourceY = sine * u + cosine * v + centreY
                image[y * columns + x] = bilinear(pixels, rows: rows, columns: columns, x: sourceX, y: sourceY) / 255
            }
        }
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
