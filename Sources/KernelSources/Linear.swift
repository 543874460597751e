import CNNKernelInterface

// Linear: fully connected, over [count][features]. Every loop runs over whole vectors of the
// contiguous dimension, then the remaining floats one at a time; four rows (`FourRows`) share
// each vector load.

extension BatchLayerKernels {
    /// out[n][o] = b[o] + Σ_i w[o][i] · in[n][i]          in: [count][I], w: [O][I], b: [O], out: [count][O]
    /// Four weight rows at a time, for every sample while they are in cache.
    public static func linearForward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for first in stride(from: 0, to: outputs, by: 4) {
            let block = min(4, outputs - first)
            let rows = FourRows(weight, first: first, count: block, rowLength: inputs)
            for sample in 0..<count {
                let x = input + sample * inputs
                var (s0, s1, s2, s3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
                for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                    let value = loadLanes(x + i)
                    s0 = multiplyAdd(s0, loadLanes(rows.row0 + i), value)
                    s1 = multiplyAdd(s1, loadLanes(rows.row1 + i), value)
                    s2 = multiplyAdd(s2, loadLanes(rows.row2 + i), value)
                    s3 = multiplyAdd(s3, loadLanes(rows.row3 + i), value)
                }
                var (t0, t1, t2, t3) = (laneSum(s0), laneSum(s1), laneSum(s2), laneSum(s3))
                for i in vectorEnd..<inputs {
                    t0 += rows.row0[i] * x[i]
                    t1 += rows.row1[i] * x[i]
                    t2 += rows.row2[i] * x[i]
                    t3 += rows.row3[i] * x[i]
                }
                let target = output + sample * outputs + first
                target[0] = bias[first] + t0
                if block > 1 { target[1] = bias[first + 1] + t1 }
                if block > 2 { target[2] = bias[first + 2] + t2 }
                if block > 3 { target[3] = bias[first + 3] + t3 }
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
    /// products of a linear layer have this form. Four target rows hold a vector each in registers
    /// over all terms, sharing each load of the source.
    private static func addCombinationsOfRows(
        rows: Int, columns: Int, terms: Int, coefficients: UnsafePointer<Float>, rowStride: Int, termStride: Int,
        source: UnsafePointer<Float>, target: UnsafeMutablePointer<Float>, accumulating: Bool
    ) {
        let vectorEnd = columns / laneCount * laneCount
        for first in stride(from: 0, to: rows, by: 4) {
            let block = min(4, rows - first)
            let targets = FourRows(target, first: first, count: block, rowLength: columns)
            let factors = FourRows(coefficients, first: first, count: block, rowLength: rowStride)
            for c in stride(from: 0, to: vectorEnd, by: laneCount) {
                var (s0, s1, s2, s3) =
                    accumulating
                    ? (loadLanes(targets.row0 + c), loadLanes(targets.row1 + c), loadLanes(targets.row2 + c), loadLanes(targets.row3 + c))
                    : (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
                for t in 0..<terms {
                    let value = loadLanes(source + t * columns + c)
                    s0 = multiplyAdd(s0, Lanes(repeating: factors.row0[t * termStride]), value)
                    s1 = multiplyAdd(s1, Lanes(repeating: factors.row1[t * termStride]), value)
                    s2 = multiplyAdd(s2, Lanes(repeating: factors.row2[t * termStride]), value)
                    s3 = multiplyAdd(s3, Lanes(repeating: factors.row3[t * termStride]), value)
                }
                // A repeated row computed what its original did: storing it again changes nothing.
                storeLanes(s3, targets.row3 + c)
                storeLanes(s2, targets.row2 + c)
                storeLanes(s1, targets.row1 + c)
                storeLanes(s0, targets.row0 + c)
            }
            for r in first..<first + block {
                for c in vectorEnd..<columns {
                    var sum = accumulating ? target[r * columns + c] : 0
                    for t in 0..<terms { sum += coefficients[r * rowStride + t * termStride] * source[t * columns + c] }
                    target[r * columns + c] = sum
                }
            }
        }
    }
}
