/// The layers of any sequential network (`ModelPlan`) as one instruction set computes them, over a
/// batch of samples in plain contiguous buffers: [count][channels][height][width] (NCHW) or
/// [count][features]. Each layer's backward pass overwrites the input gradient and adds to the
/// parameter gradients, so a network zeroes those once per step. Adam's update, which every
/// network (the seed's too) takes, is here as well.
///
/// The same kernel sources (Sources/KernelSources) are compiled once per instruction set, each
/// into its own module; `PlannedNetwork` picks one of them at run time by `KernelPath`.
public protocol LayerKernels {
    /// The floats of scratch memory `convolutionForward` and `convolutionBackward` need for `shape`.
    static func convolutionScratchCount(_ shape: ConvolutionShape) -> Int

    /// out[n][o][y][x] = bias[o] + Σ_{i,ky,kx} weight[o][i][ky][kx] · in[n][i][y+ky−pad][x+kx−pad],
    /// zero outside the input; with `rectified`, max(that, 0): a ReLU after the convolution, applied
    /// to each sample's output while it is in cache. input: [count][shape.input.size]; weight:
    /// [shape.weightCount]; bias: [outputChannels]; output: [count][shape.output.size].
    static func convolutionForward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int, rectified: Bool,
        scratch: UnsafeMutablePointer<Float>)

    /// inputGradient (if given) = the gradient of the input; weightGradient and biasGradient += those
    /// of the parameters, from outputGradient: [count][shape.output.size]. With `rectifiedInput`, the
    /// input is a ReLU's output and inputGradient that ReLU's input gradient: zero where input ≤ 0.
    static func convolutionBackward(
        _ shape: ConvolutionShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, rectifiedInput: Bool,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>, count: Int,
        scratch: UnsafeMutablePointer<Float>)

    /// out[n][c][y][x] = max of in[n][c][2y…2y+1][2x…2x+1]; an odd last row or column is dropped.
    static func maxPoolForward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int)

    /// inputGradient = outputGradient routed to each window's first maximum in row-major order
    /// (PyTorch's rule on ties), zero elsewhere. With `rectified`, the input is a ReLU's output and
    /// inputGradient that ReLU's input gradient as well: zero also where the maximum is not positive.
    /// shape: the input's.
    static func maxPoolBackward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, count: Int, rectified: Bool)

    /// out = max(in, 0) over `elements` floats.
    static func reluForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, elements: Int)

    /// inputGradient = outputGradient where output > 0, else 0.
    static func reluBackward(
        output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        elements: Int)

    /// out[n][e] = in[n][e] / (1 − p) where `mask` keeps element e of sample n, else 0.
    /// input, output: [count][sampleSize].
    static func dropoutForward(
        _ mask: DropoutMask, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, sampleSize: Int,
        count: Int)

    /// inputGradient[n][e] = outputGradient[n][e] / (1 − p) where `mask` keeps it, else 0.
    static func dropoutBackward(
        _ mask: DropoutMask, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        sampleSize: Int, count: Int)

    /// out[n][o] = bias[o] + Σ_i weight[o][i] · in[n][i]. input: [count][inputs]; weight:
    /// [outputs][inputs]; output: [count][outputs].
    static func linearForward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int)

    /// inputGradient (if given) = outputGradient · weight; weightGradient += outputGradientᵀ · input;
    /// biasGradient += Σ_n outputGradient[n].
    static func linearBackward(
        inputs: Int, outputs: Int, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>, count: Int)

    /// Σ_n −log softmax(logits[n])[labels[n]], each term in Float and the sum in Double. With
    /// `logitGradient`, also stores gradientScale · (softmax(logits[n]) − onehot(labels[n])) there;
    /// with `predictions`, each sample's class of largest logit (the first on ties).
    /// logits, logitGradient: [count][classes]; labels, predictions: [count].
    static func softmaxCrossEntropy(
        classes: Int, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        logitGradient: UnsafeMutablePointer<Float>?, gradientScale: Float, predictions: UnsafeMutablePointer<Int32>?
    ) -> Double

    /// One Adam update of `count` parameters in place, lanewise and to the bit as `Adam` in CNN
    /// describes: m ← m + (1−β₁)(g − m); v ← β₂v + (1−β₂)g²; p ← p − stepSize · m / (√v / correctionRoot + ε).
    static func adamUpdate(
        _ coefficients: AdamCoefficients, parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>, count: Int)
}

/// What one Adam update multiplies and adds, the same for every parameter.
public struct AdamCoefficients: Sendable, Equatable {
    /// lr / (1 − β₁ᵗ), the bias correction of the first moment folded into the learning rate.
    public let stepSize: Float
    /// √(1 − β₂ᵗ), the bias correction of the second moment's root.
    public let secondCorrectionRoot: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float

    public init(stepSize: Float, secondCorrectionRoot: Float, beta1: Float, beta2: Float, epsilon: Float) {
        (self.stepSize, self.secondCorrectionRoot) = (stepSize, secondCorrectionRoot)
        (self.beta1, self.beta2, self.epsilon) = (beta1, beta2, epsilon)
    }
}

/// The sizes of one sample of a square, stride-1 convolution.
public struct ConvolutionShape: Sendable, Equatable {
    public let inputChannels: Int
    public let height: Int
    public let width: Int
    public let outputChannels: Int
    public let kernel: Int
    public let padding: Int

    public init(inputChannels: Int, height: Int, width: Int, outputChannels: Int, kernel: Int, padding: Int) {
        precondition(padding >= 0 && padding < kernel && height + 2 * padding >= kernel && width + 2 * padding >= kernel,
                     "a \(kernel)×\(kernel) kernel with padding \(padding) does not fit \(height)×\(width)")
        (self.inputChannels, self.height, self.width) = (inputChannels, height, width)
        (self.outputChannels, self.kernel, self.padding) = (outputChannels, kernel, padding)
    }

    public var outputHeight: Int { height + 2 * padding - kernel + 1 }
    public var outputWidth: Int { width + 2 * padding - kernel + 1 }
    public var input: PlanesShape { PlanesShape(channels: inputChannels, height: height, width: width) }
    public var output: PlanesShape { PlanesShape(channels: outputChannels, height: outputHeight, width: outputWidth) }
    /// [outputChannels][inputChannels][kernel][kernel]
    public var weightCount: Int { outputChannels * inputChannels * kernel * kernel }
}

/// `channels` planes of `height`×`width` floats, row-major: one sample of an NCHW buffer.
public struct PlanesShape: Sendable, Equatable {
    public let channels: Int
    public let height: Int
    public let width: Int

    public init(channels: Int, height: Int, width: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
    }

    public var size: Int { channels * height * width }
    /// After a 2×2 max-pool, floor on odd sides.
    public var pooled: PlanesShape { PlanesShape(channels: channels, height: height / 2, width: width / 2) }
}
