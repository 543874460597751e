/// A small, fast, seedable generator (xoshiro256**), seeded through SplitMix64 as its authors
/// recommend. Its output depends only on the seed and the stream words, never on the platform
/// or the Swift version, so the same seed draws the same parameters and the same data order on
/// any machine. `SystemRandomNumberGenerator` is never used for anything that must reproduce.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator for `seed`, optionally split into an independent stream by `stream` words
    /// (for example the epoch and the rank), so that each (seed, epoch, rank) has its own order.
    public init(seed: UInt64, stream: [UInt64] = []) {
        var mixer = SplitMix64(state: seed)
        for word in stream {
            mixer = SplitMix64(state: mixer.next() ^ word &* 0x9E37_79B9_7F4A_7C15)
        }
        state = (mixer.next(), mixer.next(), mixer.next(), mixer.next())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A float uniform in [0, 1) with all 24 bits of the significand random.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A float uniform in [-bound, bound), as PyTorch's `uniform_(-bound, bound)` draws it.
    public mutating func nextFloat(symmetricBound bound: Float) -> Float {
        (nextUnitFloat() * 2 - 1) * bound
    }

    /// An integer uniform in 0..<upperBound, without modulo bias (Lemire's method), defined here
    /// rather than borrowed from the standard library so the sequence can never change under us.
    public mutating func nextIndex(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "upper bound must be positive")
        let bound = UInt64(upperBound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return Int(product.high)
    }

    /// Fisher–Yates shuffle of `elements` in place, with this generator's own index draws.
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ elements: inout C)
    where C.Index == Int {
        var remaining = elements.count
        while remaining > 1 {
            let pick = nextIndex(below: remaining)
            remaining -= 1
            elements.swapAt(elements.startIndex + remaining, elements.startIndex + pick)
        }
    }
}

@inline(__always)
private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
    (value << count) | (value >> (64 - count))
}

/// SplitMix64, used only to expand a 64-bit seed into xoshiro's 256-bit state.
private struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
