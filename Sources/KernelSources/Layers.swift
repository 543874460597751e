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
/// [outputs/2][inputs·9 taps][2], so that the weights of one tap for one pair of outputs are
/// adjacent. With `transposedAndFlipped`, packs the convolution that maps output gradients back to
/// input gradients instead: its outputs are the original inputs and its kernel is rotated by 180°.
func packConvolutionWeights(
    _ weights: UnsafePointer<Float>, outputs: Int, inputs: Int, transposedAndFlipped: Bool,
    into packed: UnsafeMutablePointer<Float>
) {
    let packedOutputs = transposedAndFlipped ? inputs : outputs
    let packedInputs = transposedAndFlipped ? outputs : inputs
    for packedOutput in 0..<packedOutputs {
        for packedInput in 0..<packedInputs {
            for tap in 0..<9 {
                let source =
                    transposedAndFlipped
                    ? (packedInput * inputs + packedOutput) * 9 + (8 - tap)
                    : (packedOutput * inputs + packedInput) * 9 + tap
                let pair = packedOutput / 2
                packed[((pair * packedInputs + packedInput) * 9 + tap) * 2 + packedOutput % 2] = weights[source]
            }
        }
    }
}

/// Seven neighbouring output pixels of one channel, accumulated in registers (named fields, so
/// the compiler never leaves them in memory).
struct PixelRun {
    var p0, p1, p2, p3, p4, p5, p6: Lanes

    static let count = 7

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
        func put(_ value: Lanes, at p: Int) {
            target[p] = applyReLU ? value.replacing(with: 0, where: value .< 0) : value
        }
        put(p0, at: 0)
        put(p1, at: 1)
        put(p2, at: 2)
        put(p3, at: 3)
        put(p4, at: 4)
        put(p5, at: 5)
        put(p6, at: 6)
    }
}

/// out[o][y][x] = bias[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[i][y+ky−1][x+kx−1], then ReLU if asked.
/// input: `inputLayout` with border 1; output: `outputLayout` of the same height and width, an even
/// number of channels and a width that is a multiple of 7; packedWeights: [outputs/2][inputs·9][2];
/// bias: [outputs].
/// A pair of outputs × a `PixelRun` of 7 pixels keeps 14 accumulators in registers: each broadcast
/// weight feeds 7 FMAs and each input load 2. (Broadcasts compete with the FMAs for the vector
/// units, so few outputs and many pixels beat the reverse, as measured against 8 outputs × 2
/// pixels.)
func conv3x3Forward(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    output: UnsafeMutablePointer<Lanes>, outputLayout: PlaneLayout,
    packedWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, applyReLU: Bool
) {
    precondition(
        inputLayout.border == 1 && outputLayout.channels % 2 == 0 && outputLayout.width % PixelRun.count == 0)
    let tapCount = inputLayout.channels * 9
    for pair in 0..<outputLayout.channels / 2 {
        let pairWeights = packedWeights + pair * tapCount * 2
        let (first, second) = (pair * 2, pair * 2 + 1)
        for y in 0..<outputLayout.height {
            for x in stride(from: 0, to: outputLayout.width, by: PixelRun.count) {
                // In padded coordinates the window of output (y, x) starts at input (y, x).
                let window = input + y * inputLayout.rowStride + x
                var firstSums = PixelRun(startingAt: bias?[first] ?? 0)
                var secondSums = PixelRun(startingAt: bias?[second] ?? 0)
                var weights = pairWeights
                for i in 0..<inputLayout.channels {
                    for ky in 0..<3 {
                        let row = window + i * inputLayout.planeStride + ky * inputLayout.rowStride
                        for kx in 0..<3 {
                            firstSums.addProducts(weights[0], row + kx)
                            secondSums.addProducts(weights[1], row + kx)
                            weights += 2
                        }
                    }
                }
                firstSums.store(
                    to: output + outputLayout.index(channel: first, row: y, column: x), applyReLU: applyReLU)
                secondSums.store(
                    to: output + outputLayout.index(channel: second, row: y, column: x), applyReLU: applyReLU)
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
/// A block of 4 outputs × the 3 taps of one kernel row keeps 12 accumulators in registers; each
/// pixel's 7 loads feed 12 FMAs.
func conv3x3WeightBackward(
    input: UnsafePointer<Lanes>, inputLayout: PlaneLayout,
    outputGradient: UnsafePointer<Lanes>, outputLayout: PlaneLayout,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>
) {
    precondition(inputLayout.border == 1 && outputLayout.channels % 4 == 0)
    let inputs = inputLayout.channels
    let plane = outputLayout.planeStride
    for block in 0..<outputLayout.channels / 4 {
        let blockGradient = outputGradient + outputLayout.index(channel: block * 4, row: 0, column: 0)
        for i in 0..<inputs {
            for ky in 0..<3 {
                var sums = (TapRow(), TapRow(), TapRow(), TapRow())
                for y in 0..<outputLayout.height {
                    let inputRow = input + i * inputLayout.planeStride + (y + ky) * inputLayout.rowStride
                    let gradientRow = blockGradient + y * outputLayout.rowStride
                    for x in 0..<outputLayout.width {
                        sums.0.addProducts(gradientRow[x], inputRow + x)
                        sums.1.addProducts(gradientRow[plane + x], inputRow + x)
                        sums.2.addProducts(gradientRow[2 * plane + x], inputRow + x)
                        sums.3.addProducts(gradientRow[3 * plane + x], inputRow + x)
                    }
                }
                let target = weightGradient + ((block * 4) * inputs + i) * 9 + ky * 3
                sums.0.addLaneSums(to: target)
                sums.1.addLaneSums(to: target + inputs * 9)
                sums.2.addLaneSums(to: target + 2 * inputs * 9)
                sums.3.addLaneSums(to: target + 3 * inputs * 9)
            }
        }
    }
    for o in 0..<outputLayout.channels {
        var sum = Lanes.zero
        for y in 0..<outputLayout.height {
            let row = outputGradient + outputLayout.index(channel: o, row: y, column: 0)
            for x in 0..<outputLayout.width { sum += row[x] }
        }
        biasGradient[o] += laneSum(sum)
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
            let top = inputLayout.index(channel: channel, row: 2 * y, column: 0)
            let bottom = top + inputLayout.rowStride
            let gradients = outputGradient + outputLayout.index(channel: channel, row: y, column: 0)
            for x in 0..<outputLayout.width {
                let topLeft = activation[top + 2 * x]
                let topRight = activation[top + 2 * x + 1]
                let bottomLeft = activation[bottom + 2 * x]
                let bottomRight = activation[bottom + 2 * x + 1]
                let largest = maximum(maximum(topLeft, topRight), maximum(bottomLeft, bottomRight))
                let gradient = Lanes.zero.replacing(with: gradients[x], where: largest .> 0)
                let atTopLeft = topLeft .== largest
                let atTopRight = (topRight .== largest) .& .!atTopLeft
                let atBottomLeft = (bottomLeft .== largest) .& .!(atTopLeft .| atTopRight)
                let atBottomRight = .!(atTopLeft .| atTopRight .| atBottomLeft)
                inputGradient[top + 2 * x] = Lanes.zero.replacing(with: gradient, where: atTopLeft)
                inputGradient[top + 2 * x + 1] = Lanes.zero.replacing(with: gradient, where: atTopRight)
                inputGradient[bottom + 2 * x] = Lanes.zero.replacing(with: gradient, where: atBottomLeft)
                inputGradient[bottom + 2 * x + 1] = Lanes.zero.replacing(with: gradient, where: atBottomRight)
            }
        }
    }
}

// MARK: - Fully connected layer

/// out[j] = b[j] + Σ_k w[j][k] · in[k]
/// input: [inputs], a multiple of 4; output: [outputs]; weights: [outputs][inputs]; bias: [outputs].
/// One output at a time, in four interleaved partial sums to hide the FMA latency.
func linearForward(
    input: UnsafePointer<Lanes>, inputs: Int, output: UnsafeMutablePointer<Lanes>, outputs: Int,
    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>
) {
    precondition(inputs % 4 == 0)
    for j in 0..<outputs {
        let row = weights + j * inputs
        var sums = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for k in stride(from: 0, to: inputs, by: 4) {
            sums.0 = multiplyAdd(sums.0, Lanes(repeating: row[k]), input[k])
            sums.1 = multiplyAdd(sums.1, Lanes(repeating: row[k + 1]), input[k + 1])
            sums.2 = multiplyAdd(sums.2, Lanes(repeating: row[k + 2]), input[k + 2])
            sums.3 = multiplyAdd(sums.3, Lanes(repeating: row[k + 3]), input[k + 3])
        }
        output[j] = Lanes(repeating: bias[j]) + ((sums.0 + sums.1) + (sums.2 + sums.3))
    }
}

/// din[k] = Σ_j w[j][k] · dout[j];  dw[j][k] += Σ_lanes dout[j] · in[k];  db[j] += Σ_lanes dout[j]
/// input, inputGradient: [inputs], a multiple of laneCount; outputGradient: [outputs];
/// weights, weightGradient: [outputs][inputs]; scratch: 2·laneCount lane vectors.
/// The weight gradient sums over lanes, across the vector: each square tile of the input
/// (laneCount inputs × laneCount lanes) is transposed so that the sum runs over broadcast scalars
/// of dout instead.
func linearBackward(
    input: UnsafePointer<Lanes>, inputs: Int, outputGradient: UnsafePointer<Lanes>, outputs: Int,
    weights: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Lanes>,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Lanes>
) {
    precondition(inputs % laneCount == 0)
    for j in 0..<outputs { biasGradient[j] += laneSum(outputGradient[j]) }
    // Four inputs at a time: four independent FMA chains, and four adjacent weights per row.
    for k in stride(from: 0, to: inputs, by: 4) {
        var sums = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for j in 0..<outputs {
            let gradient = outputGradient[j]
            let row = weights + j * inputs + k
            sums.0 = multiplyAdd(sums.0, Lanes(repeating: row[0]), gradient)
            sums.1 = multiplyAdd(sums.1, Lanes(repeating: row[1]), gradient)
            sums.2 = multiplyAdd(sums.2, Lanes(repeating: row[2]), gradient)
            sums.3 = multiplyAdd(sums.3, Lanes(repeating: row[3]), gradient)
        }
        (inputGradient[k], inputGradient[k + 1], inputGradient[k + 2], inputGradient[k + 3]) = sums
    }
    let laneGradients = UnsafeRawPointer(outputGradient).assumingMemoryBound(to: Float.self)  // [outputs][laneCount]
    let tile = scratch
    for first in stride(from: 0, to: inputs, by: laneCount) {
        tile.update(from: input + first, count: laneCount)
        transposeLanes(tile, scratch: scratch + laneCount)  // tile[lane] = that lane's input[first..<first+laneCount]
        for j in 0..<outputs {
            var sum = Lanes.zero
            for lane in 0..<laneCount {
                sum = multiplyAdd(sum, Lanes(repeating: laneGradients[j * laneCount + lane]), tile[lane])
            }
            let target = UnsafeMutableRawPointer(weightGradient + j * inputs + first)
            target.storeBytes(of: target.loadUnaligned(as: Lanes.self) + sum, as: Lanes.self)
        }
    }
}

// MARK: - Softmax cross-entropy

/// Per lane: loss = −log softmax(logits)[label], returned; and if `logitGradient` is given,
/// dlogits[j] = (softmax(logits)[j] − [j = label]) · gradientScale, which is 0 in lanes whose
/// scale is 0 (samples missing from a partial block). Computed as PyTorch's log_softmax and its
/// backward do, from log-probabilities.
/// logits, logitGradient: [10]; labels: one class per lane, any value in unused lanes.
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
