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

/// Ten rows of a row-major matrix from row `first` on. Rows past `last` repeat it, so that a block
/// always runs ten FMA chains; the sums of the rows that are not there are dropped.
struct TenRows {
    let rows: (
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
        UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

    init(_ matrix: UnsafePointer<Float>, rowLength: Int, first: Int, last: Int) {
        func row(_ r: Int) -> UnsafePointer<Float> { matrix + min(first + r, last) * rowLength }
        rows = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7), row(8), row(9))
    }
}

/// A sum for each of ten rows, Σ_k row[k] · x[k], each its own FMA chain held in a register.
struct TenSums {
    var sums = (
        Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero,
        Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)

    /// self[r] += rows[r][k] · x for the ten rows.
    @inline(__always)
    mutating func addProducts(_ rows: TenRows, _ k: Int, _ x: Lanes) {
        let r = rows.rows
        sums.0 = multiplyAdd(sums.0, Lanes(repeating: r.0[k]), x)
        sums.1 = multiplyAdd(sums.1, Lanes(repeating: r.1[k]), x)
        sums.2 = multiplyAdd(sums.2, Lanes(repeating: r.2[k]), x)
        sums.3 = multiplyAdd(sums.3, Lanes(repeating: r.3[k]), x)
        sums.4 = multiplyAdd(sums.4, Lanes(repeating: r.4[k]), x)
        sums.5 = multiplyAdd(sums.5, Lanes(repeating: r.5[k]), x)
        sums.6 = multiplyAdd(sums.6, Lanes(repeating: r.6[k]), x)
        sums.7 = multiplyAdd(sums.7, Lanes(repeating: r.7[k]), x)
        sums.8 = multiplyAdd(sums.8, Lanes(repeating: r.8[k]), x)
        sums.9 = multiplyAdd(sums.9, Lanes(repeating: r.9[k]), x)
    }

    /// self[r] += other[r] for the ten rows.
    @inline(__always)
    mutating func add(_ other: TenSums) {
        let o = other.sums
        sums = (
            sums.0 + o.0, sums.1 + o.1, sums.2 + o.2, sums.3 + o.3, sums.4 + o.4,
            sums.5 + o.5, sums.6 + o.6, sums.7 + o.7, sums.8 + o.8, sums.9 + o.9)
    }

    /// body(r, self[r]) for the first `count` rows, unrolled: a loop over an index into the tuple
    /// kept the sums in memory rather than registers while they were summed.
    @inline(__always)
    func forEach(count: Int, _ body: (Int, Lanes) -> Void) {
        if count > 0 { body(0, sums.0) }
        if count > 1 { body(1, sums.1) }
        if count > 2 { body(2, sums.2) }
        if count > 3 { body(3, sums.3) }
        if count > 4 { body(4, sums.4) }
        if count > 5 { body(5, sums.5) }
        if count > 6 { body(6, sums.6) }
        if count > 7 { body(7, sums.7) }
        if count > 8 { body(8, sums.8) }
        if count > 9 { body(9, sums.9) }
    }
}

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
    for first in stride(from: 0, to: outputs, by: 10) {
        let rows = TenRows(weights, rowLength: inputs, first: first, last: outputs - 1)
        var total = TenSums()
        for start in stride(from: 0, to: inputs, by: quarter) {
            var sums = TenSums()
            for k in start..<start + quarter { sums.addProducts(rows, k, input[k]) }
            total.add(sums)
        }
        total.forEach(count: outputs - first) { r, sum in output[first + r] = Lanes(repeating: bias[first + r]) + sum }
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
    let tile = scratch
    for firstInput in stride(from: 0, to: inputs, by: laneCount) {
        tile.update(from: input + firstInput, count: laneCount)
        transposeLanes(tile, scratch: scratch + laneCount)  // tile[lane] = that lane's input[firstInput..<+laneCount]
        for first in stride(from: 0, to: outputs, by: 10) {
            let rows = TenRows(laneGradients, rowLength: laneCount, first: first, last: outputs - 1)
            var sums = TenSums()
            for lane in 0..<laneCount { sums.addProducts(rows, lane, tile[lane]) }
            sums.forEach(count: outputs - first) { r, sum in
                let target = UnsafeMutableRawPointer(weightGradient + (first + r) * inputs + firstInput)
                target.storeBytes(of: target.loadUnaligned(as: Lanes.self) + sum, as: Lanes.self)
            }
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
