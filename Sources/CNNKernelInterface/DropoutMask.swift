/// Which elements one dropout layer keeps in one training step: a pure function of the run's
/// seed, the layer, the step and each sample's global index in the step's batch, so that the
/// same sample is masked alike whichever rank computes it (the result does not depend on the
/// world size) and a resumed run masks as the uninterrupted one did.
///
/// Each sample's elements are the SplitMix64 stream seeded by a hash of (seed, layer, step,
/// sample): element e keeps when the top 24 bits of the stream's e-th output are at least
/// p · 2^24, which happens with probability 1 − p to within 2^−24.
public struct DropoutMask: Sendable, Equatable {
    /// The probability of zeroing an element, in [0, 1).
    public let probability: Double
    /// Whom the mask belongs to: the run's seed and the layer's place in the network.
    public let seed: UInt64
    public let layer: Int
    public let step: Int
    /// The global index of the first sample of the buffer the kernels are given.
    public let firstSample: Int

    /// The factor a kept element is multiplied by: PyTorch's inverted scaling.
    public let keptScale: Float
    /// An element keeps when its 24-bit draw is at least this.
    public let threshold: UInt64

    public init(probability: Double, seed: UInt64, layer: Int, step: Int, firstSample: Int) {
        precondition(probability >= 0 && probability < 1, "dropout probability \(probability) outside [0, 1)")
        (self.probability, self.seed, self.layer, self.step, self.firstSample) = (probability, seed, layer, step, firstSample)
        keptScale = Float(1 / (1 - probability))
        threshold = UInt64((probability * 16_777_216).rounded(.up))
    }

    /// The stream of the `sample`-th sample of the buffer.
    public func stream(sample: Int) -> UInt64 {
        let layerState = Self.mix(Self.mix(seed) ^ UInt64(truncatingIfNeeded: layer))
        return Self.mix(Self.mix(layerState ^ UInt64(truncatingIfNeeded: step)) ^ UInt64(truncatingIfNeeded: firstSample + sample))
    }

    /// Whether element `element` of the sample whose stream is `stream` is kept. Inlinable: the
    /// kernels of every path call it once per element.
    @inlinable @inline(__always)
    public func keeps(stream: UInt64, element: Int) -> Bool {
        Self.mix(stream &+ UInt64(truncatingIfNeeded: element + 1) &* Self.golden) >> 40 >= threshold
    }

    /// `keeps(stream:element:)` of the eight elements from `first` on, lane k for element first + k:
    /// the same integer arithmetic, eight lanes at a time.
    @inlinable @inline(__always)
    public func keeps(stream: UInt64, elementsFrom first: Int) -> SIMDMask<SIMD8<Int32>> {
        let elements = SIMD8<UInt64>(repeating: UInt64(truncatingIfNeeded: first + 1)) &+ SIMD8(0, 1, 2, 3, 4, 5, 6, 7)
        // The draws have 24 bits and the threshold at most 2^24: 32-bit lanes hold them exactly.
        let draws = SIMD8<UInt32>(truncatingIfNeeded: Self.mix(SIMD8(repeating: stream) &+ elements &* Self.golden) &>> 40)
        return draws .>= SIMD8(repeating: UInt32(threshold))
    }

    /// SplitMix64's increment, 2^64 / φ.
    @inlinable static var golden: UInt64 { 0x9E37_79B9_7F4A_7C15 }

    /// SplitMix64's finaliser.
    @inlinable @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// SplitMix64's finaliser in each lane.
    @inlinable @inline(__always)
    static func mix(_ value: SIMD8<UInt64>) -> SIMD8<UInt64> {
        var z = value
        z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z &>> 31)
    }
}

/// The dropout context of one training step: everything the masks need besides the layer.
public struct DropoutContext: Sendable, Equatable {
    public let seed: UInt64
    public let step: Int
    /// The global index, in the step's whole batch over all ranks, of this call's first sample.
    public let firstSample: Int

    public init(seed: UInt64, step: Int, firstSample: Int) {
        (self.seed, self.step, self.firstSample) = (seed, step, firstSample)
    }

    /// The mask of the dropout layer at `layer` (its 0-based place in the network).
    public func mask(probability: Double, layer: Int) -> DropoutMask {
        DropoutMask(probability: probability, seed: seed, layer: layer, step: step, firstSample: firstSample)
    }
}
