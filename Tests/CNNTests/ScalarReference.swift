import CNN
import Foundation

/// The seed CNN written for clarity, not speed, in the style of llm.c: one loop nest per layer and
/// direction, over plain row-major arrays ([batch][channels][height][width]), in Float. Every
/// kernel path is checked against it.
enum ScalarReference {
    /// out[b][o][y][x] = bias[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[b][i][y+ky−1][x+kx−1], zero outside the image.
    /// input: [batch][inputs][side][side]; weight: [outputs][inputs][3][3]; bias: [outputs].
    static func conv3x3Forward(
        _ input: [Float], batch: Int, inputs: Int, side: Int, weight: [Float], bias: [Float], outputs: Int
    ) -> [Float] {
        var output = [Float](repeating: 0, count: batch * outputs * side * side)
        for b in 0..<batch {
            for o in 0..<outputs {
                for y in 0..<side {
                    for x in 0..<side {
                        var sum = bias[o]
                        for i in 0..<inputs {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (row, column) = (y + ky - 1, x + kx - 1)
                                    guard (0..<side).contains(row) && (0..<side).contains(column) else { continue }
                                    sum += weight[((o * inputs + i) * 3 + ky) * 3 + kx]
                                        * input[((b * inputs + i) * side + row) * side + column]
                                }
                            }
                        }
                        output[((b * outputs + o) * side + y) * side + x] = sum
                    }
                }
            }
        }
        return output
    }

    /// din[b][i][y+ky−1][x+kx−1] += w[o][i][ky][kx] · dout[b][o][y][x];
    /// dw[o][i][ky][kx] += in[b][i][y+ky−1][x+kx−1] · dout[b][o][y][x];  db[o] += dout[b][o][y][x]
    static func conv3x3Backward(
        _ input: [Float], outputGradient: [Float], batch: Int, inputs: Int, side: Int, weight: [Float], outputs: Int
    ) -> (input: [Float], weight: [Float], bias: [Float]) {
        var inputGradient = [Float](repeating: 0, count: input.count)
        var weightGradient = [Float](repeating: 0, count: weight.count)
        var biasGradient = [Float](repeating: 0, count: outputs)
        for b in 0..<batch {
            for o in 0..<outputs {
                for y in 0..<side {
                    for x in 0..<side {
                        let gradient = outputGradient[((b * outputs + o) * side + y) * side + x]
                        biasGradient[o] += gradient
                        for i in 0..<inputs {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (row, column) = (y + ky - 1, x + kx - 1)
                                    guard (0..<side).contains(row) && (0..<side).contains(column) else { continue }
                                    let w = ((o * inputs + i) * 3 + ky) * 3 + kx
                                    let at = ((b * inputs + i) * side + row) * side + column
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

    /// out = max(in, 0)
    static func reluForward(_ input: [Float]) -> [Float] { input.map { max($0, 0) } }

    /// din = dout where in > 0, else 0
    static func reluBackward(_ input: [Float], outputGradient: [Float]) -> [Float] {
        zip(input, outputGradient).map { $0 > 0 ? $1 : 0 }
    }

    /// out[p][y][x] = max over the 2×2 window at (2y, 2x) of plane p of in; also the index in `input`
    /// of each window's first maximum in row-major order (PyTorch's choice on ties).
    /// input: [planes][side][side].
    static func maxPoolForward(_ input: [Float], planes: Int, side: Int) -> (output: [Float], argmax: [Int]) {
        let half = side / 2
        var output = [Float](repeating: 0, count: planes * half * half)
        var argmax = [Int](repeating: 0, count: output.count)
        for p in 0..<planes {
            for y in 0..<half {
                for x in 0..<half {
                    var best = (p * side + 2 * y) * side + 2 * x
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                        let candidate = (p * side + 2 * y + dy) * side + 2 * x + dx
                        if input[candidate] > input[best] { best = candidate }
                    }
                    output[(p * half + y) * half + x] = input[best]
                    argmax[(p * half + y) * half + x] = best
                }
            }
        }
        return (output, argmax)
    }

    /// din[argmax[k]] = dout[k], 0 elsewhere.
    static func maxPoolBackward(outputGradient: [Float], argmax: [Int], inputCount: Int) -> [Float] {
        var inputGradient = [Float](repeating: 0, count: inputCount)
        for (k, at) in argmax.enumerated() { inputGradient[at] += outputGradient[k] }
        return inputGradient
    }

    /// out[b][j] = bias[j] + Σ_k w[j][k] · in[b][k]
    static func linearForward(
        _ input: [Float], batch: Int, inputs: Int, weight: [Float], bias: [Float], outputs: Int
    ) -> [Float] {
        var output = [Float](repeating: 0, count: batch * outputs)
        for b in 0..<batch {
            for j in 0..<outputs {
                var sum = bias[j]
                for k in 0..<inputs { sum += weight[j * inputs + k] * input[b * inputs + k] }
                output[b * outputs + j] = sum
            }
        }
        return output
    }

    /// din[b][k] = Σ_j w[j][k] · dout[b][j];  dw[j][k] = Σ_b dout[b][j] · in[b][k];  db[j] = Σ_b dout[b][j]
    static func linearBackward(
        _ input: [Float], outputGradient: [Float], batch: Int, inputs: Int, weight: [Float], outputs: Int
    ) -> (input: [Float], weight: [Float], bias: [Float]) {
        var inputGradient = [Float](repeating: 0, count: input.count)
        var weightGradient = [Float](repeating: 0, count: weight.count)
        var biasGradient = [Float](repeating: 0, count: outputs)
        for b in 0..<batch {
            for j in 0..<outputs {
                let gradient = outputGradient[b * outputs + j]
                biasGradient[j] += gradient
                for k in 0..<inputs {
                    inputGradient[b * inputs + k] += weight[j * inputs + k] * gradient
                    weightGradient[j * inputs + k] += input[b * inputs + k] * gradient
                }
            }
        }
        return (inputGradient, weightGradient, biasGradient)
    }

    /// loss[b] = log Σ_j exp(logits[b][j]) − logits[b][label[b]];
    /// dlogits[b][j] = (softmax(logits[b])[j] − [j = label[b]]) · scale
    static func softmaxCrossEntropy(
        _ logits: [Float], labels: [Int32], classes: Int, scale: Float
    ) -> (losses: [Float], logitGradient: [Float]) {
        var losses: [Float] = []
        var logitGradient = [Float](repeating: 0, count: logits.count)
        for (b, label) in labels.enumerated() {
            let row = logits[b * classes..<(b + 1) * classes]
            let largest = row.max()!
            let logSum = log(row.reduce(0) { $0 + exp($1 - largest) }) + largest
            losses.append(logSum - row[b * classes + Int(label)])
            for j in 0..<classes {
                logitGradient[b * classes + j] = (exp(row[b * classes + j] - logSum) - (j == Int(label) ? 1 : 0)) * scale
            }
        }
        return (losses, logitGradient)
    }

    /// What `SeedCNN.computeGradients` returns and leaves behind, computed layer by layer.
    struct Pass {
        var lossSum: Double
        /// [count][10]
        var logits: [Float]
        /// In `ParameterLayout` order.
        var gradients: [Float]
    }

    /// Forward, loss and backward of the network with `parameters` (in `ParameterLayout` order)
    /// on `count` images ([count][784]) and labels.
    static func pass(
        parameters: [Float], images: [Float], labels: [Int32], count: Int, gradientScale: Float
    ) -> Pass {
        func tensor(_ layout: ParameterTensor) -> [Float] { Array(parameters[layout.range]) }
        let (conv1Weight, conv1Bias) = (tensor(ParameterLayout.conv1Weight), tensor(ParameterLayout.conv1Bias))
        let (conv2Weight, conv2Bias) = (tensor(ParameterLayout.conv2Weight), tensor(ParameterLayout.conv2Bias))
        let (fc1Weight, fc1Bias) = (tensor(ParameterLayout.fc1Weight), tensor(ParameterLayout.fc1Bias))
        let images = Array(images[0..<count * 784])
        let labels = Array(labels[0..<count])

        let conv1 = conv3x3Forward(images, batch: count, inputs: 1, side: 28, weight: conv1Weight, bias: conv1Bias, outputs: 8)
        let relu1 = reluForward(conv1)
        let pool1 = maxPoolForward(relu1, planes: count * 8, side: 28)
        let conv2 = conv3x3Forward(
            pool1.output, batch: count, inputs: 8, side: 14, weight: conv2Weight, bias: conv2Bias, outputs: 16)
        let relu2 = reluForward(conv2)
        let pool2 = maxPoolForward(relu2, planes: count * 16, side: 14)
        let logits = linearForward(pool2.output, batch: count, inputs: 784, weight: fc1Weight, bias: fc1Bias, outputs: 10)
        let loss = softmaxCrossEntropy(logits, labels: labels, classes: 10, scale: gradientScale)

        let fc1 = linearBackward(
            pool2.output, outputGradient: loss.logitGradient, batch: count, inputs: 784, weight: fc1Weight, outputs: 10)
        let relu2Gradient = maxPoolBackward(outputGradient: fc1.input, argmax: pool2.argmax, inputCount: relu2.count)
        let conv2Gradient = reluBackward(conv2, outputGradient: relu2Gradient)
        let conv2Backward = conv3x3Backward(
            pool1.output, outputGradient: conv2Gradient, batch: count, inputs: 8, side: 14, weight: conv2Weight,
            outputs: 16)
        let relu1Gradient = maxPoolBackward(
            outputGradient: conv2Backward.input, argmax: pool1.argmax, inputCount: relu1.count)
        let conv1Gradient = reluBackward(conv1, outputGradient: relu1Gradient)
        let conv1Backward = conv3x3Backward(
            images, outputGradient: conv1Gradient, batch: count, inputs: 1, side: 28, weight: conv1Weight, outputs: 8)

        return Pass(
            lossSum: loss.losses.reduce(0) { $0 + Double($1) }, logits: logits,
            gradients: conv1Backward.weight + conv1Backward.bias + conv2Backward.weight + conv2Backward.bias
                + fc1.weight + fc1.bias)
    }
}
