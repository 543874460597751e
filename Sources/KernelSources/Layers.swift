#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import CNNKernelInterface

// Forward and backward of each layer sit next to each other below; Lanes.swift says what a
// lane is.

/// Where a stack of feature planes lives in a buffer of `Lanes`: `channels` planes of
/// `height`×`width` elements, row-major, each plane surrounded by `border` elements that stay zero
/// (a 3×3 convolution's padding reads them instead of testing for the edge).
struct PlaneLayout {
    let channels: Int
    let height: Int
    let width: Int
    let border: Int

    var rowStride: Int { width + 2 * border }
    var planeStride: Int { (height + 2 * border) * rowStride }
    var count: Int { channels * planeStride }

    /// The position of element (channel, row, column); row and column count from the first
    /// element inside the border.
    func index(channel: Int, row: Int, column: Int) -> Int {
        channel * planeStride + (row + border) * rowStride + column + border
    }
}

// MARK: - 3×3 convolution, stride 1, padding 1

/// Rearranges weights [outputs][inputs][3][3] into the order `conv3x3Forward` reads them:
/// [outputs/T][inputs·9 taps][T] for tiles of T = `ConvolutionTile.outputs` channels, so that the
/// weights of one tap for the outputs of a tile are adjacent. With `transposedAndFlipped`, packs
/// the convolution that maps output gradients back to input gradients instead: its outputs are
/// the original inputs and its kernel is rotated by 180°.
func packConvolutionWeights(
    _ weights: UnsafePointer<Float>, outputs: Int, inputs: Int, transposedAndFlipped: Bool,
    into packed: UnsafeMutablePointer<Float>
) {
    let packedOutputs = transposedAndFlipped ? inputs : outputs
    let packedInputs = transposedAndFlipped ? outputs : inputs
    let tileOutputs = ConvolutionTile.outputs
    for packedOutput in 0..<packedOutputs {
        for packedInput in 0..<packedInputs {
            for tap in 0..<9 {
                let source =
                    transposedAndFlipped
                    ? (packedInput * inputs + packedOutput) * 9 + (8 - tap)
                    : (packedOutput * inputs + packedInput) * 9 + tap
                let (tile, slot) = packedOutput.quotientAndRemainder(dividingBy: tileOutputs)
                packed[((tile * packedInputs + packedInput) * 9 + tap) * tileOutputs + slot] = weights[source]
            }
        }
    }
}

/// The convolution's register tile for this instruction set (see `conv3x3Forward`).
#if LANES16
typealias ConvolutionTile = TwoOutputsBySevenPixels
#else
typealias ConvolutionTile = FourOutputsByTwoPixels
#endif

/// Seven neighbouring output pixels of one channel, accumulated in registers (named fields, so
/// the compiler never leaves them in memory).
struct PixelRun {
    var p0, p1, p2, p3, p4, p5, p6: Lanes

    init(startingAt start: Float) {
        let start = Lanes(repeating: start)
        (p0, p1, p2, p3, p4, p5, p6) = (start, start, start, start, start, start, start)
    }

    /// self[p] += weight · inputs[p] for the 7 pixels.
    @inline(__always)
    mutating func addProducts(_ weight: Float, _ inputs: UnsafePointer<Lanes>) {
        let weight = Lanes(repeating: weight)
        p0 = multiplyAdd(p0, weight, inputs[0])
        p1 = multiplyAdd(p1, weight, inputs[1])
        p2 = multiplyAdd(p2, weight, inputs[2])
        p3 = multiplyAdd(p3, weight, inputs[3])
        p4 = multiplyAdd(p4, weight, inputs[4])
        p5 = multiplyAdd(p5, weight, inputs[5])
        p6 = multiplyAdd(p6, weight, inputs[6])
    }

    /// target[p] = self[p], through ReLU if asked.
    @inline(__always)
    func store(to target: UnsafeMutablePointer<Lanes>, applyReLU: Bool) {
        target[0] = rectified(p0, applyReLU)
        target[1] = rectified(p1, applyReLU)
        target[2] = rectified(p2, applyReLU)
        target[3] = rectified(p3, applyReLU)
        target[4] = rectified(p4, applyReLU)
        target[5] = rectified(p5, applyReLU)
        target[6] = rectified(p6, applyReLU)
    }
}

/// 2 output channels × 7 neighbouring pixels: 14 accumulators, for 32 registers (AVX-512). Each
/// broadcast weight feeds 7 FMAs and each input load 2; the 9 inputs of a kernel row stay in
/// registers too. (Broadcasts compete with the FMAs for the vector units, so few outputs and many
/// pixels beat the reverse, as measured against 8 outputs × 2 pixels.)
struct TwoOutputsBySevenPixels {
    static let outputs = 2
    static let pixels = 7

    var first, second: PixelRun

    /// Output o's accumulators start at bias[o], or 0.
    @inline(__always)
    init(bias: UnsafePointer<Float>?) {
        first = PixelRun(startingAt: bias?[0] ?? 0)
        second = PixelRun(startingAt: bias?[1] ?? 0)
    }

    /// self[o][p] += weights[o] · inputs[p]
    @inline(__always)
    mutating func addProducts(_ weights: UnsafePointer<Float>, _ inputs: UnsafePointer<Lanes>) {
        first.addProducts(weights[0], inputs)
        second.addProducts(weights[1], inputs)
    }

    /// target[o · planeStride + p] = self[o][p], through ReLU if asked.
    @inline(__always)
    func store(to target: UnsafeMutablePointer<Lanes>, planeStride: Int, applyReLU: Bool) {
        first.store(to: target, applyReLU: applyReLU)
        second.store(to: target + planeStride, applyReLU: applyReLU)
    }
}

/// 4 output channels × 2 neighbouring pixels: 8 accumulators, for 16 registers (AVX2, SSE2): with
/// the 4 inputs a kernel row's 3 taps share and a broadcast they fit, where 2 × 7 spills (on the
/// AVX2 path conv2 forward ran at 50 % of peak with 2 × 7, 78 % with 4 × 2). 8 independent FMA
/// chains also cover the FMA latency of two FMA units.
struct FourOutputsByTwoPixels {
    static let outputs = 4
    static let pixels = 2

    var a0, a1, b0, b1, c0, c1, d0, d1: Lanes

    /// Output o's accumulators start at bias[o], or 0.
    @inline(__always)
    init(bias: UnsafePointer<Float>?) {
        let (a, b, c, d) = bias.map { (Lanes(repeating: $0[0]), Lanes(repeating: $0[1]), Lanes(repeating: $0[2]), Lanes(repeating: $0[3])) }
            ?? (.zero, .zero, .zero, .zero)
        (a0, a1, b0, b1, c0, c1, d0, d1) = (a, a, b, b, c, c, d, d)
    }

    /// self[o][p] += weights[o] · inputs[p]
    @inline(__always)
    mutating func addProducts(_ weights: UnsafePointer<Float>, _ inputs: UnsafePointer<Lanes>) {
        let (left, right) = (inputs[0], inputs[1])
        let a = Lanes(repeating: weights[0])
        a0 = multiplyAdd(a0, a, left)
        a1 = multiplyAdd(a1, a, right)
        let b = Lanes(repeating: weights[1])
        b0 = multiplyAdd(b0, b, left)
        b1 = multiplyAdd(b1, b, right)
        let c = Lanes(repeating: weights[2])
        c0 = multiplyAdd(c0, c, left)
        c1 = multiplyAdd(c1, c, right)
        let d = Lanes(repeating: weights[3])
        d0 = multiplyAdd(d0, d, left)
        d1 = multiplyAdd(d1, d, right)
    }

    /// target[o · planeStride + p] = self[o][p], through ReLU if asked.
    @inline(__always)
    func store(to target: UnsafeMutablePointer<Lanes>, planeStride: Int, applyReLU: Bool) {
        (target[0], target[1]) = (rectified(a0, applyReLU), rectified(a1, applyReLU))
        (target[planeStride], target[planeStride + 1]) = (rectified(b0, applyReLU), rectified(b1, applyReLU))
        (target[2 * planeStride], target[2 * planeStride + 1]) = (rectified(c0, applyReLU), rectified(c1, applyReLU))
        (target[3 * planeStride], target[3 * planeStride + 1]) = (rectified(d0, applyReLU), rectified(d1, applyReLU))
    }
}

/// max(value, 0) if `applyReLU`, else value.
@inline(__always)
func rectified(_ value: Lanes, _ applyReLU: Bool) -> Lanes {
    applyReLU ? value.replacing(with: 0, where: value .< 0) : value
}

/// out[o][y][x] = bias[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[i][y+ky−1][x+kx−1], then ReLU if asked.
/// input: `inputLayout` with border 1; output: `outputLayout` of the same height and width, with
/// channels and width multiples of the tile's; packedWeights: [outputs/T][inputs·9][T] for tiles
/// of T outputs; bias: [outputs].
/// Each tile of outputs × neighbouring pixels is accumulated in registers over all inputs and taps.
func conv3x3Forward(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    output: UnsafeMutablePointer<Lanes>, outputLayout: PlaneLayout,
    packedWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, applyReLU: Bool
) {
    let (tileOutputs, tilePixels) = (ConvolutionTile.outputs, ConvolutionTile.pixels)
    precondition(
        inputLayout.border == 1 && outputLayout.channels % tileOutputs == 0 && outputLayout.width % tilePixels == 0)
    let tapCount = inputLayout.channels * 9
    for tile in 0..<outputLayout.channels / tileOutputs {
        let tileWeights = packedWeights + tile * tapCount * tileOutputs
        let firstOutput = tile * tileOutputs
        for y in 0..<outputLayout.height {
            for x in stride(from: 0, to: outputLayout.width, by: tilePixels) {
                // In padded coordinates the window of output (y, x) starts at input (y, x).
                let window = input + y * inputLayout.rowStride + x
                var sums = ConvolutionTile(bias: bias.map { $0 + firstOutput })
                var weights = tileWeights
                for i in 0..<inputLayout.channels {
                    for ky in 0..<3 {
                        let row = window + i * inputLayout.planeStride + ky * inputLayout.rowStride
                        for kx in 0..<3 {
                            sums.addProducts(weights, row + kx)
                            weights += tileOutputs
                        }
                    }
                }
                sums.store(
                    to: output + outputLayout.index(channel: firstOutput, row: y, column: x),
                    planeStride: outputLayout.planeStride, applyReLU: applyReLU)
            }
        }
    }
}

/// The three taps of one kernel row for one output channel, accumulated in registers.
struct TapRow {
    var left = Lanes.zero, middle = Lanes.zero, right = Lanes.zero

    /// self[kx] += gradient · inputs[kx] for the 3 taps.
    @inline(__always)
    mutating func addProducts(_ gradient: Lanes, _ inputs: UnsafePointer<Lanes>) {
        left = multiplyAdd(left, gradient, inputs[0])
        middle = multiplyAdd(middle, gradient, inputs[1])
        right = multiplyAdd(right, gradient, inputs[2])
    }

    /// target[kx] += the lane sum of self[kx].
    @inline(__always)
    func addLaneSums(to target: UnsafeMutablePointer<Float>) {
        target[0] += laneSum(left)
        target[1] += laneSum(middle)
        target[2] += laneSum(right)
    }
}

/// dw[o][i][ky][kx] += Σ_{y,x,lanes} dout[o][y][x] · in[i][y+ky−1][x+kx−1];  db[o] += Σ_{y,x,lanes} dout[o][y][x]
/// input: `inputLayout` with border 1; outputGradient: `outputLayout`, a multiple of 4 channels;
/// weightGradient: [outputs][inputs][3][3]; biasGradient: [outputs].
/// (The input gradient is `conv3x3Forward` with transposed, flipped weights.)
func conv3x3WeightBackward(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    outputGradient: UnsafePointer<Lanes>, outputLayout: PlaneLayout,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>
) {
    precondition(inputLayout.border == 1 && outputLayout.channels % 4 == 0)
    #if LANES16
    conv3x3WeightBackwardByKernelRows(
        input: input, inputLayout: inputLayout, outputGradient: outputGradient, outputLayout: outputLayout,
        weightGradient: weightGradient)
    #else
    conv3x3WeightBackwardByKernels(
        input: input, inputLayout: inputLayout, outputGradient: outputGradient, outputLayout: outputLayout,
        weightGradient: weightGradient)
    #endif
    // The whole plane, its zero border included, in four interleaved sums: a single chain of
    // adds would wait out the add latency at every element (on the AVX2 path that made conv1's
    // weight backward a quarter slower).
    precondition(outputLayout.planeStride % 4 == 0)
    for o in 0..<outputLayout.channels {
        let plane = outputGradient + o * outputLayout.planeStride
        var sums = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for element in stride(from: 0, to: outputLayout.planeStride, by: 4) {
            sums.0 += plane[element]
            sums.1 += plane[element + 1]
            sums.2 += plane[element + 2]
            sums.3 += plane[element + 3]
        }
        biasGradient[o] += laneSum((sums.0 + sums.1) + (sums.2 + sums.3))
    }
}

/// The weight gradient for 32 registers (AVX-512): a block of 4 outputs × the 3 taps of one
/// kernel row keeps 12 accumulators in registers; each pixel's 7 loads feed 12 FMAs. Rows run
/// outermost and the three kernel rows' accumulators wait in a small scratch between them, so a
/// row of the 4 output gradients is read from L2 once for all three kernel rows: with the kernel
/// row outermost the 4 gradient planes (50 KB for conv2) were streamed from L2 three times.
func conv3x3WeightBackwardByKernelRows(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    outputGradient: UnsafePointer<Lanes>, outputLayout: PlaneLayout, weightGradient: UnsafeMutablePointer<Float>
) {
    typealias BlockSums = (TapRow, TapRow, TapRow, TapRow)
    let inputs = inputLayout.channels
    let plane = outputLayout.planeStride
    withUnsafeTemporaryAllocation(of: BlockSums.self, capacity: 3) { kernelRows in
        for block in 0..<outputLayout.channels / 4 {
            let blockGradient = outputGradient + outputLayout.index(channel: block * 4, row: 0, column: 0)
            for i in 0..<inputs {
                kernelRows.initialize(repeating: (TapRow(), TapRow(), TapRow(), TapRow()))
                for y in 0..<outputLayout.height {
                    // One row pointer per output: indexing one pointer by `k · plane + x` cost an
                    // overflow-checked add per output and pixel, a third of the loop's instructions.
                    let gradient0 = blockGradient + y * outputLayout.rowStride
                    let (gradient1, gradient2, gradient3) = (gradient0 + plane, gradient0 + 2 * plane, gradient0 + 3 * plane)
                    for ky in 0..<3 {
                        let inputRow = input + i * inputLayout.planeStride + (y + ky) * inputLayout.rowStride
                        var sums = kernelRows[ky]
                        for x in 0..<outputLayout.width {
                            sums.0.addProducts(gradient0[x], inputRow + x)
                            sums.1.addProducts(gradient1[x], inputRow + x)
                            sums.2.addProducts(gradient2[x], inputRow + x)
                            sums.3.addProducts(gradient3[x], inputRow + x)
                        }
                        kernelRows[ky] = sums
                    }
                }
                for ky in 0..<3 {
                    let target = weightGradient + ((block * 4) * inputs + i) * 9 + ky * 3
                    let sums = kernelRows[ky]
                    sums.0.addLaneSums(to: target)
                    sums.1.addLaneSums(to: target + inputs * 9)
                    sums.2.addLaneSums(to: target + 2 * inputs * 9)
                    sums.3.addLaneSums(to: target + 3 * inputs * 9)
                }
            }
        }
    }
}

/// The weight gradient for 16 registers (AVX2, SSE2), where 12 accumulators and their operands
/// spill: one output's whole 3×3 kernel for one input keeps 9 accumulators in registers, beside
/// the gradient that feeds all 9 FMAs of a pixel; each input is read straight into its one FMA.
/// (AVX2 path, conv2: 61 % of peak, against 49 % for 4 outputs × a kernel row.)
func conv3x3WeightBackwardByKernels(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    outputGradient: UnsafePointer<Lanes>, outputLayout: PlaneLayout, weightGradient: UnsafeMutablePointer<Float>
) {
    let inputs = inputLayout.channels
    let rowStride = inputLayout.rowStride
    for o in 0..<outputLayout.channels {
        let gradientPlane = outputGradient + outputLayout.index(channel: o, row: 0, column: 0)
        for i in 0..<inputs {
            var sums = (TapRow(), TapRow(), TapRow())
            for y in 0..<outputLayout.height {
                let window = input + i * inputLayout.planeStride + y * rowStride
                let gradientRow = gradientPlane + y * outputLayout.rowStride
                for x in 0..<outputLayout.width {
                    let gradient = gradientRow[x]
                    sums.0.addProducts(gradient, window + x)
                    sums.1.addProducts(gradient, window + rowStride + x)
                    sums.2.addProducts(gradient, window + 2 * rowStride + x)
                }
            }
            let target = weightGradient + (o * inputs + i) * 9
            sums.0.addLaneSums(to: target)
            sums.1.addLaneSums(to: target + 3)
            sums.2.addLaneSums(to: target + 6)
        }
    }
}

// MARK: - 2×2 max pooling, stride 2, after a ReLU

/// out[c][y][x] = max(in[c][2y][2x], in[c][2y][2x+1], in[c][2y+1][2x], in[c][2y+1][2x+1])
/// input: `inputLayout`; output: `outputLayout` with half its height and width.
func maxPool2x2Forward(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    output: UnsafeMutablePointer<Lanes>, outputLayout: PlaneLayout
) {
    for c in 0..<outputLayout.channels {
        for y in 0..<outputLayout.height {
            let top = input + inputLayout.index(channel: c, row: 2 * y, column: 0)
            let bottom = top + inputLayout.rowStride
            let target = output + outputLayout.index(channel: c, row: y, column: 0)
            for x in 0..<outputLayout.width {
                target[x] = maximum(
                    maximum(top[2 * x], top[2 * x + 1]), maximum(bottom[2 * x], bottom[2 * x + 1]))
            }
        }
    }
}

/// din[c][window of (y,x)] = dout[c][y][x] at the window's first maximum in row-major order (PyTorch's
/// tie rule, which matters: ReLU makes whole windows equal), 0 elsewhere and wherever the ReLU
/// output is 0, so this is also the ReLU's backward.
/// activation: the ReLU output that was pooled, `inputLayout`; outputGradient: `outputLayout`;
/// inputGradient: `inputLayout`, and it may be `activation` itself (each window is read before it
/// is written).
func maxPool2x2ReLUBackward(
    activation: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    outputGradient: UnsafePointer<Lanes>, outputLayout: PlaneLayout,
    inputGradient: UnsafeMutablePointer<Lanes>
) {
    for channel in 0..<outputLayout.channels {
        for y in 0..<outputLayout.height {
            // Row pointers rather than indices: an index is an overflow-checked add per element.
            let offset = inputLayout.index(channel: channel, row: 2 * y, column: 0)
            let (top, bottom) = (activation + offset, activation + offset + inputLayout.rowStride)
            let (topTarget, bottomTarget) = (inputGradient + offset, inputGradient + offset + inputLayout.rowStride)
            let gradients = outputGradient + outputLayout.index(channel: channel, row: y, column: 0)
            for x in 0..<outputLayout.width {
                let (left, right) = (2 * x, 2 * x + 1)
                let topLeft = top[left]
                let topRight = top[right]
                let bottomLeft = bottom[left]
                let bottomRight = bottom[right]
                let largest = maximum(maximum(topLeft, topRight), maximum(bottomLeft, bottomRight))
                let gradient = Lanes.zero.replacing(with: gradients[x], where: largest .> 0)
                let atTopLeft = topLeft .== largest
                let atTopRight = (topRight .== largest) .& .!atTopLeft
                let atBottomLeft = (bottomLeft .== largest) .& .!(atTopLeft .| atTopRight)
                let atBottomRight = .!(atTopLeft .| atTopRight .| atBottomLeft)
                topTarget[left] = Lanes.zero.replacing(with: gradient, where: atTopLeft)
                topTarget[right] = Lanes.zero.replacing(with: gradient, where: atTopRight)
                bottomTarget[left] = Lanes.zero.replacing(with: gradient, where: atBottomLeft)
                bottomTarget[right] = Lanes.zero.replacing(with: gradient, where: atBottomRight)
            }
        }
    }
}

// MARK: - Fully connected layer

/// out[j] = b[j] + Σ_k w[j][k] · in[k]
/// input: [inputs], a multiple of 4; output: [outputs]; weights: [outputs][inputs]; bias: [outputs].
/// Ten outputs at a time, one FMA chain each, so that each input vector is loaded once per ten
/// outputs rather than once per output: the input (50 KB for the network's 784) does not stay
/// in L1, and one output at a time streamed it from L2 ten times, at two loads per FMA. Each
/// quarter of the inputs is a chain of its own, added at the end, so that no rounding error
/// builds up along one chain of all the inputs.
func linearForward(
    input: UnsafePointer<Lanes>, inputs: Int, output: UnsafeMutablePointer<Lanes>, outputs: Int,
    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>
) {
    precondition(inputs % 4 == 0)
    let quarter = inputs / 4
    let last = outputs - 1
    for first in stride(from: 0, to: outputs, by: 10) {
        // Rows past the last output repeat it, and their sums are dropped.
        func row(_ r: Int) -> UnsafePointer<Float> { weights + min(first + r, last) * inputs }
        let (w0, w1, w2, w3, w4) = (row(0), row(1), row(2), row(3), row(4))
        let (w5, w6, w7, w8, w9) = (row(5), row(6), row(7), row(8), row(9))
        var total = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        var totalHigh = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for start in stride(from: 0, to: inputs, by: quarter) {
            var s = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
            var t = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
            for k in start..<start + quarter {
                let x = input[k]
                s.0 = multiplyAdd(s.0, Lanes(repeating: w0[k]), x)
                s.1 = multiplyAdd(s.1, Lanes(repeating: w1[k]), x)
                s.2 = multiplyAdd(s.2, Lanes(repeating: w2[k]), x)
                s.3 = multiplyAdd(s.3, Lanes(repeating: w3[k]), x)
                s.4 = multiplyAdd(s.4, Lanes(repeating: w4[k]), x)
                t.0 = multiplyAdd(t.0, Lanes(repeating: w5[k]), x)
                t.1 = multiplyAdd(t.1, Lanes(repeating: w6[k]), x)
                t.2 = multiplyAdd(t.2, Lanes(repeating: w7[k]), x)
                t.3 = multiplyAdd(t.3, Lanes(repeating: w8[k]), x)
                t.4 = multiplyAdd(t.4, Lanes(repeating: w9[k]), x)
            }
            total = (total.0 + s.0, total.1 + s.1, total.2 + s.2, total.3 + s.3, total.4 + s.4)
            totalHigh = (totalHigh.0 + t.0, totalHigh.1 + t.1, totalHigh.2 + t.2, totalHigh.3 + t.3, totalHigh.4 + t.4)
        }
        func store(_ r: Int, _ sum: Lanes) {
            if first + r <= last { output[first + r] = Lanes(repeating: bias[first + r]) + sum }
        }
        store(0, total.0); store(1, total.1); store(2, total.2); store(3, total.3); store(4, total.4)
        store(5, totalHigh.0); store(6, totalHigh.1); store(7, totalHigh.2); store(8, totalHigh.3); store(9, totalHigh.4)
    }
}

/// din[k] = Σ_j w[j][k] · dout[j];  dw[j][k] += Σ_lanes dout[j] · in[k];  db[j] += Σ_lanes dout[j]
/// input, inputGradient: [inputs], a multiple of laneCount and of 8; outputGradient: [outputs];
/// weights, weightGradient: [outputs][inputs]; scratch: 2·laneCount lane vectors.
/// The weight gradient sums over lanes, across the vector: each square tile of the input
/// (laneCount inputs × laneCount lanes) is transposed so that the sum runs over broadcast scalars
/// of dout instead, for ten outputs at a time (ten independent FMA chains per tile row).
func linearBackward(
    input: UnsafePointer<Lanes>, inputs: Int, outputGradient: UnsafePointer<Lanes>, outputs: Int,
    weights: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Lanes>,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Lanes>
) {
    precondition(inputs % laneCount == 0 && inputs % 8 == 0)
    for j in 0..<outputs { biasGradient[j] += laneSum(outputGradient[j]) }
    // Eight inputs at a time: eight independent FMA chains cover the FMA latency on two ports.
    for k in stride(from: 0, to: inputs, by: 8) {
        var s = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        var t = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for j in 0..<outputs {
            let gradient = outputGradient[j]
            let row = weights + j * inputs + k
            s.0 = multiplyAdd(s.0, Lanes(repeating: row[0]), gradient)
            s.1 = multiplyAdd(s.1, Lanes(repeating: row[1]), gradient)
            s.2 = multiplyAdd(s.2, Lanes(repeating: row[2]), gradient)
            s.3 = multiplyAdd(s.3, Lanes(repeating: row[3]), gradient)
            t.0 = multiplyAdd(t.0, Lanes(repeating: row[4]), gradient)
            t.1 = multiplyAdd(t.1, Lanes(repeating: row[5]), gradient)
            t.2 = multiplyAdd(t.2, Lanes(repeating: row[6]), gradient)
            t.3 = multiplyAdd(t.3, Lanes(repeating: row[7]), gradient)
        }
        (inputGradient[k], inputGradient[k + 1], inputGradient[k + 2], inputGradient[k + 3]) = s
        (inputGradient[k + 4], inputGradient[k + 5], inputGradient[k + 6], inputGradient[k + 7]) = t
    }
    let laneGradients = UnsafeRawPointer(outputGradient).assumingMemoryBound(to: Float.self)  // [outputs][laneCount]
    let last = outputs - 1
    let tile = scratch
    for firstInput in stride(from: 0, to: inputs, by: laneCount) {
        tile.update(from: input + firstInput, count: laneCount)
        transposeLanes(tile, scratch: scratch + laneCount)  // tile[lane] = that lane's input[firstInput..<+laneCount]
        for first in stride(from: 0, to: outputs, by: 10) {
            // Outputs past the last repeat it, and their sums are dropped.
            func gradients(_ r: Int) -> UnsafePointer<Float> { laneGradients + min(first + r, last) * laneCount }
            let (g0, g1, g2, g3, g4) = (gradients(0), gradients(1), gradients(2), gradients(3), gradients(4))
            let (g5, g6, g7, g8, g9) = (gradients(5), gradients(6), gradients(7), gradients(8), gradients(9))
            var s = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
            var t = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
            for lane in 0..<laneCount {
                let x = tile[lane]
                s.0 = multiplyAdd(s.0, Lanes(repeating: g0[lane]), x)
                s.1 = multiplyAdd(s.1, Lanes(repeating: g1[lane]), x)
                s.2 = multiplyAdd(s.2, Lanes(repeating: g2[lane]), x)
                s.3 = multiplyAdd(s.3, Lanes(repeating: g3[lane]), x)
                s.4 = multiplyAdd(s.4, Lanes(repeating: g4[lane]), x)
                t.0 = multiplyAdd(t.0, Lanes(repeating: g5[lane]), x)
                t.1 = multiplyAdd(t.1, Lanes(repeating: g6[lane]), x)
                t.2 = multiplyAdd(t.2, Lanes(repeating: g7[lane]), x)
                t.3 = multiplyAdd(t.3, Lanes(repeating: g8[lane]), x)
                t.4 = multiplyAdd(t.4, Lanes(repeating: g9[lane]), x)
            }
            func accumulate(_ r: Int, _ sum: Lanes) {
                guard first + r <= last else { return }
                let target = UnsafeMutableRawPointer(weightGradient + (first + r) * inputs + firstInput)
                target.storeBytes(of: target.loadUnaligned(as: Lanes.self) + sum, as: Lanes.self)
            }
            accumulate(0, s.0); accumulate(1, s.1); accumulate(2, s.2); accumulate(3, s.3); accumulate(4, s.4)
            accumulate(5, t.0); accumulate(6, t.1); accumulate(7, t.2); accumulate(8, t.3); accumulate(9, t.4)
        }
    }
}

// MARK: - Softmax cross-entropy

/// Per lane: loss = −log softmax(logits)[label], returned; and if `logitGradient` is given,
/// dlogits[j] = (softmax(logits)[j] − [j = label]) · gradientScale, which is 0 in lanes whose
/// scale is 0 (samples missing from a partial block). Computed as PyTorch's log_softmax and its
/// backward do, from log-probabilities.
/// logits, logitGradient: [classCount]; labels: one class per lane, any value in unused lanes.
func softmaxCrossEntropy(
    logits: UnsafePointer<Lanes>, labels: LaneLabels,
    logitGradient: UnsafeMutablePointer<Lanes>?, gradientScale: Lanes
) -> Lanes {
    var largest = logits[0]
    for j in 1..<NetworkShape.classCount { largest = maximum(largest, logits[j]) }
    var sumOfExponentials = Lanes.zero
    for j in 0..<NetworkShape.classCount { sumOfExponentials += lanewise(logits[j] - largest, expf) }
    let logSumExponentials = lanewise(sumOfExponentials, logf)
    var loss = Lanes.zero
    for j in 0..<NetworkShape.classCount {
        let logProbability = (logits[j] - largest) - logSumExponentials
        let isLabel = labels .== Int32(j)
        loss.replace(with: -logProbability, where: isLabel)
        if let logitGradient {
            let target = Lanes.zero.replacing(with: 1, where: isLabel)
            logitGradient[j] = (lanewise(logProbability, expf) - target) * gradientScale
        }
    }
    return loss
}

/// Per lane, the class with the largest logit (the first one on ties, as `torch.argmax`).
/// logits: [10].
func predictedClasses(logits: UnsafePointer<Lanes>) -> LaneLabels {
    var best = logits[0]
    var classes = LaneLabels.zero
    for j in 1..<NetworkShape.classCount {
        let better = logits[j] .> best
        best.replace(with: logits[j], where: better)
        classes.replace(with: Int32(j), where: better)
    }
    return classes
}

@inline(__always)
private func lanewise(_ values: Lanes, _ function: (Float) -> Float) -> Lanes {
    var result = Lanes()
    for lane in 0..<laneCount { result[lane] = function(values[lane]) }
    return result
}
