#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import CNNKernelInterface

/// Every layer kernel written for clarity, not speed, in the style of llm.c: one loop nest per
/// layer and direction over plain row-major arrays ([count][channels][height][width] or
/// [count][features]), in Float. The reference the dispatched kernels are tested against.
public enum ScalarReferenceLayers {
    /// out[n][o][y][x] = b[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[n][i][y+ky−pad][x+kx−pad], zero outside the input.
    public static func convolutionForward(
        _ shape: ConvolutionShape, input: [Float], weight: [Float], bias: [Float], count: Int
    ) -> [Float] {
        let (inputs, k) = (shape.inputChannels, shape.kernel)
        var output = [Float](repeating: 0, count: count * shape.output.size)
        for n in 0..<count {
            for o in 0..<shape.outputChannels {
                for y in 0..<shape.outputHeight {
                    for x in 0..<shape.outputWidth {
                        var sum = bias[o]
                        for i in 0..<inputs {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let (row, column) = (y + ky - shape.padding, x + kx - shape.padding)
                                    guard (0..<shape.height).contains(row) && (0..<shape.width).contains(column) else { continue }
                                    sum += weight[((o * inputs + i) * k + ky) * k + kx]
                                        * input[((n * inputs + i) * shape.height + row) * shape.width + column]
                                }
                            }
                        }
                        output[((n * shape.outputChannels + o) * shape.outputHeight + y) * shape.outputWidth + x] = sum
                    }
                }
            }
        }
        return output
    }

    /// din[n][i][y+ky−pad][x+kx−pad] += w[o][i][ky][kx] · dout[n][o][y][x];
    /// dw[o][i][ky][kx] += in[n][i][y+ky−pad][x+kx−pad] · dout[n][o][y][x];  db[o] += dout[n][o][y][x]
    public static func convolutionBackward(
        _ shape: ConvolutionShape, input: [Float], weight: [Float], outputGradient: [Float], count: Int
    ) -> (input: [Float], weight: [Float], bias: [Float]) {
        let (inputs, k) = (shape.inputChannels, shape.kernel)
        var inputGradient = [Float](repeating: 0, count: input.count)
        var weightGradient = [Float](repeating: 0, count: weight.count)
        var biasGradient = [Float](repeating: 0, count: shape.outputChannels)
        for n in 0..<count {
            for o in 0..<shape.outputChannels {
                for y in 0..<shape.outputHeight {
                    for x in 0..<shape.outputWidth {
                        let gradient = outputGradient[((n * shape.outputChannels + o) * shape.outputHeight + y) * shape.outputWidth + x]
                        biasGradient[o] += gradient
                        for i in 0..<inputs {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let (row, column) = (y + ky - shape.padding, x + kx - shape.padding)
                                    guard (0..<shape.height).contains(row) && (0..<shape.width).contains(column) else { continue }
                                    let w = ((o * inputs + i) * k + ky) * k + kx
                                    let at = ((n * inputs + i) * shape.height + row) * shape.width + column
                                    inputGradient[at] += weight[w] * gradient
                                    weightGradient[w] += input[at] * gradient
                                }
                            }
                        }
                    }
                }
            }
        }
        return (inputGradient, weightGradient, biasGradient)
    }

    /// out[p][y][x] = max over the 2×2 window at (2y, 2x) of plane p (odd last rows and columns
    /// dropped), and the index in `input` of each window's first maximum in row-major order.
    /// input: [count][shape].
    public static func maxPoolForward(_ shape: PlanesShape, input: [Float], count: Int) -> (output: [Float], argmax: [Int]) {
        let pooled = shape.pooled
        var output: [Float] = []
        var argmax: [Int] = []
        for plane in 0..<count * shape.channels {
            for y in 0..<pooled.height {
                for x in 0..<pooled.width {
                    var best = plane * shape.height * shape.width + 2 * y * shape.width + 2 * x
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let at = plane * shape.height * shape.width + (2 * y + dy) * shape.width + 2 * x + dx
                        if input[at] > input[best] { best = at }
                    }
                    output.append(input[best])
                    argmax.append(best)
                }
            }
        }
        return (output, argmax)
    }

    /// din[argmax[j]] = dout[j], 0 elsewhere.
    public static func maxPoolBackward(_ shape: PlanesShape, input: [Float], outputGradient: [Float], count: Int) -> [Float] {
        var inputGradient = [Float](repeating: 0, count: input.count)
        for (j, at) in maxPoolForward(shape, input: input, count: count).argmax.enumerated() {
            inputGradient[at] = outputGradient[j]
        }
        return inputGradient
    }

    /// out = max(in, 0)
    public static func reluForward(_ input: [Float]) -> [Float] { input.map { $0 > 0 ? $0 : 0 } }

    /// din = dout where out > 0, else 0
    public static func reluBackward(output: [Float], outputGradient: [Float]) -> [Float] {
        zip(output, outputGradient).map { $0 > 0 ? $1 : 0 }
    }

    /// values[n][e] · 1/(1−p) where `mask` keeps element e of sample n, else 0: dropout's forward
    /// pass on activations and its backward pass on gradients.
    public static func dropout(_ mask: DropoutMask, _ values: [Float], sampleSize: Int) -> [Float] {
        values.indices.map { index in
            let (sample, element) = index.quotientAndRemainder(dividingBy: sampleSize)
            return mask.keeps(stream: mask.stream(sample: sample), element: element) ? values[index] * mask.keptScale : 0
        }
    }

    /// out[n][o] = b[o] + Σ_i w[o][i] · in[n][i]
    public static func linearForward(
        inputs: Int, outputs: Int, input: [Float], weight: [Float], bias: [Float], count: Int
    ) -> [Float] {
        var output = [Float](repeating: 0, count: count * outputs)
        for n in 0..<count {
            for o in 0..<outputs {
                var sum = bias[o]
                for i in 0..<inputs { sum += weight[o * inputs + i] * input[n * inputs + i] }
                output[n * outputs + o] = sum
            }
        }
        return output
    }

    /// din[n][i] = Σ_o dout[n][o] · w[o][i];  dw[o][i] = Σ_n dout[n][o] · in[n][i];  db[o] = Σ_n dout[n][o]
    public static func linearBackward(
        inputs: Int, outputs: Int, input: [Float], weight: [Float], outputGradient: [Float], count: Int
    ) -> (input: [Float], weight: [Float], bias: [Float]) {
        var inputGradient = [Float](repeating: 0, count: count * inputs)
        var weightGradient = [Float](repeating: 0, count: outputs * inputs)
        var biasGradient = [Float](repeating: 0, count: outputs)
        for n in 0..<count {
            for o in 0..<outputs {
                let gradient = outputGradient[n * outputs + o]
                biasGradient[o] += gradient
                for i in 0..<inputs {
                    inputGradient[n * inputs + i] += gradient * weight[o * inputs + i]
                    weightGradient[o * inputs + i] += gradient * input[n * inputs + i]
                }
            }
        }
        return (inputGradient, weightGradient, biasGradient)
    }

    /// Σ_n −log softmax(logits[n])[label[n]] (terms in Float, the sum in Double), the logits'
    /// gradient gradientScale · (softmax − onehot), and each sample's first largest logit.
    public static func softmaxCrossEntropy(
        classes: Int, logits: [Float], labels: [Int32], count: Int, gradientScale: Float
    ) -> (lossSum: Double, logitGradient: [Float], predictions: [Int32]) {
        var lossSum = 0.0
        var logitGradient = [Float](repeating: 0, count: count * classes)
        var predictions: [Int32] = []
        for n in 0..<count {
            let row = Array(logits[n * classes..<(n + 1) * classes])
            let largest = row.max()!
            predictions.append(Int32(row.firstIndex(of: largest)!))
            let logSumExponentials = logf(row.reduce(0) { $0 + expf($1 - largest) })
            let label = Int(labels[n])
            lossSum += Double(-((row[label] - largest) - logSumExponentials))
            for j in 0..<classes {
                let probability = expf((row[j] - largest) - logSumExponentials)
                logitGradient[n * classes + j] = (probability - (j == label ? 1 : 0)) * gradientScale
            }
        }
        return (lossSum, logitGradient, predictions)
    }

    /// One Adam update, a parameter at a time, in PyTorch's order of operations:
    /// m ← m + (1−β₁)(g − m); v ← β₂v + (1−β₂)g²; p ← p − stepSize · m / (√v / correctionRoot + ε).
    public static func adamUpdate(
        _ coefficients: AdamCoefficients, parameters: inout [Float], gradients: [Float], firstMoment: inout [Float],
        secondMoment: inout [Float]
    ) {
        let c = coefficients
        for i in parameters.indices {
            firstMoment[i] += (1 - c.beta1) * (gradients[i] - firstMoment[i])
            secondMoment[i] = secondMoment[i] * c.beta2 + (1 - c.beta2) * gradients[i] * gradients[i]
            let denominator = secondMoment[i].squareRoot() / c.secondCorrectionRoot + c.epsilon
            parameters[i] = parameters[i] - c.stepSize * firstMoment[i] / denominator
        }
    }
}
