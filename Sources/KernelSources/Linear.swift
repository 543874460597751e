import CNNKernelInterface

// Linear: fully connected, over [count][features]. Every loop runs over whole vectors of the
// contiguous dimension, then the remaining floats (the backward products: a last vector ending at
// the row's end); four rows (`FourRows`) share each vector load.

extension BatchLayerKernels {
    /// out[n][o] = b[o] + Σ_i w[o][i] · in[n][i]          in: [count][I], w: [O][I], b: [O], out: [count][O]
    /// Four weight rows at a time, for every sample while they are in cache, two samples at a time
    /// (8 FMA chains; each weight load feeds two of them).
    public static func linearForward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        for first in stride(from: 0, to: outputs, by: 4) {
            let block = min(4, outputs - first)
            let rows = FourRows(weight, first: first, count: block, rowLength: inputs)
            func store(_ sums: (Float, Float, Float, Float), sample: Int) {
                let target = output + sample * outputs + first
                target[0] = bias[first] + sums.0
                if block > 1 { target[1] = bias[first + 1] + sums.1 }
                if block > 2 { target[2] = bias[first + 2] + sums.2 }
                if block > 3 { target[3] = bias[first + 3] + sums.3 }
            }
            for sample in stride(from: 0, to: count, by: 2) {
                // An odd last sample is computed twice and stored once.
                let second = min(sample + 1, count - 1)
                let sums = dotProducts(rows, input + sample * inputs, input + second * inputs, length: inputs)
                store(sums.first, sample: sample)
                store(sums.second, sample: second)
            }
        }
    }

    /// Σ_i row_k[i] · x[i] for the four rows and both vectors x, y of `length` floats.
    @inline(__always)
    private static func dotProducts(
        _ rows: FourRows, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, length: Int
    ) -> (first: (Float, Float, Float, Float), second: (Float, Float, Float, Float)) {
        let vectorEnd = length / laneCount * laneCount
        var (x0, x1, x2, x3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        var (y0, y1, y2, y3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
        for i in stride(from: 0, to: vectorEnd, by: laneCount) {
            let (u, v) = (loadLanes(x + i), loadLanes(y + i))
            let w0 = loadLanes(rows.row0 + i)
            x0 = multiplyAdd(x0, w0, u)
            y0 = multiplyAdd(y0, w0, v)
            let w1 = loadLanes(rows.row1 + i)
            x1 = multiplyAdd(x1, w1, u)
            y1 = multiplyAdd(y1, w1, v)
            let w2 = loadLanes(rows.row2 + i)
            x2 = multiplyAdd(x2, w2, u)
            y2 = multiplyAdd(y2, w2, v)
            let w3 = loadLanes(rows.row3 + i)
            x3 = multiplyAdd(x3, w3, u)
            y3 = multiplyAdd(y3, w3, v)
        }
        var first = (laneSum(x0), laneSum(x1), laneSum(x2), laneSum(x3))
        var second = (laneSum(y0), laneSum(y1), laneSum(y2), laneSum(y3))
        for i in vectorEnd..<length {
            first.0 += rows.row0[i] * x[i]
            first.1 += rows.row1[i] * x[i]
            first.2 += rows.row2[i] * x[i]
            first.3 += rows.row3[i] * x[i]
            second.0 += rows.row0[i] * y[i]
            second.1 += rows.row1[i] * y[i]
            second.2 += rows.row2[i] * y[i]
            second.3 += rows.row3[i] * y[i]
        }
        return (first, second)
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
