#if arch(x86_64)
import AffineSamplerAVX2
import AffineSamplerAVX512
#endif
import AffineSamplerBaseline
import KernelPaths
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
/// would have. Writing a 28×28 image allocates nothing (the sampler's scratch lives on the stack).
/// The sampler is compiled once per instruction set and runs on `KernelPath.active`
/// (`MNIST_DDP_KERNELS` forces a path); every path writes the same bits.
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
        write(pixels: pixels, rows: rows, columns: columns, sampleIndex: sampleIndex, into: image, sampler: Self.activeSampler)
    }

    /// `write` with the sampler compiled for `path` rather than the active one: for tests and
    /// comparisons; every path writes the same bits.
    public func write(
        pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>,
        on path: KernelPath
    ) {
        write(pixels: pixels, rows: rows, columns: columns, sampleIndex: sampleIndex, into: image, sampler: Self.sampler(on: path))
    }

    private func write(
        pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>,
        sampler: Sampler
    ) {
        let (angle, dx, dy) = draw(sampleIndex: sampleIndex)
        sampler(pixels, rows, columns, cosf(angle), sinf(angle), dx, dy, image)
    }

    /// `AffineSampler.sample` of one path: the image turned (cosine, sine), shifted (dx, dy).
    private typealias Sampler = @Sendable (
        _ pixels: UnsafePointer<UInt8>, _ rows: Int, _ columns: Int, _ cosine: Float, _ sine: Float, _ dx: Float, _ dy: Float,
        _ image: UnsafeMutablePointer<Float>
    ) -> Void

    /// The sampler of `KernelPath.active`, resolved once for the process.
    private static let activeSampler = sampler(on: .active)

    private static func sampler(on path: KernelPath) -> Sampler {
        switch path {
        case .baseline: AffineSamplerBaseline.AffineSampler.sample
        #if arch(x86_64)
        case .avx2: AffineSamplerAVX2.AffineSampler.sample
        case .avx512: AffineSamplerAVX512.AffineSampler.sample
        #endif
        }
    }
}
