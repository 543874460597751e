import CNNKernelInterface

// Conv2d with one input channel (a network's first layer on grey images). With only k² taps per
// output, the general path's per-sample copies and dropped wide columns cost more than its FMAs.
// Here each sample's plane is read through its k² shifted views, laid out as an output plane
// is: taps[t][q] = in[y+ky−pad][x+kx−pad] for tap t = ky·k + kx and output position q = y·Wo + x,
// zero outside the input. The forward pass is then out = W·taps ([O][k²] × [k²][Q])
// and the weight gradient dW = dout·tapsᵀ ([O][Q] × [Q][k²]), both over contiguous vectors of
// positions that go straight to the output (or come straight from the output gradient). Only
// the k column shifts are copied, each over all the padded rows: tap (ky, kx) is the view of
// column shift kx from row ky on.
//
// The kernels need Q ≥ `singleInputBlockWidth` positions (a register tile's width) and no input
// gradient (a first layer has none); the general path takes every other single-input shape.

/// Output channels per register tile: forward 6 × 4 vectors (24 accumulators) and weight
/// gradient 6 × 3 taps for 32 vector registers; 2 × 4 and 3 × 3 for 16 (9 FMA chains, more than
/// the 8 that two FMA units of latency 4 keep busy). A last block of fewer repeats its last
/// channel in the slots past it (a repeated slot at full speed beats a short tile); only its own
/// channels are stored.
#if LANES16
let singleInputTileOutputs = 6
let singleInputGradientOutputs = 6
#else
let singleInputTileOutputs = 2
let singleInputGradientOutputs = 3
#endif

/// The positions of one forward register tile: four vectors.
let singleInputBlockWidth = 4 * laneCount

/// The scratch of the single-input kernels, in order: the padded plane, the column shifts, the
/// packed weights and biases of the forward pass, the lane sums of the weight and bias gradients.
struct SingleInputLayout {
    let shape: ConvolutionShape
    var paddedWidth: Int { shape.width + 2 * shape.padding }
    var paddedCount: Int { (shape.height + 2 * shape.padding) * paddedWidth }
    var taps: Int { shape.kernel * shape.kernel }
    var positions: Int { shape.outputHeight * shape.outputWidth }
    var tiles: Int { (shape.outputChannels + singleInputTileOutputs - 1) / singleInputTileOutputs }

    var columnsOffset: Int { paddedCount }
    /// The column shifts (see `unrollColumns`): [k][Hp·Wo].
    var columnStride: Int { (shape.height + 2 * shape.padding) * shape.outputWidth }
    /// [tiles][taps + 1][singleInputTileOutputs]: each tap's weights of a tile's channels side by
    /// side, then their biases.
    var packedOffset: Int { columnsOffset + shape.kernel * columnStride }
    /// [outputs][taps + 1][laneCount]: each weight's gradient, then the bias's, as a vector of lane sums.
    var laneSumsOffset: Int { packedOffset + tiles * (taps + 1) * singleInputTileOutputs }
    var scratchCount: Int { laneSumsOffset + shape.outputChannels * (taps + 1) * laneCount }

    /// Whether these kernels compute `shape` (see the file's comment).
    static func handles(_ shape: ConvolutionShape) -> Bool {
        shape.inputChannels == 1 && shape.outputHeight * shape.outputWidth >= singleInputBlockWidth
    }

    /// columns[kx][y·Wo + x] = in[y−pad][x+kx−pad] for y < Hp (the padded rows): tap (ky, kx) of
    /// output position q is columns[kx][q + ky·Wo]. Through the padded plane `padded`, whose
    /// border the caller has zeroed once for all samples.
    func unrollColumns(_ input: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        let (paddedHeight, outputWidth) = (shape.height + 2 * shape.padding, shape.outputWidth)
        let source = pad(input, into: padded)
        for kx in 0..<shape.kernel {
            for y in 0..<paddedHeight {
                copyFloats(
                    from: source + y * paddedWidth + kx, to: columns + (kx * paddedHeight + y) * outputWidth, count: outputWidth)
            }
        }
    }

    /// Tap t = ky·k + kx's view in `columns`: column shift kx from row ky on.
    @inline(__always)
    func tap(_ t: Int, of columns: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let (ky, kx) = t.quotientAndRemainder(dividingBy: shape.kernel)
        return UnsafePointer(columns + kx * columnStride + ky * shape.outputWidth)
    }

    /// The plane `input` padded: itself without padding, else copied into the interior of `padded`.
    private func pad(_ input: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        guard shape.padding > 0 else { return input }
        for y in 0..<shape.height {
            copyFloats(
                from: input + y * shape.width, to: padded + (y + shape.padding) * paddedWidth + shape.padding,
                count: shape.width)
        }
        return UnsafePointer(padded)
    }

    /// The lanes of a vector ending at position `end` that lie past its last whole vector.
    static func tailLanes(_ end: Int) -> SIMDMask<Lanes.MaskStorage> {
        var lane = Lanes.MaskStorage()
        for k in 0..<laneCount { lane[k] = Int32(k) }
        return lane .>= Lanes.MaskStorage(repeating: Int32(laneCount - end % laneCount))
    }
}

extension BatchLayerKernels {
    /// out[n][o][q] = b[o] + Σ_t w[o][t] · taps_n[t][q], max(·, 0) if `rectified`
    /// in: [count][1][H][W], w: [O][1][k][k], b: [O], out: [count][O][Ho][Wo]
    static func singleInputConvolutionForward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int, rectified: Bool,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let layout = SingleInputLayout(shape: shape)
        let (taps, positions, outputs) = (layout.taps, layout.positions, shape.outputChannels)
        let (columns, kernel, outputWidth) = (scratch + layout.columnsOffset, shape.kernel, shape.outputWidth)
        let columnStride = layout.columnStride
        // The tile's broadcast weights of one tap adjacent, so that one pointer reaches them all.
        let packed = scratch + layout.packedOffset
        let tileStride = (taps + 1) * singleInputTileOutputs
        for tile in 0..<layout.tiles {
            for slot in 0..<singleInputTileOutputs {
                let o = min(tile * singleInputTileOutputs + slot, outputs - 1)
                for t in 0..<taps { packed[tile * tileStride + t * singleInputTileOutputs + slot] = weight[o * taps + t] }
                packed[tile * tileStride + taps * singleInputTileOutputs + slot] = bias[o]
            }
        }
        scratch.update(repeating: 0, count: layout.paddedCount)
        for sample in 0..<count {
            layout.unrollColumns(input + sample * shape.input.size, padded: scratch, into: columns)
            let sampleOutput = output + sample * shape.output.size
            for start in stride(from: 0, to: positions, by: singleInputBlockWidth) {
                // The last block ends at the plane's end, overlapping the one before: its positions
                // there are computed again, alike, and stored again.
                let q = min(start, positions - singleInputBlockWidth)
                for tile in 0..<layout.tiles {
                    let first = tile * singleInputTileOutputs
                    var weights = UnsafePointer(packed + tile * tileStride)
                    let biases = weights + taps * singleInputTileOutputs
                    var sums = PositionTile(biases)
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            sums.addProducts(weights, columns + kx * columnStride + ky * outputWidth + q)
                            weights += singleInputTileOutputs
                        }
                    }
                    sums.store(
                        to: sampleOutput + q, first: first, block: min(singleInputTileOutputs, outputs - first),
                        planeStride: positions, applyReLU: rectified)
                }
            }
        }
    }

    /// dw[o][t] += Σ_{n,q} dout[n][o][q] · taps_n[t][q];  db[o] += Σ_{n,q} dout[n][o][q]
    /// in: [count][1][H][W], dout: [count][O][Ho][Wo], dw: [O][1][k][k], db: [O]
    static func singleInputConvolutionBackward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>, count: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let layout = SingleInputLayout(shape: shape)
        let (taps, positions, outputs) = (layout.taps, layout.positions, shape.outputChannels)
        let columns = scratch + layout.columnsOffset
        // Each gradient as a vector of lane sums over the whole batch, reduced once at the end.
        let laneSums = scratch + layout.laneSumsOffset
        let outputStride = (taps + 1) * laneCount
        laneSums.update(repeating: 0, count: outputs * outputStride)
        scratch.update(repeating: 0, count: layout.paddedCount)
        for sample in 0..<count {
            layout.unrollColumns(input + sample * shape.input.size, padded: scratch, into: columns)
            let sampleGradient = outputGradient + sample * shape.output.size
            for first in stride(from: 0, to: outputs, by: singleInputGradientOutputs) {
                addGradients(
                    layout, columns: columns, outputGradient: sampleGradient, first: first,
                    block: min(singleInputGradientOutputs, outputs - first), laneSums: laneSums + first * outputStride)
            }
        }
        for o in 0..<outputs {
            for t in 0..<taps {
                weightGradient[o * taps + t] += laneSum(loadLanes(laneSums + o * outputStride + t * laneCount))
            }
            biasGradient[o] += laneSum(loadLanes(laneSums + o * outputStride + taps * laneCount))
        }
    }

    /// The lane sums of channels first..<first+block (`laneSums`, [block][taps + 1][laneCount]) +=
    /// one sample's weight and bias gradients, from its output gradient and the column shifts of
    /// its input. (Its own function: inlined, the whole pass grew past what the compiler inlines
    /// into, and its loops' iterators became calls.)
    private static func addGradients(
        _ layout: SingleInputLayout, columns: UnsafeMutablePointer<Float>, outputGradient: UnsafePointer<Float>,
        first: Int, block: Int, laneSums: UnsafeMutablePointer<Float>
    ) {
        let (taps, positions) = (layout.taps, layout.positions)
        let outputStride = (taps + 1) * laneCount
        // Positions past the last whole vector are a vector ending at the plane's end, whose
        // lanes of positions summed already meet a zero gradient.
        let (vectorEnd, lastVector) = (positions / laneCount * laneCount, positions - laneCount)
        let tailLanes = SingleInputLayout.tailLanes(positions)
        let gradients = EightRows(outputGradient, first: first, count: block, rowLength: positions)
        // The bias gradients first: a light pass that brings the block's gradient rows into L1
        // for the taps' passes.
        let biasSums = EightRows(laneSums + taps * laneCount, first: 0, count: block, rowLength: outputStride)
        var bias = RowSums(biasSums)
        var position = 0
        while position < vectorEnd {
            bias.add(gradients, at: position)
            position += laneCount
        }
        if vectorEnd < positions { bias.add(gradients, at: lastVector, keeping: tailLanes) }
        bias.store(to: biasSums)
        // Three taps at a time; a last group of fewer repeats its last tap. (While loops: in the
        // narrower paths' builds, the iterators of `stride` stayed calls here.)
        var t = 0
        while t < taps {
            let group = min(3, taps - t)
            let rows = (layout.tap(t, of: columns), layout.tap(t + min(1, group - 1), of: columns),
                        layout.tap(t + group - 1, of: columns))
            var tile = TapTile(laneSums + t * laneCount, outputStride: outputStride, block: block, taps: group)
            var q = 0
            while q < vectorEnd {
                tile.addProducts(gradients, at: q, (loadLanes(rows.0 + q), loadLanes(rows.1 + q), loadLanes(rows.2 + q)))
                q += laneCount
            }
            if vectorEnd < positions {
                let q = lastVector
                tile.addProducts(
                    gradients, at: q, (loadLanes(rows.0 + q), loadLanes(rows.1 + q), loadLanes(rows.2 + q)), keeping: tailLanes)
            }
            tile.store(to: laneSums + t * laneCount, outputStride: outputStride, block: block, taps: group)
            t += 3
        }
    }
}

/// The sums of vectors of six rows (the first six of an `EightRows`): six independent chains of adds.
struct RowSums {
    var s0, s1, s2, s3, s4, s5: Lanes

    @inline(__always)
    init(_ sums: EightRows) {
        (s0, s1, s2) = (loadLanes(sums.row0), loadLanes(sums.row1), loadLanes(sums.row2))
        (s3, s4, s5) = (loadLanes(sums.row3), loadLanes(sums.row4), loadLanes(sums.row5))
    }

    /// self[r] += row_r[q…], its lanes outside `keeping` zeroed. (Transparent, as `TapTile.addProducts`.)
    @_transparent
    mutating func add(_ rows: EightRows, at q: Int, keeping: SIMDMask<Lanes.MaskStorage> = .init(repeating: true)) {
        s0 += loadLanes(rows.row0 + q).replacing(with: 0, where: .!keeping)
        s1 += loadLanes(rows.row1 + q).replacing(with: 0, where: .!keeping)
        s2 += loadLanes(rows.row2 + q).replacing(with: 0, where: .!keeping)
        s3 += loadLanes(rows.row3 + q).replacing(with: 0, where: .!keeping)
        s4 += loadLanes(rows.row4 + q).replacing(with: 0, where: .!keeping)
        s5 += loadLanes(rows.row5 + q).replacing(with: 0, where: .!keeping)
    }

    /// Back at `sums`; the slots of a repeated row store what it stored, again.
    @inline(__always)
    func store(to sums: EightRows) {
        storeLanes(s0, sums.row0)
        storeLanes(s1, sums.row1)
        storeLanes(s2, sums.row2)
        storeLanes(s3, sums.row3)
        storeLanes(s4, sums.row4)
        storeLanes(s5, sums.row5)
    }
}

/// Four neighbouring vectors of positions of one output channel, accumulated in registers (named
/// fields, so that the compiler never leaves them in memory).
struct PositionRun {
    var v0, v1, v2, v3: Lanes

    init(_ start: Float) {
        let start = Lanes(repeating: start)
        (v0, v1, v2, v3) = (start, start, start, start)
    }

    /// self[j] += weight · source[j·laneCount…]
    @inline(__always)
    mutating func addProducts(_ weight: Float, _ source: UnsafePointer<Float>) {
        let weight = Lanes(repeating: weight)
        v0 = multiplyAdd(v0, weight, loadLanes(source))
        v1 = multiplyAdd(v1, weight, loadLanes(source + laneCount))
        v2 = multiplyAdd(v2, weight, loadLanes(source + 2 * laneCount))
        v3 = multiplyAdd(v3, weight, loadLanes(source + 3 * laneCount))
    }

    /// self[j] at target[j·laneCount…], through the ReLU if `applyReLU`. (Transparent: as
    /// `@inline(__always)` it stayed a call for five of the six channels, spilling the tile.)
    @_transparent
    func store(to target: UnsafeMutablePointer<Float>, applyReLU: Bool) {
        storeLanes(rectified(v0, applyReLU), target)
        storeLanes(rectified(v1, applyReLU), target + laneCount)
        storeLanes(rectified(v2, applyReLU), target + 2 * laneCount)
        storeLanes(rectified(v3, applyReLU), target + 3 * laneCount)
    }
}

/// The forward register tile: `singleInputTileOutputs` channels × four vectors of positions. The
/// slots past the path's tile width are never touched, and the compiler drops them.
struct PositionTile {
    var c0, c1, c2, c3, c4, c5: PositionRun

    /// Each channel's run starting at its bias, `biases[slot]`.
    @inline(__always)
    init(_ biases: UnsafePointer<Float>) {
        (c0, c1) = (PositionRun(biases[0]), PositionRun(biases[1]))
        if singleInputTileOutputs > 2 {
            (c2, c3, c4, c5) = (PositionRun(biases[2]), PositionRun(biases[3]), PositionRun(biases[4]), PositionRun(biases[5]))
        } else {
            (c2, c3, c4, c5) = (c0, c0, c0, c0)
        }
    }

    /// channel[slot] += weights[slot] · the four vectors at `source`; each load feeds every channel.
    @inline(__always)
    mutating func addProducts(_ weights: UnsafePointer<Float>, _ source: UnsafePointer<Float>) {
        c0.addProducts(weights[0], source)
        c1.addProducts(weights[1], source)
        if singleInputTileOutputs > 2 {
            c2.addProducts(weights[2], source)
            c3.addProducts(weights[3], source)
            c4.addProducts(weights[4], source)
            c5.addProducts(weights[5], source)
        }
    }

    /// Channel first + slot at `target`'s plane of it, planes `planeStride` apart. The slots past
    /// a block of fewer store their copy of its last channel over it, alike: no branch.
    @inline(__always)
    func store(to target: UnsafeMutablePointer<Float>, first: Int, block: Int, planeStride: Int, applyReLU: Bool) {
        let planes = EightRows(target, first: first, count: block, rowLength: planeStride)
        c0.store(to: planes.row0, applyReLU: applyReLU)
        c1.store(to: planes.row1, applyReLU: applyReLU)
        if singleInputTileOutputs > 2 {
            c2.store(to: planes.row2, applyReLU: applyReLU)
            c3.store(to: planes.row3, applyReLU: applyReLU)
            c4.store(to: planes.row4, applyReLU: applyReLU)
            c5.store(to: planes.row5, applyReLU: applyReLU)
        }
    }
}

/// One output channel's lane sums of three taps (`Conv2d.swift`'s `ThreeSums`), at their place
/// among its lane sums of every tap.
extension ThreeSums {
    /// The sums of taps 0, 1 and 2 at `sums`; a group of fewer repeats its last tap in the slots
    /// past it (summed alike, so that storing them all is storing the last again).
    @inline(__always)
    init(_ sums: UnsafePointer<Float>, taps: Int) {
        (s0, s1, s2) = (loadLanes(sums), loadLanes(sums + min(1, taps - 1) * laneCount), loadLanes(sums + (taps - 1) * laneCount))
    }

    /// Back where `init(_:taps:)` found them; the last slot last, so that it is what a repeated
    /// tap keeps.
    @inline(__always)
    func store(to sums: UnsafeMutablePointer<Float>, taps: Int) {
        storeLanes(s0, sums)
        storeLanes(s1, sums + min(1, taps - 1) * laneCount)
        storeLanes(s2, sums + (taps - 1) * laneCount)
    }
}

/// The weight-gradient register tile: `singleInputGradientOutputs` channels × three taps (18
/// accumulators for 32 registers, 9 for 16); each tap vector feeds every channel, each gradient
/// vector three taps. A block of fewer channels repeats its last in the slots past it.
struct TapTile {
    var c0, c1, c2, c3, c4, c5: ThreeSums

    @inline(__always)
    init(_ sums: UnsafePointer<Float>, outputStride: Int, block: Int, taps: Int) {
        let runs = EightRows(sums, first: 0, count: block, rowLength: outputStride)
        (c0, c1, c2) = (ThreeSums(runs.row0, taps: taps), ThreeSums(runs.row1, taps: taps), ThreeSums(runs.row2, taps: taps))
        if singleInputGradientOutputs > 3 {
            (c3, c4, c5) = (ThreeSums(runs.row3, taps: taps), ThreeSums(runs.row4, taps: taps), ThreeSums(runs.row5, taps: taps))
        } else {
            (c3, c4, c5) = (c0, c0, c0)
        }
    }

    /// channel[slot] += gradient[slot][q…] · taps, the gradient's lanes outside `keeping` zeroed.
    /// (Transparent: as `@inline(__always)` it stayed a call in the AVX2 build's hot loop.)
    @_transparent
    mutating func addProducts(
        _ gradients: EightRows, at q: Int, _ taps: (Lanes, Lanes, Lanes),
        keeping: SIMDMask<Lanes.MaskStorage> = .init(repeating: true)
    ) {
        c0.addProducts(loadLanes(gradients.row0 + q).replacing(with: 0, where: .!keeping), taps)
        c1.addProducts(loadLanes(gradients.row1 + q).replacing(with: 0, where: .!keeping), taps)
        c2.addProducts(loadLanes(gradients.row2 + q).replacing(with: 0, where: .!keeping), taps)
        if singleInputGradientOutputs > 3 {
            c3.addProducts(loadLanes(gradients.row3 + q).replacing(with: 0, where: .!keeping), taps)
            c4.addProducts(loadLanes(gradients.row4 + q).replacing(with: 0, where: .!keeping), taps)
            c5.addProducts(loadLanes(gradients.row5 + q).replacing(with: 0, where: .!keeping), taps)
        }
    }

    /// Back where `init` found them (the slots of a repeated channel alike, last).
    @inline(__always)
    func store(to sums: UnsafeMutablePointer<Float>, outputStride: Int, block: Int, taps: Int) {
        let runs = EightRows(sums, first: 0, count: block, rowLength: outputStride)
        c0.store(to: runs.row0, taps: taps)
        c1.store(to: runs.row1, taps: taps)
        c2.store(to: runs.row2, taps: taps)
        if singleInputGradientOutputs > 3 {
            c3.store(to: runs.row3, taps: taps)
            c4.store(to: runs.row4, taps: taps)
            c5.store(to: runs.row5, taps: taps)
        }
    }
}
