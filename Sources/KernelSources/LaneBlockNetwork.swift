import CNNKernelInterface

/// The seed CNN's passes over blocks of `laneCount` samples, in this module's instruction set.
///
/// Samples are processed block by block, forward and backward per block, so one block's
/// activations (at most about 1 MB) stay in the core's cache. Every buffer is allocated once.
public final class LaneBlockNetwork: NetworkKernels {
    public static var blockSize: Int { laneCount }

    // One lane block's activations. The ReLU outputs of the convolutions are overwritten in place
    // by their gradients during the backward pass.
    static let inputLayout = PlaneLayout(channels: 1, height: 28, width: 28, border: 1)
    static let conv1Layout = PlaneLayout(channels: 8, height: 28, width: 28, border: 0)
    static let pool1Layout = PlaneLayout(channels: 8, height: 14, width: 14, border: 1)
    static let pool1GradientLayout = PlaneLayout(channels: 8, height: 14, width: 14, border: 0)
    /// Bordered because its gradient is the padded input of conv2's input-gradient convolution.
    static let conv2Layout = PlaneLayout(channels: 16, height: 14, width: 14, border: 1)
    static let pool2Layout = PlaneLayout(channels: 16, height: 7, width: 7, border: 0)

    private let input = AlignedBuffer<Lanes>(count: inputLayout.count)
    private let conv1 = AlignedBuffer<Lanes>(count: conv1Layout.count)
    private let pool1 = AlignedBuffer<Lanes>(count: pool1Layout.count)
    private let conv2 = AlignedBuffer<Lanes>(count: conv2Layout.count)
    private let pool2 = AlignedBuffer<Lanes>(count: pool2Layout.count)
    private let blockLogits = AlignedBuffer<Lanes>(count: NetworkShape.classCount)
    private let logitGradient = AlignedBuffer<Lanes>(count: NetworkShape.classCount)
    private let pool2Gradient = AlignedBuffer<Lanes>(count: pool2Layout.count)
    private let pool1Gradient = AlignedBuffer<Lanes>(count: pool1GradientLayout.count)
    private let transposeScratch = AlignedBuffer<Lanes>(count: 2 * laneCount)

    // Convolution weights in the order the kernels read them, repacked at the start of each call.
    private let conv1Packed = AlignedBuffer<Float>(count: 8 * 1 * 9)
    private let conv2Packed = AlignedBuffer<Float>(count: 16 * 8 * 9)
    private let conv2InputGradientPacked = AlignedBuffer<Float>(count: 16 * 8 * 9)

    public var stageTimes: StageTimes?

    public init() {}

    public static func peakGigaflopsPerSecond(iterations: Int, repeats: Int) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let (seconds, sink) = timeFMAChains(iterations: iterations, factor: 0.999_999, addend: 1e-7)
            // Keeps the loop alive; the chains converge to a finite value.
            precondition(sink.isFinite, "FMA chains diverged")
            best = min(best, seconds)
        }
        return Double(iterations * 12 * laneCount * 2) / best / 1e9
    }

    public func computeGradients(
        parameters: NetworkTensors, gradients: NetworkTensors, images: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>, count: Int, gradientScale: Float, logits: UnsafeMutablePointer<Float>
    ) -> Double {
        packWeights(parameters)
        var lossSum = 0.0
        forEachBlock(count: count) { first, valid in
            forwardBlock(parameters, images: images + first * NetworkShape.pixelCount, valid: valid)
            storeLogits(logits + first * NetworkShape.classCount, valid: valid)
            stage(.loss) {
                let scale = Lanes(repeating: gradientScale).replacing(with: 0, where: Self.lanes(from: valid))
                let losses = softmaxCrossEntropy(
                    logits: blockLogits.base, labels: Self.labelLanes(labels + first, valid: valid),
                    logitGradient: logitGradient.base, gradientScale: scale)
                lossSum += Self.sum(losses, valid: valid)
            }
            backwardBlock(parameters, gradients)
        }
        return lossSum
    }

    public func forward(
        parameters: NetworkTensors, images: UnsafePointer<Float>, count: Int, logits: UnsafeMutablePointer<Float>
    ) {
        packWeights(parameters)
        forEachBlock(count: count) { first, valid in
            forwardBlock(parameters, images: images + first * NetworkShape.pixelCount, valid: valid)
            storeLogits(logits + first * NetworkShape.classCount, valid: valid)
        }
    }

    public func evaluate(
        parameters: NetworkTensors, images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        logits: UnsafeMutablePointer<Float>, predictions: UnsafeMutablePointer<Int32>?
    ) -> Evaluation {
        packWeights(parameters)
        var evaluation = Evaluation(lossSum: 0, correctCount: 0)
        forEachBlock(count: count) { first, valid in
            forwardBlock(parameters, images: images + first * NetworkShape.pixelCount, valid: valid)
            storeLogits(logits + first * NetworkShape.classCount, valid: valid)
            let blockLabels = Self.labelLanes(labels + first, valid: valid)
            let losses = softmaxCrossEntropy(
                logits: blockLogits.base, labels: blockLabels, logitGradient: nil, gradientScale: .zero)
            evaluation.lossSum += Self.sum(losses, valid: valid)
            let classes = predictedClasses(logits: blockLogits.base)
            for lane in 0..<valid {
                predictions?[first + lane] = classes[lane]
                if classes[lane] == blockLabels[lane] { evaluation.correctCount += 1 }
            }
        }
        return evaluation
    }

    public func activations(parameters: NetworkTensors, image: UnsafePointer<Float>) -> LayerActivations {
        packWeights(parameters)
        forwardBlock(parameters, images: image, valid: 1)
        func firstLane(_ buffer: AlignedBuffer<Lanes>, _ layout: PlaneLayout) -> [Float] {
            var values: [Float] = []
            for channel in 0..<layout.channels {
                for row in 0..<layout.height {
                    for column in 0..<layout.width {
                        values.append(buffer.base[layout.index(channel: channel, row: row, column: column)][0])
                    }
                }
            }
            return values
        }
        return LayerActivations(
            conv1ReLU: firstLane(conv1, Self.conv1Layout), pool1: firstLane(pool1, Self.pool1Layout),
            conv2ReLU: firstLane(conv2, Self.conv2Layout), pool2: firstLane(pool2, Self.pool2Layout))
    }

    // MARK: - One lane block

    /// The forward pass of the `valid` images at `images`, up to the logits in `blockLogits`.
    private func forwardBlock(_ parameters: NetworkTensors, images: UnsafePointer<Float>, valid: Int) {
        stage(.loadImages) { loadBlock(images: images, valid: valid) }
        stage(.conv1Forward) {
            conv3x3Forward(
                input: input.base, inputLayout: Self.inputLayout, output: conv1.base, outputLayout: Self.conv1Layout,
                packedWeights: conv1Packed.base, bias: parameters.conv1Bias, applyReLU: true)
        }
        stage(.pool1Forward) {
            maxPool2x2Forward(
                input: conv1.base, inputLayout: Self.conv1Layout, output: pool1.base, outputLayout: Self.pool1Layout)
        }
        stage(.conv2Forward) {
            conv3x3Forward(
                input: pool1.base, inputLayout: Self.pool1Layout, output: conv2.base, outputLayout: Self.conv2Layout,
                packedWeights: conv2Packed.base, bias: parameters.conv2Bias, applyReLU: true)
        }
        stage(.pool2Forward) {
            maxPool2x2Forward(
                input: conv2.base, inputLayout: Self.conv2Layout, output: pool2.base, outputLayout: Self.pool2Layout)
        }
        stage(.fcForward) {
            linearForward(
                input: pool2.base, inputs: Self.pool2Layout.count, output: blockLogits.base,
                outputs: NetworkShape.classCount, weights: parameters.fc1Weight, bias: parameters.fc1Bias)
        }
    }

    /// Accumulates the block's gradient, starting from `logitGradient`, into `gradients`.
    private func backwardBlock(_ parameters: NetworkTensors, _ gradients: NetworkTensors) {
        stage(.fcBackward) {
            linearBackward(
                input: pool2.base, inputs: Self.pool2Layout.count,
                outputGradient: logitGradient.base, outputs: NetworkShape.classCount,
                weights: parameters.fc1Weight, inputGradient: pool2Gradient.base,
                weightGradient: gradients.fc1Weight, biasGradient: gradients.fc1Bias, scratch: transposeScratch.base)
        }
        stage(.pool2Backward) {
            maxPool2x2ReLUBackward(
                activation: conv2.base, inputLayout: Self.conv2Layout,
                outputGradient: pool2Gradient.base, outputLayout: Self.pool2Layout, inputGradient: conv2.base)
        }
        stage(.conv2WeightBackward) {
            conv3x3WeightBackward(
                input: pool1.base, inputLayout: Self.pool1Layout,
                outputGradient: conv2.base, outputLayout: Self.conv2Layout,
                weightGradient: gradients.conv2Weight, biasGradient: gradients.conv2Bias)
        }
        stage(.conv2InputBackward) {
            conv3x3Forward(
                input: conv2.base, inputLayout: Self.conv2Layout,
                output: pool1Gradient.base, outputLayout: Self.pool1GradientLayout,
                packedWeights: conv2InputGradientPacked.base, bias: nil, applyReLU: false)
        }
        stage(.pool1Backward) {
            maxPool2x2ReLUBackward(
                activation: conv1.base, inputLayout: Self.conv1Layout,
                outputGradient: pool1Gradient.base, outputLayout: Self.pool1GradientLayout, inputGradient: conv1.base)
        }
        stage(.conv1WeightBackward) {
            conv3x3WeightBackward(
                input: input.base, inputLayout: Self.inputLayout,
                outputGradient: conv1.base, outputLayout: Self.conv1Layout,
                weightGradient: gradients.conv1Weight, biasGradient: gradients.conv1Bias)
        }
    }

    /// Runs `body`, adding its CPU time to `stageTimes` when a benchmark is timing stages.
    @inline(__always)
    private func stage(_ stage: Stage, _ body: () -> Void) {
        guard let stageTimes else { return body() }
        let start = threadCPUSeconds()
        body()
        stageTimes.add(threadCPUSeconds() - start, to: stage)
    }

    /// Transposes `valid` sample-major images into the lanes of `input`, zero in the other lanes,
    /// `laneCount` pixels at a time.
    private func loadBlock(images: UnsafePointer<Float>, valid: Int) {
        let tile = transposeScratch.base
        for first in stride(from: 0, to: NetworkShape.pixelCount, by: laneCount) {
            for lane in 0..<laneCount {
                tile[lane] =
                    lane < valid
                    ? UnsafeRawPointer(images + lane * NetworkShape.pixelCount + first).loadUnaligned(as: Lanes.self)
                    : .zero
            }
            transposeLanes(tile, scratch: tile + laneCount)
            for offset in 0..<laneCount {
                let (row, column) = (first + offset).quotientAndRemainder(dividingBy: NetworkShape.imageSide)
                input.base[Self.inputLayout.index(channel: 0, row: row, column: column)] = tile[offset]
            }
        }
    }

    /// Stores the block's logits as `valid` rows of 10 at `rows`.
    private func storeLogits(_ rows: UnsafeMutablePointer<Float>, valid: Int) {
        for lane in 0..<valid {
            for j in 0..<NetworkShape.classCount {
                rows[lane * NetworkShape.classCount + j] = blockLogits.base[j][lane]
            }
        }
    }

    private func packWeights(_ parameters: NetworkTensors) {
        packConvolutionWeights(
            parameters.conv1Weight, outputs: 8, inputs: 1, transposedAndFlipped: false, into: conv1Packed.base)
        packConvolutionWeights(
            parameters.conv2Weight, outputs: 16, inputs: 8, transposedAndFlipped: false, into: conv2Packed.base)
        packConvolutionWeights(
            parameters.conv2Weight, outputs: 16, inputs: 8, transposedAndFlipped: true,
            into: conv2InputGradientPacked.base)
    }

    private func forEachBlock(count: Int, _ body: (_ first: Int, _ valid: Int) -> Void) {
        for first in stride(from: 0, to: count, by: laneCount) {
            body(first, min(laneCount, count - first))
        }
    }

    /// The mask of lanes at or beyond `valid`.
    private static func lanes(from valid: Int) -> SIMDMask<LaneLabels> {
        laneIndices .>= Int32(valid)
    }

    private static let laneIndices: LaneLabels = {
        var indices = LaneLabels()
        for lane in 0..<laneCount { indices[lane] = Int32(lane) }
        return indices
    }()

    private static func labelLanes(_ labels: UnsafePointer<Int32>, valid: Int) -> LaneLabels {
        var lanes = LaneLabels(repeating: -1)
        for lane in 0..<valid { lanes[lane] = labels[lane] }
        return lanes
    }

    private static func sum(_ losses: Lanes, valid: Int) -> Double {
        (0..<valid).reduce(0) { $0 + Double(losses[$1]) }
    }
}

/// The thread CPU time of `iterations` rounds of 12 independent chains of FMAs (enough to cover
/// the FMA latency) that never leave the registers, and their sum. The clock is read in here: a
/// function without side effects could be moved out from between the two readings.
@inline(never)
private func timeFMAChains(iterations: Int, factor: Float, addend: Float) -> (seconds: Double, sum: Float) {
    let start = threadCPUSeconds()
    let factor = Lanes(repeating: factor)
    let addend = Lanes(repeating: addend)
    var chains = (
        Lanes(repeating: 1), Lanes(repeating: 2), Lanes(repeating: 3), Lanes(repeating: 4),
        Lanes(repeating: 5), Lanes(repeating: 6), Lanes(repeating: 7), Lanes(repeating: 8),
        Lanes(repeating: 9), Lanes(repeating: 10), Lanes(repeating: 11), Lanes(repeating: 12)
    )
    for _ in 0..<iterations {
        chains.0 = multiplyAdd(addend, chains.0, factor)
        chains.1 = multiplyAdd(addend, chains.1, factor)
        chains.2 = multiplyAdd(addend, chains.2, factor)
        chains.3 = multiplyAdd(addend, chains.3, factor)
        chains.4 = multiplyAdd(addend, chains.4, factor)
        chains.5 = multiplyAdd(addend, chains.5, factor)
        chains.6 = multiplyAdd(addend, chains.6, factor)
        chains.7 = multiplyAdd(addend, chains.7, factor)
        chains.8 = multiplyAdd(addend, chains.8, factor)
        chains.9 = multiplyAdd(addend, chains.9, factor)
        chains.10 = multiplyAdd(addend, chains.10, factor)
        chains.11 = multiplyAdd(addend, chains.11, factor)
    }
    let sum = ((chains.0 + chains.1) + (chains.2 + chains.3)) + ((chains.4 + chains.5) + (chains.6 + chains.7))
        + ((chains.8 + chains.9) + (chains.10 + chains.11))
    return (threadCPUSeconds() - start, laneSum(sum))
}
