// The network runs on blocks of samples with the sample as the SIMD lane: every activation
// element is one `Lanes` vector holding that element for all the samples of a block. Every layer
// then becomes a loop of scalar weight × vector FMAs with no edge cases in the vector dimension,
// whatever the image and channel sizes, and the weights are shared by all lanes exactly as they
// are by all samples.
//
// This file is compiled once per instruction set (see Package.swift), and a vector of lanes is
// exactly one register of it: 16 floats for AVX-512, 8 for AVX2, 4 for SSE2 and NEON. The
// micro-kernels' register blocking is chosen per register file (32 registers for AVX-512, 16 for
// the others): see `ConvolutionTile` and `conv3x3WeightBackward`.

#if LANES16
/// One activation element for each sample of a lane block.
typealias Lanes = SIMD16<Float>
/// One label (or class) for each sample of a lane block.
typealias LaneLabels = SIMD16<Int32>
#elseif LANES8
typealias Lanes = SIMD8<Float>
typealias LaneLabels = SIMD8<Int32>
#else
typealias Lanes = SIMD4<Float>
typealias LaneLabels = SIMD4<Int32>
#endif

/// Samples per lane block.
let laneCount = Lanes.scalarCount

/// sum + a·b, fused where the instruction set has an FMA. Without one (baseline x86-64) LLVM would
/// turn a fused multiply-add into a call to `fmaf` per lane, so there it is a multiply and an add.
@inline(__always)
func multiplyAdd(_ sum: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes {
    #if UNFUSED_MULTIPLY_ADD
    sum + a * b
    #else
    sum.addingProduct(a, b)
    #endif
}

/// The sum of the lanes, as a fixed tree (halves added until one pair is left) so that the result
/// never depends on the compiler.
@inline(__always)
func laneSum(_ value: SIMD16<Float>) -> Float { laneSum(value.lowHalf + value.highHalf) }

@inline(__always)
func laneSum(_ value: SIMD8<Float>) -> Float { laneSum(value.lowHalf + value.highHalf) }

@inline(__always)
func laneSum(_ value: SIMD4<Float>) -> Float {
    let two = value.lowHalf + value.highHalf
    return two[0] + two[1]
}

/// The lanewise maximum, written as a select because `pointwiseMax` is compiled lane by lane.
@inline(__always)
func maximum(_ a: Lanes, _ b: Lanes) -> Lanes {
    a.replacing(with: b, where: a .< b)
}

/// Transposes in place the laneCount×laneCount matrix whose rows are `matrix[0..<laneCount]`;
/// scratch: laneCount lane vectors. Each pass is a perfect unshuffle of the elements (evens
/// first), which rotates their index (row bits, then column bits) right by one bit; log₂(laneCount)
/// passes swap the row and column bits.
func transposeLanes(_ matrix: UnsafeMutablePointer<Lanes>, scratch: UnsafeMutablePointer<Lanes>) {
    let passes = laneCount.trailingZeroBitCount
    var source = matrix
    var target = scratch
    for _ in 0..<passes {
        for pair in 0..<laneCount / 2 {
            let first = source[2 * pair]
            let second = source[2 * pair + 1]
            target[pair] = Lanes(lowHalf: first.evenHalf, highHalf: second.evenHalf)
            target[laneCount / 2 + pair] = Lanes(lowHalf: first.oddHalf, highHalf: second.oddHalf)
        }
        swap(&source, &target)
    }
    // An odd number of passes leaves the result in the scratch.
    if passes % 2 == 1 { matrix.update(from: scratch, count: laneCount) }
}
