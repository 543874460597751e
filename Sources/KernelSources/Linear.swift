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
        addWeightGradient(
            inputs: inputs, outputs: outputs, input: input, outputGradient: outputGradient,
            weightGradient: weightGradient, count: count)
        if let inputGradient {
            storeInputGradient(
                inputs: inputs, outputs: outputs, weight: weight, outputGradient: outputGradient,
                inputGradient: inputGradient, count: count)
        }
    }

    /// dw[o][i] += Σ_n dout[n][o] · in[n][i]: a vector of dw for four outputs in registers over all samples.
    private static func addWeightGradient(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        weightGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for first in stride(from: 0, to: outputs, by: 4) {
            let block = min(4, outputs - first)
            let rows = FourRows(weightGradient, first: first, count: block, rowLength: inputs)
            // The slot of each row in a sample's output gradient.
            let slots = (first, first + min(1, block - 1), first + min(2, block - 1), first + min(3, block - 1))
            for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                var (s0, s1, s2, s3) = (loadLanes(rows.row0 + i), loadLanes(rows.row1 + i), loadLanes(rows.row2 + i), loadLanes(rows.row3 + i))
                for sample in 0..<count {
                    let value = loadLanes(input + sample * inputs + i)
                    let gradients = outputGradient + sample * outputs
                    s0 = multiplyAdd(s0, Lanes(repeating: gradients[slots.0]), value)
                    s1 = multiplyAdd(s1, Lanes(repeating: gradients[slots.1]), value)
                    s2 = multiplyAdd(s2, Lanes(repeating: gradients[slots.2]), value)
                    s3 = multiplyAdd(s3, Lanes(repeating: gradients[slots.3]), value)
                }
                // A repeated row computed what its original did: storing it again changes nothing.
                storeLanes(s3, rows.row3 + i)
                storeLanes(s2, rows.row2 + i)
                storeLanes(s1, rows.row1 + i)
                storeLanes(s0, rows.row0 + i)
            }
            for o in first..<first + block {
                for i in vectorEnd..<inputs {
                    var sum = weightGradient[o * inputs + i]
                    for sample in 0..<count { sum += outputGradient[sample * outputs + o] * input[sample * inputs + i] }
                    weightGradient[o * inputs + i] = sum
                }
            }
        }
    }

    /// din[n][i] = Σ_o dout[n][o] · w[o][i]: a vector of din for four samples in registers over all outputs.
    private static func storeInputGradient(
        inputs: Int, outputs: Int, weight: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for first in stride(from: 0, to: count, by: 4) {
            let block = min(4, count - first)
            let gradients = FourRows(outputGradient, first: first, count: block, rowLength: outputs)
            let rows = FourRows(inputGradient, first: first, count: block, rowLength: inputs)
            for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                var (s0, s1, s2, s3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
                for o in 0..<outputs {
                    let value = loadLanes(weight + o * inputs + i)
                    s0 = multiplyAdd(s0, Lanes(repeating: gradients.row0[o]), value)
                    s1 = multiplyAdd(s1, Lanes(repeating: gradients.row1[o]), value)
                    s2 = multiplyAdd(s2, Lanes(repeating: gradients.row2[o]), value)
                    s3 = multiplyAdd(s3, Lanes(repeating: gradients.row3[o]), value)
                }
                // A repeated row computed what its original did: storing it again changes nothing.
                storeLanes(s3, rows.row3 + i)
                storeLanes(s2, rows.row2 + i)
                storeLanes(s1, rows.row1 + i)
                storeLanes(s0, rows.row0 + i)
            }
            for sample in first..<first + block {
                for i in vectorEnd..<inputs {
                    var sum: Float = 0
                    for o in 0..<outputs { sum += outputGradient[sample * outputs + o] * weight[o * inputs + i] }
                    inputGradient[sample * inputs + i] = sum
                }
            }
        }
    }
}
