import CNNKernelInterface

// Conv2d: square kernel, stride 1, zero padding, any channels and sides; one sample at a time.
//
// Every pass runs through `convolvePlanes` on planes with padded rows. A sample's input is copied
// into zero-padded planes of Hp×Wp (Hp = H+2·pad, Wp = W+2·pad), and output pixel (y, x) is
// computed at position q = y·Wp + x of a "wide" output plane whose rows are Wp long too. Input
// pixel (y+ky, x+kx) then lies at q + ky·Wp + kx: each tap reads one contiguous run, vectorized
// over q with no edge case; the kernel−1 extra columns of each wide row are computed and dropped.
// The input gradient is the same convolution, of the output gradient padded by kernel−1−pad,
// with the kernel transposed and rotated by 180° (read through negative strides, not copied).

/// Where weight (output o, input i, row ky, column kx) lies relative to a base pointer.
struct WeightStrides {
    let output: Int
    let input: Int
    let row: Int
    let column: Int

    /// [outputs][inputs][kernel][kernel], as stored.
    static func stored(_ shape: ConvolutionShape) -> WeightStrides {
        let taps = shape.kernel * shape.kernel
        return WeightStrides(output: shape.inputChannels * taps, input: taps, row: shape.kernel, column: 1)
    }

    /// The input-gradient convolution's view of the stored weights, from the last tap on: its
    /// outputs are the layer's inputs, its inputs the layer's outputs, its kernel rotated by 180°.
    static func transposedAndRotated(_ shape: ConvolutionShape) -> WeightStrides {
        let taps = shape.kernel * shape.kernel
        return WeightStrides(output: taps, input: shape.inputChannels * taps, row: -shape.kernel, column: -1)
    }
}

/// Planes with padded rows: `planes` planes of `height`×`width`, the sides including the padding.
struct PaddedPlanes {
    let planes: Int
    let height: Int
    let width: Int

    var planeStride: Int { height * width }
    /// Floats read past the last plane by the widest vector run of `convolvePlanes`; kept zero.
    static let slack = 2 * laneCount + 8
    var count: Int { planes * planeStride + Self.slack }

    /// The wide output of a `kernel`×`kernel` convolution of these planes: positions per plane,
    /// whole register tiles of `convolvePlanes`.
    func wideStride(kernel: Int) -> Int {
        roundedUp((height - kernel + 1) * width, toMultipleOf: 2 * laneCount)
    }
}

/// The convolution's geometry as the passes lay it out, and its scratch memory.
struct ConvolutionLayout {
    let shape: ConvolutionShape
    /// The input padded by `padding`.
    let paddedInput: PaddedPlanes
    /// The output gradient padded by kernel − 1 − padding.
    let paddedGradient: PaddedPlanes

    init(_ shape: ConvolutionShape) {
        self.shape = shape
        let (pad, gradientPad) = (shape.padding, shape.kernel - 1 - shape.padding)
        paddedInput = PaddedPlanes(planes: shape.inputChannels, height: shape.height + 2 * pad, width: shape.width + 2 * pad)
        paddedGradient = PaddedPlanes(
            planes: shape.outputChannels, height: shape.outputHeight + 2 * gradientPad,
            width: shape.outputWidth + 2 * gradientPad)
    }

    var outputWideStride: Int { paddedInput.wideStride(kernel: shape.kernel) }
    var inputGradientWideStride: Int { paddedGradient.wideStride(kernel: shape.kernel) }

    // The scratch, in order: padded input, wide output (or output gradient), padded output
    // gradient, wide input gradient, the weight gradient's lane sums.
    var wideOutputOffset: Int { paddedInput.count }
    var paddedGradientOffset: Int { wideOutputOffset + shape.outputChannels * outputWideStride }
    var wideInputGradientOffset: Int { paddedGradientOffset + paddedGradient.count }
    var laneSumsOffset: Int { wideInputGradientOffset + shape.inputChannels * inputGradientWideStride }
    var scratchCount: Int { laneSumsOffset + shape.weightCount * laneCount }
}

extension BatchLayerKernels {
    public static func convolutionScratchCount(_ shape: ConvolutionShape) -> Int {
        let general = ConvolutionLayout(shape).scratchCount
        return SingleInputLayout.handles(shape) ? max(general, SingleInputLayout(shape: shape).scratchCount) : general
    }

    /// out[n][o][y][x] = b[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[n][i][y+ky−pad][x+kx−pad], max(·, 0) if `rectified`
    /// in: [count][I][H][W], w: [O][I][k][k], b: [O], out: [count][O][Ho][Wo]
    public static func convolutionForward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int, rectified: Bool,
        scratch: UnsafeMutablePointer<Float>
    ) {
        if SingleInputLayout.handles(shape) {
            return singleInputConvolutionForward(
                shape, input: input, weight: weight, bias: bias, output: output, count: count, rectified: rectified,
                scratch: scratch)
        }
        let layout = ConvolutionLayout(shape)
        let (padded, wide) = (scratch, scratch + layout.wideOutputOffset)
        padded.update(repeating: 0, count: layout.paddedInput.count)
        for sample in 0..<count {
            pad(input + sample * shape.input.size, shape.input, by: shape.padding, into: padded, layout.paddedInput)
            convolvePlanes(
                padded, layout.paddedInput, kernel: shape.kernel, weights: weight, strides: .stored(shape), bias: bias,
                into: wide, outputs: shape.outputChannels, wideStride: layout.outputWideStride)
            let sampleOutput = output + sample * shape.output.size
            narrow(wide, wideStride: layout.outputWideStride, rowStride: layout.paddedInput.width,
                   into: sampleOutput, shape.output)
            if rectified { reluForward(input: sampleOutput, output: sampleOutput, elements: shape.output.size) }
        }
    }

    /// din[n][i][y][x] = Σ_{o,ky,kx} w[o][i][ky][kx] · dout[n][o][y−ky+pad][x−kx+pad], 0 where in ≤ 0 if `rectifiedInput`
    /// dw[o][i][ky][kx] += Σ_{n,y,x} dout[n][o][y][x] · in[n][i][y+ky−pad][x+kx−pad];  db[o] += Σ dout[n][o]
    public static func convolutionBackward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, rectifiedInput: Bool,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>, count: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        if inputGradient == nil && SingleInputLayout.handles(shape) {
            return singleInputConvolutionBackward(
                shape, input: input, outputGradient: outputGradient, weightGradient: weightGradient,
                biasGradient: biasGradient, count: count, scratch: scratch)
        }
        let layout = ConvolutionLayout(shape)
        let kernel = shape.kernel
        let rowStride = layout.paddedInput.width
        let paddedInput = scratch
        let wideGradient = scratch + layout.wideOutputOffset
        let paddedGradient = scratch + layout.paddedGradientOffset
        let wideInputGradient = scratch + layout.wideInputGradientOffset
        // Each weight's gradient as a vector of lane sums over the whole batch, reduced once at the end.
        let laneSums = scratch + layout.laneSumsOffset
        laneSums.update(repeating: 0, count: shape.weightCount * laneCount)
        paddedInput.update(repeating: 0, count: layout.paddedInput.count)
        wideGradient.update(repeating: 0, count: shape.outputChannels * layout.outputWideStride)
        paddedGradient.update(repeating: 0, count: layout.paddedGradient.count)
        for sample in 0..<count {
            let gradient = outputGradient + sample * shape.output.size
            pad(input + sample * shape.input.size, shape.input, by: shape.padding, into: paddedInput, layout.paddedInput)
            widen(gradient, shape.output, rowStride: rowStride, wideStride: layout.outputWideStride, into: wideGradient)
            // The wide gradient is zero outside the output: whole vectors sum to the bias gradient.
            for o in 0..<shape.outputChannels {
                var sum = Lanes.zero
                for q in stride(from: 0, to: layout.outputWideStride, by: laneCount) {
                    sum += loadLanes(wideGradient + o * layout.outputWideStride + q)
                }
                biasGradient[o] += laneSum(sum)
            }
            addWeightGradient(
                wideGradient, outputs: shape.outputChannels, wideStride: layout.outputWideStride,
                paddedInput: paddedInput, layout.paddedInput, kernel: kernel, into: laneSums)

            guard let inputGradient else { continue }
            pad(gradient, shape.output, by: kernel - 1 - shape.padding, into: paddedGradient, layout.paddedGradient)
            let lastTap = (kernel - 1) * kernel + kernel - 1
            convolvePlanes(
                paddedGradient, layout.paddedGradient, kernel: kernel, weights: weight + lastTap,
                strides: .transposedAndRotated(shape), bias: nil, into: wideInputGradient,
                outputs: shape.inputChannels, wideStride: layout.inputGradientWideStride)
            let sampleGradient = inputGradient + sample * shape.input.size
            narrow(wideInputGradient, wideStride: layout.inputGradientWideStride, rowStride: layout.paddedGradient.width,
                   into: sampleGradient, shape.input)
            if rectifiedInput {
                reluBackward(
                    output: input + sample * shape.input.size, outputGradient: sampleGradient, inputGradient: sampleGradient,
                    elements: shape.input.size)
            }
        }
        for w in 0..<shape.weightCount {
            weightGradient[w] += laneSum(loadLanes(laneSums + w * laneCount))
        }
    }
}

/// Copies one sample's planes into the interior of `padded`, whose border and slack (read,
/// multiplied by zeros, in `addWeightGradient`) the caller has zeroed once for all samples.
private func pad(
    _ source: UnsafePointer<Float>, _ shape: PlanesShape, by padding: Int, into padded: UnsafeMutablePointer<Float>,
    _ layout: PaddedPlanes
) {
    guard padding > 0 else {
        // The planes lie in `padded` as they lie in the source: one run.
        return copyFloats(from: source, to: padded, count: shape.size)
    }
    for channel in 0..<shape.channels {
        for y in 0..<shape.height {
            copyFloats(
                from: source + (channel * shape.height + y) * shape.width,
                to: padded + channel * layout.planeStride + (y + padding) * layout.width + padding, count: shape.width)
        }
    }
}

/// Copies each plane's `shape.height` rows of `shape.width` from wide planes (rows `rowStride` apart).
private func narrow(
    _ wide: UnsafePointer<Float>, wideStride: Int, rowStride: Int, into target: UnsafeMutablePointer<Float>,
    _ shape: PlanesShape
) {
    for channel in 0..<shape.channels {
        for y in 0..<shape.height {
            copyFloats(
                from: wide + channel * wideStride + y * rowStride, to: target + (channel * shape.height + y) * shape.width,
                count: shape.width)
        }
    }
}

/// The inverse of `narrow`: the planes laid into wide planes, whose extra columns and rows past
/// the last the caller has zeroed once for all samples.
private func widen(
    _ source: UnsafePointer<Float>, _ shape: PlanesShape, rowStride: Int, wideStride: Int,
    into wide: UnsafeMutablePointer<Float>
) {
    for channel in 0..<shape.channels {
        for y in 0..<shape.height {
            copyFloats(
                from: source + (channel * shape.height + y) * shape.width, to: wide + channel * wideStride + y * rowStride,
                count: shape.width)
        }
    }
}

/// wide[o][q] = bias[o] + Σ_{i,ky,kx} weight(o, i, ky, kx) · padded[i][q + ky·Wp + kx], q < wideStride,
/// where weight(o, i, ky, kx) = weights[o·strides.output + i·strides.input + ky·strides.row + kx·strides.column].
/// Four outputs × two vectors of positions in registers (8 FMA chains).
private func convolvePlanes(
    _ padded: UnsafePointer<Float>, _ layout: PaddedPlanes, kernel: Int, weights: UnsafePointer<Float>,
    strides: WeightStrides, bias: UnsafePointer<Float>?, into wide: UnsafeMutablePointer<Float>, outputs: Int,
    wideStride: Int
) {
    for first in stride(from: 0, to: outputs, by: 4) {
        // A last block of fewer than four outputs repeats its last one in the slots past it (a
        // repeated slot at full speed beats a lone output's two FMA chains); only its own are stored.
        let block = min(4, outputs - first)
        let slots = (first, first + min(1, block - 1), first + min(2, block - 1), first + min(3, block - 1))
        let offsets = ((slots.1 - first) * strides.output, (slots.2 - first) * strides.output, (slots.3 - first) * strides.output)
        let w = weights + first * strides.output
        for q in stride(from: 0, to: wideStride, by: 2 * laneCount) {
            let start = bias.map { (Lanes(repeating: $0[slots.0]), Lanes(repeating: $0[slots.1]),
                                    Lanes(repeating: $0[slots.2]), Lanes(repeating: $0[slots.3])) }
                ?? (.zero, .zero, .zero, .zero)
            var (a0, a1, b0, b1) = (start.0, start.0, start.1, start.1)
            var (c0, c1, d0, d1) = (start.2, start.2, start.3, start.3)
            for i in 0..<layout.planes {
                for ky in 0..<kernel {
                    let row = padded + i * layout.planeStride + ky * layout.width + q
                    let weightRow = w + i * strides.input + ky * strides.row
                    for kx in 0..<kernel {
                        let (left, right) = (loadLanes(row + kx), loadLanes(row + kx + laneCount))
                        let tap = weightRow + kx * strides.column
                        let a = Lanes(repeating: tap[0])
                        a0 = multiplyAdd(a0, a, left)
                        a1 = multiplyAdd(a1, a, right)
                        let b = Lanes(repeating: tap[offsets.0])
                        b0 = multiplyAdd(b0, b, left)
                        b1 = multiplyAdd(b1, b, right)
                        let c = Lanes(repeating: tap[offsets.1])
                        c0 = multiplyAdd(c0, c, left)
                        c1 = multiplyAdd(c1, c, right)
                        let d = Lanes(repeating: tap[offsets.2])
                        d0 = multiplyAdd(d0, d, left)
                        d1 = multiplyAdd(d1, d, right)
                    }
                }
            }
            let target = wide + first * wideStride + q
            storeLanes(a0, target)
            storeLanes(a1, target + laneCount)
            if block > 1 {
                storeLanes(b0, target + wideStride)
                storeLanes(b1, target + wideStride + laneCount)
            }
            if block > 2 {
                storeLanes(c0, target + 2 * wideStride)
                storeLanes(c1, target + 2 * wideStride + laneCount)
            }
            if block > 3 {
                storeLanes(d0, target + 3 * wideStride)
                storeLanes(d1, target + 3 * wideStride + laneCount)
            }
        }
    }
}

/// laneSums[o][i][ky][kx] += Σ_q wideGradient[o][q] · paddedInput[i][q + ky·Wp + kx], a vector of
/// lane sums per weight (whose lanes add up to its gradient): the wide gradient is zero in the extra
/// columns and past the last row, so whole vectors are summed. Four outputs × three neighbouring
/// taps in registers (12 FMA chains sharing 4 gradient and 3 input loads); the taps left of a
/// kernel row one at a time.
private func addWeightGradient(
    _ wideGradient: UnsafePointer<Float>, outputs: Int, wideStride: Int, paddedInput: UnsafePointer<Float>,
    _ layout: PaddedPlanes, kernel: Int, into laneSums: UnsafeMutablePointer<Float>
) {
    let taps = kernel * kernel
    let inputs = layout.planes
    for first in stride(from: 0, to: outputs, by: 4) {
        let block = min(4, outputs - first)
        let gradients = FourRows(wideGradient, first: first, count: block, rowLength: wideStride)
        // The block's lane sums of weight (i, ky, 0) and the next outputs', each a vector; a block
        // of fewer than four repeats its last output's (read, but only its own are stored).
        let outputStride = inputs * taps * laneCount
        for i in 0..<inputs {
            for ky in 0..<kernel {
                let source = paddedInput + i * layout.planeStride + ky * layout.width
                let sums = FourRows(
                    laneSums + ((first * inputs + i) * taps + ky * kernel) * laneCount, first: 0, count: block,
                    rowLength: outputStride)
                var kx = 0
                while kx + 3 <= kernel {
                    let at = kx * laneCount
                    var (a, b, c, d) = (TapSums(sums.row0 + at), TapSums(sums.row1 + at), TapSums(sums.row2 + at), TapSums(sums.row3 + at))
                    for q in stride(from: 0, to: wideStride, by: laneCount) {
                        let values = (loadLanes(source + kx + q), loadLanes(source + kx + 1 + q), loadLanes(source + kx + 2 + q))
                        a.addProducts(loadLanes(gradients.row0 + q), values)
                        b.addProducts(loadLanes(gradients.row1 + q), values)
                        c.addProducts(loadLanes(gradients.row2 + q), values)
                        d.addProducts(loadLanes(gradients.row3 + q), values)
                    }
                    a.store(to: sums.row0 + at)
                    if block > 1 { b.store(to: sums.row1 + at) }
                    if block > 2 { c.store(to: sums.row2 + at) }
                    if block > 3 { d.store(to: sums.row3 + at) }
                    kx += 3
                }
                for kx in kx..<kernel {
                    let at = kx * laneCount
                    var (s0, s1, s2, s3) = (loadLanes(sums.row0 + at), loadLanes(sums.row1 + at), loadLanes(sums.row2 + at), loadLanes(sums.row3 + at))
                    for q in stride(from: 0, to: wideStride, by: laneCount) {
                        let x = loadLanes(source + kx + q)
                        s0 = multiplyAdd(s0, loadLanes(gradients.row0 + q), x)
                        s1 = multiplyAdd(s1, loadLanes(gradients.row1 + q), x)
                        s2 = multiplyAdd(s2, loadLanes(gradients.row2 + q), x)
                        s3 = multiplyAdd(s3, loadLanes(gradients.row3 + q), x)
                    }
                    storeLanes(s0, sums.row0 + at)
                    if block > 1 { storeLanes(s1, sums.row1 + at) }
                    if block > 2 { storeLanes(s2, sums.row2 + at) }
                    if block > 3 { storeLanes(s3, sums.row3 + at) }
                }
            }
        }
    }
}

/// One output's lane sums of three neighbouring taps of a kernel row, in registers.
struct TapSums {
    var tap0, tap1, tap2: Lanes

    /// The three vectors from `sums` on.
    @inline(__always)
    init(_ sums: UnsafePointer<Float>) {
        (tap0, tap1, tap2) = (loadLanes(sums), loadLanes(sums + laneCount), loadLanes(sums + 2 * laneCount))
    }

    /// tap[t] += gradient · inputs[t]
    @inline(__always)
    mutating func addProducts(_ gradient: Lanes, _ inputs: (Lanes, Lanes, Lanes)) {
        tap0 = multiplyAdd(tap0, gradient, inputs.0)
        tap1 = multiplyAdd(tap1, gradient, inputs.1)
        tap2 = multiplyAdd(tap2, gradient, inputs.2)
    }

    /// The three vectors back at `sums`.
    @inline(__always)
    func store(to sums: UnsafeMutablePointer<Float>) {
        storeLanes(tap0, sums)
        storeLanes(tap1, sums + laneCount)
        storeLanes(tap2, sums + 2 * laneCount)
    }
}
