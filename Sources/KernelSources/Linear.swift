import CNNKernelInterface

// Linear: fully connected, over [count][features]. Every loop runs over whole vectors of the
// contiguous dimension, then the remaining floats (the backward products: a last vector ending at
// the row's end); four rows (`FourRows`) share each vector load.

/// Samples per register tile of the forward pass: 4 weight rows × 6 samples (24 accumulators)
/// for 32 vector registers, 4 × 2 for 16.
#if LANES16
let linearTileSamples = 6
#else
let linearTileSamples = 2
#endif

/// Inputs per chunk of the forward pass: four weight rows of a chunk (16 KiB) stay in L1 while
/// every sample's chunk streams past them from L2.
let linearChunk = 1024

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
            let vectorEnd = length / laneCount * laneCount
            for first in stride(from: 0, to: outputs, by: 4) {
                let block = min(4, outputs - first)
                let rows = FourRows(weight + chunk, first: first, count: block, rowLength: inputs)
                for sample in stride(from: 0, to: count, by: linearTileSamples) {
                    // A last tile of fewer samples repeats its last one (computed again, stored once).
                    let tileCount = min(linearTileSamples, count - sample)
                    let samples = SixRows(input + chunk, first: sample, count: tileCount, rowLength: inputs)
                    let tile = SampleTile(rows, samples, vectorEnd: vectorEnd)
                    for slot in 0..<tileCount {
                        let x = input + (sample + slot) * inputs + chunk
                        var dot = tile[slot]
                        // The floats past the last whole vector (of the last chunk), one at a time.
                        for i in vectorEnd..<length {
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
    /// products of a linear layer have this form. Four target rows × two vectors of columns in
    /// registers over all terms (8 FMA chains sharing 2 source loads and 4 coefficients); the
    /// columns are the outer loop, so that a strip of the source ([terms][2·laneCount]) stays in L1
    /// for every block of rows. Columns past the last whole vector are a vector ending at the
    /// row's end, whose first lanes (columns done already) are stored back as they were.
    private static func addCombinationsOfRows(
        rows: Int, columns: Int, terms: Int, coefficients: UnsafePointer<Float>, rowStride: Int, termStride: Int,
        source: UnsafePointer<Float>, target: UnsafeMutablePointer<Float>, accumulating: Bool
    ) {
        let vectorEnd = columns / laneCount * laneCount
        let pairs = (vectorEnd / laneCount + 1) / 2
        let vectorTail = columns > vectorEnd && columns >= laneCount
        var lane = Lanes.MaskStorage()
        for k in 0..<laneCount { lane[k] = Int32(k) }
        let tailLanes = lane .>= Lanes.MaskStorage(repeating: Int32(vectorEnd - (columns - laneCount)))
        for pair in 0..<pairs + (vectorTail ? 1 : 0) {
            let isTail = pair == pairs
            // An odd last vector is its own pair: computed twice from the same sums, stored twice alike.
            let c = isTail ? columns - laneCount : 2 * laneCount * pair
            let d = isTail ? c : min(c + laneCount, vectorEnd - laneCount)
            let stored = isTail ? tailLanes : SIMDMask(repeating: true)
            for first in stride(from: 0, to: rows, by: 4) {
                let block = min(4, rows - first)
                let targets = FourRows(target, first: first, count: block, rowLength: columns)
                let factors = FourRows(coefficients, first: first, count: block, rowLength: rowStride)
                func start(_ row: UnsafeMutablePointer<Float>) -> (Lanes, Lanes) {
                    accumulating ? (loadLanes(row + c), loadLanes(row + d)) : (.zero, .zero)
                }
                var ((s0, t0), (s1, t1), (s2, t2), (s3, t3)) =
                    (start(targets.row0), start(targets.row1), start(targets.row2), start(targets.row3))
                for t in 0..<terms {
                    let (u, v) = (loadLanes(source + t * columns + c), loadLanes(source + t * columns + d))
                    let f0 = Lanes(repeating: factors.row0[t * termStride])
                    s0 = multiplyAdd(s0, f0, u)
                    t0 = multiplyAdd(t0, f0, v)
                    let f1 = Lanes(repeating: factors.row1[t * termStride])
                    s1 = multiplyAdd(s1, f1, u)
                    t1 = multiplyAdd(t1, f1, v)
                    let f2 = Lanes(repeating: factors.row2[t * termStride])
                    s2 = multiplyAdd(s2, f2, u)
                    t2 = multiplyAdd(t2, f2, v)
                    let f3 = Lanes(repeating: factors.row3[t * termStride])
                    s3 = multiplyAdd(s3, f3, u)
                    t3 = multiplyAdd(t3, f3, v)
                }
                // A repeated row or vector computed what its original did: storing it again changes nothing.
                func store(_ row: UnsafeMutablePointer<Float>, _ left: Lanes, _ right: Lanes) {
                    storeLanes(loadLanes(row + d).replacing(with: right, where: stored), row + d)
                    storeLanes(loadLanes(row + c).replacing(with: left, where: stored), row + c)
                }
                store(targets.row3, s3, t3)
                store(targets.row2, s2, t2)
                store(targets.row1, s1, t1)
                store(targets.row0, s0, t0)
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

    var sums: (Float, Float, Float, Float) { (laneSum(d0), laneSum(d1), laneSum(d2), laneSum(d3)) }
}

/// The forward register tile: Σ_i row_r[i] · sample_s[i] for four weight rows and
/// `linearTileSamples` samples, over the whole vectors of the rows. The sample slots past the
/// path's tile width are never touched, and the compiler drops them.
struct SampleTile {
    var s0 = FourDots(), s1 = FourDots(), s2 = FourDots(), s3 = FourDots(), s4 = FourDots(), s5 = FourDots()

    @inline(__always)
    init(_ rows: FourRows, _ samples: SixRows, vectorEnd: Int) {
        for i in stride(from: 0, to: vectorEnd, by: laneCount) {
            let w = (loadLanes(rows.row0 + i), loadLanes(rows.row1 + i), loadLanes(rows.row2 + i), loadLanes(rows.row3 + i))
            s0.addProducts(w, loadLanes(samples.row0 + i))
            s1.addProducts(w, loadLanes(samples.row1 + i))
            if linearTileSamples > 2 {
                s2.addProducts(w, loadLanes(samples.row2 + i))
                s3.addProducts(w, loadLanes(samples.row3 + i))
                s4.addProducts(w, loadLanes(samples.row4 + i))
                s5.addProducts(w, loadLanes(samples.row5 + i))
            }
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
