import CNNKernelInterface

// Linear: fully connected, over [count][features]. Every loop runs over whole vectors of the
// contiguous dimension, then the remaining floats one at a time; four rows share each vector load.

extension BatchLayerKernels {
    /// out[n][o] = b[o] + Σ_i w[o][i] · in[n][i]          in: [count][I], w: [O][I], b: [O], out: [count][O]
    public static func linearForward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for sample in 0..<count {
            let x = input + sample * inputs
            for first in stride(from: 0, to: outputs, by: 4) {
                let block = min(4, outputs - first)
                // Rows past the last repeat it; only the block's own are stored.
                func row(_ slot: Int) -> UnsafePointer<Float> { weight + (first + min(slot, block - 1)) * inputs }
                let (w0, w1, w2, w3) = (row(0), row(1), row(2), row(3))
                var (s0, s1, s2, s3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
                for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                    let value = loadLanes(x + i)
                    s0 = multiplyAdd(s0, loadLanes(w0 + i), value)
                    s1 = multiplyAdd(s1, loadLanes(w1 + i), value)
                    s2 = multiplyAdd(s2, loadLanes(w2 + i), value)
                    s3 = multiplyAdd(s3, loadLanes(w3 + i), value)
                }
                var (t0, t1, t2, t3) = (laneSum(s0), laneSum(s1), laneSum(s2), laneSum(s3))
                for i in vectorEnd..<inputs {
                    (t0, t1, t2, t3) = (t0 + w0[i] * x[i], t1 + w1[i] * x[i], t2 + w2[i] * x[i], t3 + w3[i] * x[i])
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

    /// dw[o][i] += Σ_n dout[n][o] · in[n][i], a vector of dw for four outputs in registers over all samples.
    private static func addWeightGradient(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        weightGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for first in stride(from: 0, to: outputs, by: 4) {
            let block = min(4, outputs - first)
            let slots = (0, min(1, block - 1), min(2, block - 1), min(3, block - 1))
            let rows = (weightGradient + (first + slots.0) * inputs, weightGradient + (first + slots.1) * inputs,
                        weightGradient + (first + slots.2) * inputs, weightGradient + (first + slots.3) * inputs)
            for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                var (s0, s1, s2, s3) = (loadLanes(rows.0 + i), loadLanes(rows.1 + i), loadLanes(rows.2 + i), loadLanes(rows.3 + i))
                for sample in 0..<count {
                    let value = loadLanes(input + sample * inputs + i)
                    let gradients = outputGradient + sample * outputs + first
                    s0 = multiplyAdd(s0, Lanes(repeating: gradients[slots.0]), value)
                    s1 = multiplyAdd(s1, Lanes(repeating: gradients[slots.1]), value)
                    s2 = multiplyAdd(s2, Lanes(repeating: gradients[slots.2]), value)
                    s3 = multiplyAdd(s3, Lanes(repeating: gradients[slots.3]), value)
                }
                // A repeated slot computed what its original did: storing it again changes nothing.
                storeLanes(s3, rows.3 + i)
                storeLanes(s2, rows.2 + i)
                storeLanes(s1, rows.1 + i)
                storeLanes(s0, rows.0 + i)
            }
            for slot in 0..<block {
                for i in vectorEnd..<inputs {
                    var sum = weightGradient[(first + slot) * inputs + i]
                    for sample in 0..<count {
                        sum += outputGradient[sample * outputs + first + slot] * input[sample * inputs + i]
                    }
                    weightGradient[(first + slot) * inputs + i] = sum
                }
            }
        }
    }

    /// din[n][i] = Σ_o dout[n][o] · w[o][i], a vector of din for four samples in registers over all outputs.
    private static func storeInputGradient(
        inputs: Int, outputs: Int, weight: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, count: Int
    ) {
        let vectorEnd = inputs / laneCount * laneCount
        for first in stride(from: 0, to: count, by: 4) {
            let block = min(4, count - first)
            let slots = (0, min(1, block - 1), min(2, block - 1), min(3, block - 1))
            let gradients = (outputGradient + (first + slots.0) * outputs, outputGradient + (first + slots.1) * outputs,
                             outputGradient + (first + slots.2) * outputs, outputGradient + (first + slots.3) * outputs)
            let rows = (inputGradient + (first + slots.0) * inputs, inputGradient + (first + slots.1) * inputs,
                        inputGradient + (first + slots.2) * inputs, inputGradient + (first + slots.3) * inputs)
            for i in stride(from: 0, to: vectorEnd, by: laneCount) {
                var (s0, s1, s2, s3) = (Lanes.zero, Lanes.zero, Lanes.zero, Lanes.zero)
                for o in 0..<outputs {
                    let value = loadLanes(weight + o * inputs + i)
                    s0 = multiplyAdd(s0, Lanes(repeating: gradients.0[o]), value)
                    s1 = multiplyAdd(s1, Lanes(repeating: gradients.1[o]), value)
                    s2 = multiplyAdd(s2, Lanes(repeating: gradients.2[o]), value)
                    s3 = multiplyAdd(s3, Lanes(repeating: gradients.3[o]), value)
                }
                // A repeated slot computed what its original did: storing it again changes nothing.
                storeLanes(s3, rows.3 + i)
                storeLanes(s2, rows.2 + i)
                storeLanes(s1, rows.1 + i)
                storeLanes(s0, rows.0 + i)
            }
            for slot in 0..<block {
                for i in vectorEnd..<inputs {
                    var sum: Float = 0
                    for o in 0..<outputs { sum += outputGradient[(first + slot) * outputs + o] * weight[o * inputs + i] }
                    inputGradient[(first + slot) * inputs + i] = sum
                }
            }
        }
    }
}
