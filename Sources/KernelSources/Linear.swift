import CNNKernelInterface

// Linear: fully connected, over [count][features]. Every loop runs over whole vectors of the
// contiguous dimension, then the remaining floats as a last vector ending at the row's end (its
// lanes done already masked), or one at a time in rows shorter than a vector; a register tile's
// rows share each vector load.

/// Samples per register tile of the forward pass: 4 weight rows × 6 samples (24 accumulators)
/// for 32 vector registers, 4 × 2 for 16.
#if LANES16
let linearTileSamples = 6
#else
let linearTileSamples = 2
#endif

/// Inputs per chunk of the forward pass: four weight rows of a chunk (16 KiB on AVX-512) stay in
/// L1 while every sample's chunk streams past them from L2. The baseline path (no FMA, where the
/// extra pass over the outputs cost more than it saved: measured) runs whole rows.
#if LANES16 || LANES8
let linearChunk = 1024
#else
let linearChunk = Int.max
#endif

extension BatchLayerKernels {
    /// out[n][o] = b[o] + Σ_i w[o][i] · in[n][i]          in: [count][I], w: [O][I], b: [O], out: [count][O]
    /// Chunk by chunk of the inputs (the outputs accumulating), four weight rows at a time, for
    /// every sample while they are in cache, `linearTileSamples` samples at a time: each weight load
    /// feeds that many FMA chains, each sample load four.
    public static func linearForward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        for chunk in stride(from: 0, to: inputs, by: linearChunk) {
            let length = min(linearChunk, inputs - chunk)
            // Floats past the last whole vector are a vector ending at the chunk's end, its lanes
            // of floats summed already multiplied by zero weights; rows shorter than a vector go
            // one float at a time.
            let vectorEnd = length / laneCount * laneCount
            let scalarStart = length >= laneCount ? length : vectorEnd
            var lane = Lanes.MaskStorage()
            for k in 0..<laneCount { lane[k] = Int32(k) }
            let tailLanes = lane .>= Lanes.MaskStorage(repeating: Int32(vectorEnd - (length - laneCount)))
            for first in stride(from: 0, to: outputs, by: 4) {
                let block = min(4, outputs - first)
                let rows = FourRows(weight + chunk, first: first, count: block, rowLength: inputs)
                for sample in stride(from: 0, to: count, by: linearTileSamples) {
                    // A last tile of fewer samples repeats its last one (computed again, stored once).
                    let tileCount = min(linearTileSamples, count - sample)
                    let samples = EightRows(input + chunk, first: sample, count: tileCount, rowLength: inputs)
                    var tile = SampleTile(rows, samples, vectorEnd: vectorEnd)
                    if vectorEnd < scalarStart { tile.addProducts(rows, samples, at: length - laneCount, keeping: tailLanes) }
                    for slot in 0..<tileCount {
                        let x = input + (sample + slot) * inputs + chunk
                        var dot = tile[slot]
                        for i in scalarStart..<length {
                            dot.0 += rows.row0[i] * x[i]
                            dot.1 += rows.row1[i] * x[i]
                            dot.2 += rows.row2[i] * x[i]
                            dot.3 += rows.row3[i] * x[i]
                        }
                        let target = output + (sample + slot) * outputs + first
                        let start = chunk == 0 ? bias + first : UnsafePointer(target)
                        target[0] = start[0] + dot.0
                        if block > 1 { target[1] = start[1] + dot.1 }
                        if block > 2 { target[2] = start[2] + dot.2 }
                        if block > 3 { target[3] = start[3] + dot.3 }
                    }
                }
            }
        }
    }

    /// din[n][i] = Σ_o dout[n][o] · w[o][i];  dw[o][i] += Σ_n dout[n][o] · in[n][i];  db[o] += Σ_n dout[n][o]
    public static func linearBackward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        for sample in 0..<count {
            for o in 0..<outputs { biasGradient[o] += outputGradient[sample * outputs + o] }
        }
        // dw[o] += Σ_n dout[n][o] · in[n]: rows o, terms n.
        addCombinationsOfRows(
            rows: outputs, columns: inputs, terms: count, coefficients: outputGradient, rowStride: 1, termStride: outputs,
            source: input, target: weightGradient, accumulating: true)
        if let inputGradient {
            // din[n] = Σ_o dout[n][o] · w[o]: rows n, terms o.
            addCombinationsOfRows(
                rows: count, columns: inputs, terms: outputs, coefficients: outputGradient, rowStride: outputs,
                termStride: 1, source: weight, target: inputGradient, accumulating: false)
        }
    }

    /// target[r][c] = (target[r][c] if `accumulating`, else 0) + Σ_t coefficients[r·rowStride + t·termStride] · source[t][c]
    /// for r < rows, c < columns; source: [terms][columns], target: [rows][columns]. Both backward
    /// products of a linear layer have this form. `combinationRows` target rows × `combinationVectors`
    /// vectors of columns in registers over all terms (each source load feeds a FMA per row, each
    /// broadcast coefficient one per vector); the columns are the outer loop, so that a strip of
    /// the source ([terms][combinationVectors·laneCount]) stays in L1 for every block of rows.
    /// Columns past the last whole vector are a vector ending at the row's end, whose first lanes
    /// (columns done already) are stored back as they were.
    private static func addCombinationsOfRows(
        rows: Int, columns: Int, terms: Int, coefficients: UnsafePointer<Float>, rowStride: Int, termStride: Int,
        source: UnsafePointer<Float>, target: UnsafeMutablePointer<Float>, accumulating: Bool
    ) {
        let vectorEnd = columns / laneCount * laneCount
        let groups = (vectorEnd / laneCount + combinationVectors - 1) / combinationVectors
        let vectorTail = columns > vectorEnd && columns >= laneCount
        var lane = Lanes.MaskStorage()
        for k in 0..<laneCount { lane[k] = Int32(k) }
        let tailLanes = lane .>= Lanes.MaskStorage(repeating: Int32(vectorEnd - (columns - laneCount)))
        for group in 0..<groups + (vectorTail ? 1 : 0) {
            // A last group of fewer vectors repeats its last one (computed again from the same
            // sums, stored again alike); the tail is a group of its own, its one vector in every slot.
            let slots = group == groups
                ? ColumnSlots(columns - laneCount, columns - laneCount, columns - laneCount, stored: tailLanes)
                : ColumnSlots(group * combinationVectors * laneCount, last: vectorEnd - laneCount)
            for first in stride(from: 0, to: rows, by: combinationRows) {
                let block = min(combinationRows, rows - first)
                let targets = EightRows(target, first: first, count: block, rowLength: columns)
                let factors = EightRows(coefficients, first: first, count: block, rowLength: rowStride)
                var tile = CombinationTile(targets, slots, accumulating: accumulating)
                for t in 0..<terms {
                    let row = source + t * columns
                    let u = (loadLanes(row + slots.c0), loadLanes(row + slots.c1), loadLanes(row + slots.c2))
                    tile.addProducts(factors, at: t * termStride, u)
                }
                tile.store(to: targets, slots)
            }
        }
        // Rows shorter than a vector, one float at a time.
        for r in 0..<rows where !vectorTail {
            for c in vectorEnd..<columns {
                var sum = accumulating ? target[r * columns + c] : 0
                for t in 0..<terms { sum += coefficients[r * rowStride + t * termStride] * source[t * columns + c] }
                target[r * columns + c] = sum
            }
        }
    }
}

/// Target rows and column vectors per register tile of the backward products: 6 × 3 (18
/// accumulators, 3 source vectors and 6 broadcast coefficients: 8 × 3 ran out of the 32 registers
/// and spilled) for 32 vector registers, 4 × 2 for 16.
#if LANES16
let combinationRows = 6
let combinationVectors = 3
#else
let combinationRows = 4
let combinationVectors = 2
#endif

/// The columns of a register tile's vectors (the slots past `combinationVectors` unused), and
/// the lanes it stores.
struct ColumnSlots {
    let c0, c1, c2: Int
    let stored: SIMDMask<Lanes.MaskStorage>

    init(_ c0: Int, _ c1: Int, _ c2: Int, stored: SIMDMask<Lanes.MaskStorage>) {
        (self.c0, self.c1, self.c2, self.stored) = (c0, c1, c2, stored)
    }

    /// Whole vectors from column `start` on, the slots past the vector at `last` repeating it.
    init(_ start: Int, last: Int) {
        self.init(start, min(start + laneCount, last), min(start + 2 * laneCount, last), stored: .init(repeating: true))
    }
}

/// One target row's vectors of columns, in registers.
struct ColumnRun {
    var v0, v1, v2: Lanes

    @inline(__always)
    init(_ row: UnsafePointer<Float>, _ slots: ColumnSlots, accumulating: Bool) {
        (v0, v1, v2) = accumulating
            ? (loadLanes(row + slots.c0), loadLanes(row + slots.c1), loadLanes(row + slots.c2)) : (.zero, .zero, .zero)
    }

    /// self[j] += factor · u[j]
    @inline(__always)
    mutating func addProducts(_ factor: Float, _ u: (Lanes, Lanes, Lanes)) {
        let f = Lanes(repeating: factor)
        v0 = multiplyAdd(v0, f, u.0)
        v1 = multiplyAdd(v1, f, u.1)
        if combinationVectors > 2 { v2 = multiplyAdd(v2, f, u.2) }
    }

    /// The stored lanes back at `row`, the last slot first (a repeated slot holds what the one
    /// before it holds).
    @inline(__always)
    func store(to row: UnsafeMutablePointer<Float>, _ slots: ColumnSlots) {
        if combinationVectors > 2 { storeLanes(loadLanes(row + slots.c2).replacing(with: v2, where: slots.stored), row + slots.c2) }
        storeLanes(loadLanes(row + slots.c1).replacing(with: v1, where: slots.stored), row + slots.c1)
        storeLanes(loadLanes(row + slots.c0).replacing(with: v0, where: slots.stored), row + slots.c0)
    }
}

/// The backward products' register tile: `combinationRows` target rows (the slots past a block
/// of fewer repeat its last) × `combinationVectors` vectors of columns.
struct CombinationTile {
    var r0, r1, r2, r3, r4, r5: ColumnRun

    @inline(__always)
    init(_ targets: EightRows, _ slots: ColumnSlots, accumulating: Bool) {
        r0 = ColumnRun(targets.row0, slots, accumulating: accumulating)
        r1 = ColumnRun(targets.row1, slots, accumulating: accumulating)
        r2 = ColumnRun(targets.row2, slots, accumulating: accumulating)
        r3 = ColumnRun(targets.row3, slots, accumulating: accumulating)
        if combinationRows > 4 {
            r4 = ColumnRun(targets.row4, slots, accumulating: accumulating)
            r5 = ColumnRun(targets.row5, slots, accumulating: accumulating)
        } else {
            (r4, r5) = (r0, r0)
        }
    }

    /// row[r] += factors_r[at] · u
    @inline(__always)
    mutating func addProducts(_ factors: EightRows, at index: Int, _ u: (Lanes, Lanes, Lanes)) {
        r0.addProducts(factors.row0[index], u)
        r1.addProducts(factors.row1[index], u)
        r2.addProducts(factors.row2[index], u)
        r3.addProducts(factors.row3[index], u)
        if combinationRows > 4 {
            r4.addProducts(factors.row4[index], u)
            r5.addProducts(factors.row5[index], u)
        }
    }

    /// The last slot first, so that a repeated row's stores are its last row's, again.
    /// (Transparent: as `@inline(__always)` it stayed a call, spilling the whole tile.)
    @_transparent
    func store(to targets: EightRows, _ slots: ColumnSlots) {
        if combinationRows > 4 {
            r5.store(to: targets.row5, slots)
            r4.store(to: targets.row4, slots)
        }
        r3.store(to: targets.row3, slots)
        r2.store(to: targets.row2, slots)
        r1.store(to: targets.row1, slots)
        r0.store(to: targets.row0, slots)
    }
}

/// One sample's four dot products with four weight rows, as vectors of lane sums in registers.
struct FourDots {
    var d0 = Lanes.zero, d1 = Lanes.zero, d2 = Lanes.zero, d3 = Lanes.zero

    /// self[r] += weights[r] · x
    @inline(__always)
    mutating func addProducts(_ weights: (Lanes, Lanes, Lanes, Lanes), _ x: Lanes) {
        d0 = multiplyAdd(d0, weights.0, x)
        d1 = multiplyAdd(d1, weights.1, x)
        d2 = multiplyAdd(d2, weights.2, x)
        d3 = multiplyAdd(d3, weights.3, x)
    }

    /// (Transparent: as a plain getter it stayed a call, spilling the tile.)
    @_transparent
    var sums: (Float, Float, Float, Float) { (laneSum(d0), laneSum(d1), laneSum(d2), laneSum(d3)) }
}

/// The forward register tile: Σ_i row_r[i] · sample_s[i] for four weight rows and
/// `linearTileSamples` samples, over the whole vectors of the rows. The sample slots past the
/// path's tile width are never touched, and the compiler drops them.
struct SampleTile {
    var s0 = FourDots(), s1 = FourDots(), s2 = FourDots(), s3 = FourDots(), s4 = FourDots(), s5 = FourDots()

    /// (Transparent: as `@inline(__always)` it stayed a call in the AVX2 build.)
    @_transparent
    init(_ rows: FourRows, _ samples: EightRows, vectorEnd: Int) {
        var i = 0
        while i < vectorEnd {
            addProducts(rows, samples, at: i)
            i += laneCount
        }
    }

    /// slot[s] += rows · sample_s at the vectors from float `i` on, the weights' lanes outside
    /// `keeping` zeroed.
    @_transparent
    mutating func addProducts(
        _ rows: FourRows, _ samples: EightRows, at i: Int, keeping: SIMDMask<Lanes.MaskStorage> = .init(repeating: true)
    ) {
        let w = (loadLanes(rows.row0 + i).replacing(with: 0, where: .!keeping),
                 loadLanes(rows.row1 + i).replacing(with: 0, where: .!keeping),
                 loadLanes(rows.row2 + i).replacing(with: 0, where: .!keeping),
                 loadLanes(rows.row3 + i).replacing(with: 0, where: .!keeping))
        s0.addProducts(w, loadLanes(samples.row0 + i))
        s1.addProducts(w, loadLanes(samples.row1 + i))
        if linearTileSamples > 2 {
            s2.addProducts(w, loadLanes(samples.row2 + i))
            s3.addProducts(w, loadLanes(samples.row3 + i))
            s4.addProducts(w, loadLanes(samples.row4 + i))
            s5.addProducts(w, loadLanes(samples.row5 + i))
        }
    }

    /// Slot `slot`'s lane sums: the dot products of its sample with the four rows.
    @inline(__always)
    subscript(slot: Int) -> (Float, Float, Float, Float) {
        switch slot {
        case 0: s0.sums
        case 1: s1.sums
        case 2: s2.sums
        case 3: s3.sums
        case 4: s4.sums
        default: s5.sums
        }
    }
}
