import CNNKernelInterface

// Conv2d: square kernel, stride 1, zero padding, any channels and sides; one sample at a time.
//
// Every pass runs on planes with padded rows. A sample's input is copied into zero-padded planes
// of Hp×Wp (Hp = H+2·pad rows, Wp = W+pad columns: the padding on the left only), and output pixel
// (y, x) is computed at position q = y·Wp + x of a "wide" output plane whose rows are Wp long too.
// Input pixel (y+ky, x+kx) then lies at q + ky·Wp + kx: each tap reads one contiguous run,
// vectorized over q with no edge case. A window that reaches past the right edge of a row reads
// the next row's left padding, zeros too, so that no row needs its own right padding, and only
// kernel−1−pad extra columns of each wide row are computed and dropped. The input gradient is the
// same convolution (`convolvePlanes`), of the output gradient padded by kernel−1−pad, with the
// kernel transposed and rotated by 180°; its wide rows are Wo+kernel−1−pad = W+pad long, so it
// drops pad columns. The weight gradient (`addWeightGradient`) sums the products of the wide
// output gradient, zero in the extra columns, with the same runs of the padded input.

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

/// Planes with padded rows: `planes` planes of `height`×`width`, the sides including the padding
/// (`padding` rows of zeros above and below, `padding` columns on the left of each row), which a
/// `kernel`×`kernel` convolution reads.
struct PaddedPlanes {
    let planes: Int
    let height: Int
    let width: Int
    let padding: Int
    let kernel: Int

    var planeStride: Int { height * width }

    /// The wide output of the convolution of these planes: positions per plane, whole runs of
    /// `OutputTile`'s three vectors.
    var wideStride: Int { roundedUp((height - kernel + 1) * width, toMultipleOf: 3 * laneCount) }

    /// The planes, then the floats that the last run of the last tap reads past them, kept zero.
    var count: Int { (planes - 1) * planeStride + wideStride + (kernel - 1) * (width + 1) }
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
        paddedInput = PaddedPlanes(
            planes: shape.inputChannels, height: shape.height + 2 * pad, width: shape.width + pad, padding: pad,
            kernel: shape.kernel)
        paddedGradient = PaddedPlanes(
            planes: shape.outputChannels, height: shape.outputHeight + 2 * gradientPad,
            width: shape.outputWidth + gradientPad, padding: gradientPad, kernel: shape.kernel)
    }

    var outputWideStride: Int { paddedInput.wideStride }
    var inputGradientWideStride: Int { paddedGradient.wideStride }
    /// Each output's row of the weight gradient's lane sums: its taps, rounded up to whole groups of three.
    var laneSumsTapStride: Int { roundedUp(shape.weightCount / shape.outputChannels, toMultipleOf: 3) }
    /// The weights packed for either pass (`packWeights`): its outputs rounded up to whole tiles.
    var packedWeightsCount: Int {
        let taps = shape.kernel * shape.kernel
        let tile = OutputTile.outputs
        return max(roundedUp(shape.outputChannels, toMultipleOf: tile) * shape.inputChannels,
                   roundedUp(shape.inputChannels, toMultipleOf: tile) * shape.outputChannels) * taps
    }

    /// The samples whose products one pass of `addWeightGradient` sums: it loads and stores each
    /// weight's lane sums once for them all.
    static let weightGradientSamples = 2
    /// One sample's padded input and wide output (or output gradient) in the scratch.
    var paddedInputStride: Int { cacheLines(paddedInput.count) }
    var wideOutputStride: Int { cacheLines(shape.outputChannels * outputWideStride) }

    // The scratch, in order, each part from a cache line on (the scratch starts on one): padded
    // input and wide output (or output gradient) of `weightGradientSamples` samples, padded output
    // gradient, wide input gradient, the weight gradient's lane sums, the packed weights.
    var wideOutputOffset: Int { Self.weightGradientSamples * paddedInputStride }
    var paddedGradientOffset: Int { wideOutputOffset + Self.weightGradientSamples * wideOutputStride }
    var wideInputGradientOffset: Int { paddedGradientOffset + cacheLines(paddedGradient.count) }
    var laneSumsOffset: Int { wideInputGradientOffset + cacheLines(shape.inputChannels * inputGradientWideStride) }
    var packedWeightsOffset: Int { laneSumsOffset + cacheLines(shape.outputChannels * laneSumsTapStride * laneCount) }
    var scratchCount: Int { packedWeightsOffset + packedWeightsCount }

    /// `floats` rounded up to whole cache lines of 16.
    private func cacheLines(_ floats: Int) -> Int { roundedUp(floats, toMultipleOf: 16) }
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
        let packedWeights = scratch + layout.packedWeightsOffset
        packWeights(
            weight, strides: .stored(shape), outputs: shape.outputChannels, inputs: shape.inputChannels,
            kernel: shape.kernel, into: packedWeights)
        padded.update(repeating: 0, count: layout.paddedInput.count)
        for sample in 0..<count {
            pad(input + sample * shape.input.size, shape.input, by: shape.padding, into: padded, layout.paddedInput)
            convolvePlanes(
                padded, layout.paddedInput, packedWeights: packedWeights, bias: bias, into: wide,
                outputs: shape.outputChannels)
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
        let packedWeights = scratch + layout.packedWeightsOffset
        laneSums.update(repeating: 0, count: shape.outputChannels * layout.laneSumsTapStride * laneCount)
        let samplesPerPass = ConvolutionLayout.weightGradientSamples
        paddedInput.update(repeating: 0, count: samplesPerPass * layout.paddedInputStride)
        wideGradient.update(repeating: 0, count: samplesPerPass * layout.wideOutputStride)
        paddedGradient.update(repeating: 0, count: layout.paddedGradient.count)
        if inputGradient != nil {
            // The input gradient's convolution: its outputs are the layer's inputs and its kernel is
            // rotated by 180°, read from the last tap on.
            let lastTap = (kernel - 1) * kernel + kernel - 1
            packWeights(
                weight + lastTap, strides: .transposedAndRotated(shape), outputs: shape.inputChannels,
                inputs: shape.outputChannels, kernel: kernel, into: packedWeights)
        }
        for first in stride(from: 0, to: count, by: samplesPerPass) {
            let samples = first ..< min(first + samplesPerPass, count)
            for sample in samples {
                let (planes, gradient) = (paddedInput + (sample - first) * layout.paddedInputStride,
                                          wideGradient + (sample - first) * layout.wideOutputStride)
                pad(input + sample * shape.input.size, shape.input, by: shape.padding, into: planes, layout.paddedInput)
                widen(outputGradient + sample * shape.output.size, shape.output, rowStride: rowStride,
                      wideStride: layout.outputWideStride, into: gradient)
                // The wide gradient is zero outside the output: whole vectors sum to the bias gradient.
                for o in 0..<shape.outputChannels {
                    var sum = Lanes.zero
                    for q in stride(from: 0, to: layout.outputWideStride, by: laneCount) {
                        sum += loadLanes(gradient + o * layout.outputWideStride + q)
                    }
                    biasGradient[o] += laneSum(sum)
                }
            }
            addWeightGradient(
                wideGradient, outputs: shape.outputChannels, paddedInput: paddedInput, layout.paddedInput,
                samples: samples.count, gradientStride: layout.wideOutputStride, inputStride: layout.paddedInputStride,
                into: laneSums, tapStride: layout.laneSumsTapStride)

            guard let inputGradient else { continue }
            for sample in samples {
                pad(outputGradient + sample * shape.output.size, shape.output, by: kernel - 1 - shape.padding,
                    into: paddedGradient, layout.paddedGradient)
                convolvePlanes(
                    paddedGradient, layout.paddedGradient, packedWeights: packedWeights, bias: nil,
                    into: wideInputGradient, outputs: shape.inputChannels)
                // The ReLU backward rides on the copy rather than passing over the gradient again.
                narrow(wideInputGradient, wideStride: layout.inputGradientWideStride,
                       rowStride: layout.paddedGradient.width, into: inputGradient + sample * shape.input.size,
                       shape.input, zeroWhereNotPositive: rectifiedInput ? input + sample * shape.input.size : nil)
            }
        }
        let taps = shape.weightCount / shape.outputChannels
        for o in 0..<shape.outputChannels {
            for tap in 0..<taps {
                weightGradient[o * taps + tap] += laneSum(loadLanes(laneSums + (o * layout.laneSumsTapStride + tap) * laneCount))
            }
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

/// Copies each plane's `shape.height` rows of `shape.width` from wide planes (rows `rowStride` apart);
/// target = 0 where `activation` (laid out as target) is ≤ 0 if given: a ReLU's backward.
private func narrow(
    _ wide: UnsafePointer<Float>, wideStride: Int, rowStride: Int, into target: UnsafeMutablePointer<Float>,
    _ shape: PlanesShape, zeroWhereNotPositive activation: UnsafePointer<Float>? = nil
) {
    // Rows without extra columns (the input gradient without padding) make one run per plane.
    let (rows, rowLength) = rowStride == shape.width ? (1, shape.height * shape.width) : (shape.height, shape.width)
    for channel in 0..<shape.channels {
        for y in 0..<rows {
            let (source, offset) = (wide + channel * wideStride + y * rowStride, (channel * rows + y) * rowLength)
            guard let activation else {
                copyFloats(from: source, to: target + offset, count: rowLength)
                continue
            }
            // The select of `reluBackward`, indexed from row pointers: the overflow check of an
            // offset + index kept the compiler from vectorizing it (1 ms slower on keras-transfer).
            let (row, rowActivation) = (target + offset, activation + offset)
            for index in 0..<rowLength {
                row[index] = rowActivation[index] > 0 ? source[index] : 0
            }
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

/// packed[tile][i][ky][kx][slot] = weight(tile·T + slot, i, ky, kx) for tiles of T = `OutputTile.outputs`,
/// where weight(o, i, ky, kx) = weights[o·strides.output + i·strides.input + ky·strides.row + kx·strides.column]:
/// the weights of one tap for a tile's outputs lie side by side, at fixed offsets from one pointer.
/// The slots of a last tile past the last output repeat it.
private func packWeights(
    _ weights: UnsafePointer<Float>, strides: WeightStrides, outputs: Int, inputs: Int, kernel: Int,
    into packed: UnsafeMutablePointer<Float>
) {
    let tileOutputs = OutputTile.outputs
    var target = packed
    for first in stride(from: 0, to: outputs, by: tileOutputs) {
        for i in 0..<inputs {
            for ky in 0..<kernel {
                for kx in 0..<kernel {
                    for slot in 0..<tileOutputs {
                        let o = min(first + slot, outputs - 1)
                        target[slot] = weights[o * strides.output + i * strides.input + ky * strides.row + kx * strides.column]
                    }
                    target += tileOutputs
                }
            }
        }
    }
}

/// wide[o][q] = bias[o] + Σ_{i,ky,kx} weight(o, i, ky, kx) · padded[i][q + ky·Wp + kx], q < wideStride,
/// with the weights packed by `packWeights`. A tile of outputs × three vectors of positions in
/// registers: each input vector feeds one FMA per output, each broadcast weight three. A run near
/// the top or bottom skips the kernel rows that read only rows of padding.
private func convolvePlanes(
    _ padded: UnsafePointer<Float>, _ layout: PaddedPlanes, packedWeights: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, into wide: UnsafeMutablePointer<Float>, outputs: Int
) {
    let (kernel, wideStride) = (layout.kernel, layout.wideStride)
    let tileOutputs = OutputTile.outputs
    let tileWeights = layout.planes * kernel * kernel * tileOutputs
    for first in stride(from: 0, to: outputs, by: tileOutputs) {
        // A last tile's slots past its last output compute that output again and store it again.
        let last = min(tileOutputs, outputs - first) - 1
        let weights = packedWeights + first / tileOutputs * tileWeights
        for q in stride(from: 0, to: wideStride, by: 3 * laneCount) {
            var sums = OutputTile { slot in ThreeSums(bias.map { Lanes(repeating: $0[first + min(slot, last)]) } ?? .zero) }
            // The run covers rows y0…y1; kernel rows outside `rows` read only the rows of padding
            // above and below the data, padding…height−padding−1.
            let (y0, y1) = (q / layout.width, (q + 3 * laneCount - 1) / layout.width)
            let from = max(0, layout.padding - y1)
            let rows = from ..< max(from, min(kernel, layout.height - layout.padding - y0))
            for i in 0..<layout.planes {
                for ky in rows {
                    let row = padded + i * layout.planeStride + ky * layout.width + q
                    var tap = weights + (i * kernel + ky) * kernel * tileOutputs
                    for kx in 0..<kernel {
                        let values = (loadLanes(row + kx), loadLanes(row + kx + laneCount), loadLanes(row + kx + 2 * laneCount))
                        sums.addProducts({ Lanes(repeating: tap[$0]) }, values)
                        tap += tileOutputs
                    }
                }
            }
            sums.forEach { slot, run in run.store(to: wide + (first + min(slot, last)) * wideStride + q) }
        }
    }
}

/// laneSums[o][t] += Σ_{s,q} wideGradient[s][o][q] · paddedInput[s][i][q + ky·Wp + kx] for each tap
/// t = (i·k + ky)·k + kx, over `samples` samples (`gradientStride` and `inputStride` apart), in rows
/// of `tapStride` (the taps rounded up to threes): a vector of lane sums per weight, whose
/// lanes add up to its gradient. The wide gradient is zero in the extra columns and past the last
/// row, so whole vectors are summed. A tile of outputs × three taps in registers: each input vector
/// feeds one FMA per output, each gradient vector three. The taps run as one list over (i, ky, kx),
/// three at a time whatever the kernel; a last group's taps past the last read that one again and
/// add into the row's padding.
private func addWeightGradient(
    _ wideGradient: UnsafePointer<Float>, outputs: Int, paddedInput: UnsafePointer<Float>, _ layout: PaddedPlanes,
    samples: Int, gradientStride: Int, inputStride: Int, into laneSums: UnsafeMutablePointer<Float>, tapStride: Int
) {
    let (kernel, wideStride) = (layout.kernel, layout.wideStride)
    let taps = layout.planes * kernel * kernel
    /// Where tap t's input run starts.
    func source(_ tap: Int) -> UnsafePointer<Float> {
        let (i, planeTap) = min(tap, taps - 1).quotientAndRemainder(dividingBy: kernel * kernel)
        let (ky, kx) = planeTap.quotientAndRemainder(dividingBy: kernel)
        return paddedInput + i * layout.planeStride + ky * layout.width + kx
    }
    let tileOutputs = OutputTile.outputs
    for first in stride(from: 0, to: outputs, by: tileOutputs) {
        // A last tile's slots past its last output repeat it, adding and storing the same sums.
        let last = min(tileOutputs, outputs - first) - 1
        for tap in stride(from: 0, to: taps, by: 3) {
            let (x0, x1, x2) = (source(tap), source(tap + 1), source(tap + 2))
            func sums(_ slot: Int) -> UnsafeMutablePointer<Float> {
                laneSums + ((first + min(slot, last)) * tapStride + tap) * laneCount
            }
            var tile = OutputTile { ThreeSums(loading: sums($0)) }
            for sample in 0..<samples {
                let (input, gradient) = (sample * inputStride, wideGradient + sample * gradientStride)
                let (x0, x1, x2) = (x0 + input, x1 + input, x2 + input)
                for q in stride(from: 0, to: wideStride, by: laneCount) {
                    let values = (loadLanes(x0 + q), loadLanes(x1 + q), loadLanes(x2 + q))
                    tile.addProducts({ loadLanes(gradient + (first + min($0, last)) * wideStride + q) }, values)
                }
            }
            tile.forEach { slot, run in run.store(to: sums(slot)) }
        }
    }
}

/// Three vectors of sums in registers: a run of three vectors of positions of one output, or one
/// output's lane sums of three taps.
struct ThreeSums {
    var s0, s1, s2: Lanes

    @inline(__always)
    init(_ start: Lanes) { (s0, s1, s2) = (start, start, start) }

    /// The three vectors from `source` on.
    @inline(__always)
    init(loading source: UnsafePointer<Float>) {
        (s0, s1, s2) = (loadLanes(source), loadLanes(source + laneCount), loadLanes(source + 2 * laneCount))
    }

    /// self[j] += factor · values[j]
    @inline(__always)
    mutating func addProducts(_ factor: Lanes, _ values: (Lanes, Lanes, Lanes)) {
        s0 = multiplyAdd(s0, factor, values.0)
        s1 = multiplyAdd(s1, factor, values.1)
        s2 = multiplyAdd(s2, factor, values.2)
    }

    /// The three vectors at `target` on.
    @inline(__always)
    func store(to target: UnsafeMutablePointer<Float>) {
        storeLanes(s0, target)
        storeLanes(s1, target + laneCount)
        storeLanes(s2, target + 2 * laneCount)
    }
}

#if LANES16
/// The register tile of `convolvePlanes` and `addWeightGradient` on 32 registers (AVX-512): eight
/// outputs' `ThreeSums`, 24 accumulators, which leaves the three shared vectors and a factor.
/// Named fields, so that the compiler never leaves them in memory.
struct OutputTile {
    static let outputs = 8
    var o0, o1, o2, o3, o4, o5, o6, o7: ThreeSums

    /// Slot s starts at start(s).
    @inline(__always)
    init(_ start: (Int) -> ThreeSums) {
        (o0, o1, o2, o3) = (start(0), start(1), start(2), start(3))
        (o4, o5, o6, o7) = (start(4), start(5), start(6), start(7))
    }

    /// Slot s += factor(s) · values.
    @inline(__always)
    mutating func addProducts(_ factor: (Int) -> Lanes, _ values: (Lanes, Lanes, Lanes)) {
        o0.addProducts(factor(0), values)
        o1.addProducts(factor(1), values)
        o2.addProducts(factor(2), values)
        o3.addProducts(factor(3), values)
        o4.addProducts(factor(4), values)
        o5.addProducts(factor(5), values)
        o6.addProducts(factor(6), values)
        o7.addProducts(factor(7), values)
    }

    @inline(__always)
    func forEach(_ body: (Int, ThreeSums) -> Void) {
        body(0, o0); body(1, o1); body(2, o2); body(3, o3)
        body(4, o4); body(5, o5); body(6, o6); body(7, o7)
    }
}
#elseif UNFUSED_MULTIPLY_ADD
/// The register tile on 16 registers without an FMA (SSE2): three outputs' `ThreeSums`, 9
/// accumulators, which leaves the three shared vectors, a factor and each product's temporary.
struct OutputTile {
    static let outputs = 3
    var o0, o1, o2: ThreeSums

    @inline(__always)
    init(_ start: (Int) -> ThreeSums) { (o0, o1, o2) = (start(0), start(1), start(2)) }

    @inline(__always)
    mutating func addProducts(_ factor: (Int) -> Lanes, _ values: (Lanes, Lanes, Lanes)) {
        o0.addProducts(factor(0), values)
        o1.addProducts(factor(1), values)
        o2.addProducts(factor(2), values)
    }

    @inline(__always)
    func forEach(_ body: (Int, ThreeSums) -> Void) { body(0, o0); body(1, o1); body(2, o2) }
}
#else
/// The register tile on 16 registers with an FMA (AVX2; NEON): four outputs' `ThreeSums`, 12
/// accumulators, which leaves the three shared vectors and a factor.
struct OutputTile {
    static let outputs = 4
    var o0, o1, o2, o3: ThreeSums

    @inline(__always)
    init(_ start: (Int) -> ThreeSums) { (o0, o1, o2, o3) = (start(0), start(1), start(2), start(3)) }

    @inline(__always)
    mutating func addProducts(_ factor: (Int) -> Lanes, _ values: (Lanes, Lanes, Lanes)) {
        o0.addProducts(factor(0), values)
        o1.addProducts(factor(1), values)
        o2.addProducts(factor(2), values)
        o3.addProducts(factor(3), values)
    }

    @inline(__always)
    func forEach(_ body: (Int, ThreeSums) -> Void) { body(0, o0); body(1, o1); body(2, o2); body(3, o3) }
}
#endif
