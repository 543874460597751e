import SeededRandom

/// The PyTorch tutorial CNN for MNIST, exact to float32 rounding:
/// Conv2d(1→8, 3×3, pad 1) → ReLU → MaxPool 2×2 → Conv2d(8→16, 3×3, pad 1) → ReLU → MaxPool 2×2
/// → flatten → Linear(784→10), trained with mean softmax cross-entropy.
///
/// Every buffer is allocated once, for up to `maxBatch` samples, so training steps never allocate.
/// Samples are processed in blocks of 16, forward and backward per block, so one block's
/// activations (about 1 MB) stay in the core's cache. Not thread-safe: one instance per thread.
public final class SeedCNN {
    public static let imageSide = 28
    public static let classCount = 10
    static let pixelCount = imageSide * imageSide

    /// The largest `count` any call accepts.
    public let maxBatch: Int

    /// The parameters, `ParameterLayout.count` floats in `ParameterLayout` order.
    public var parameters: UnsafeMutableBufferPointer<Float> { parameterStorage.buffer }

    /// The gradient of the last `computeGradients`, in the same layout as `parameters`.
    public var gradients: UnsafeMutableBufferPointer<Float> { gradientStorage.buffer }

    /// [maxBatch][10]: the first `count` rows hold the logits of the last `forward`,
    /// `computeGradients` or `evaluate`.
    public var logits: UnsafeBufferPointer<Float> { UnsafeBufferPointer(logitStorage.buffer) }

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
    private let blockLogits = AlignedBuffer<Lanes>(count: classCount)
    private let logitGradient = AlignedBuffer<Lanes>(count: classCount)
    private let pool2Gradient = AlignedBuffer<Lanes>(count: pool2Layout.count)
    private let pool1Gradient = AlignedBuffer<Lanes>(count: pool1GradientLayout.count)
    private let transposeScratch = AlignedBuffer<Lanes>(count: 2 * laneCount)

    // Convolution weights in the order the kernels read them, repacked at the start of each call.
    private let conv1Packed = AlignedBuffer<Float>(count: ParameterLayout.conv1Weight.range.count)
    private let conv2Packed = AlignedBuffer<Float>(count: ParameterLayout.conv2Weight.range.count)
    private let conv2InputGradientPacked = AlignedBuffer<Float>(count: ParameterLayout.conv2Weight.range.count)

    private let parameterStorage = AlignedBuffer<Float>(count: ParameterLayout.count)
    private let gradientStorage = AlignedBuffer<Float>(count: ParameterLayout.count)
    private let logitStorage: AlignedBuffer<Float>

    /// Set by `KernelBenchmark` to time each stage of the block pipeline; nil otherwise.
    var stageTimes: StageTimes?

    /// A network whose buffers hold up to `maxBatch` samples, with all parameters zero.
    public init(maxBatch: Int) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        self.maxBatch = maxBatch
        logitStorage = AlignedBuffer(count: maxBatch * Self.classCount)
    }

    /// PyTorch's default initialisation: every weight and bias uniform in ±1/√fanIn (fan-in 9, 72
    /// and 784), drawn in `ParameterLayout` order from `SeededGenerator(seed:)`.
    public func initialize(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for tensor in ParameterLayout.tensors {
            let bound = Float(1 / Double(tensor.fanIn).squareRoot())
            for index in tensor.range {
                parameters[index] = generator.nextFloat(symmetricBound: bound)
            }
        }
    }

    /// Forward, loss and backward for `count` samples (0...maxBatch).
    ///
    /// - Parameters:
    ///   - images: [count][1][28][28] floats in [0, 1].
    ///   - labels: [count] classes in 0..<10.
    ///   - gradientScale: the factor applied to the summed gradient: 1/count gives PyTorch's
    ///     mean-loss gradient; 1/globalBatch lets a sum over data-parallel ranks give the mean.
    /// - Returns: Σᵢ lossᵢ, the cross-entropy summed (not averaged) over the samples, each
    ///   computed in Float and summed in Double. `gradients` is overwritten with
    ///   `gradientScale · Σᵢ ∂lossᵢ/∂θ`; `count` 0 gives 0 and zero gradients.
    @discardableResult
    public func computeGradients(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, gradientScale: Float
    ) -> Double {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        gradients.update(repeating: 0)
        packWeights()
        var lossSum = 0.0
        forEachBlock(count: count) { first, valid in
            forwardBlock(images: images + first * Self.pixelCount, firstRow: first, valid: valid)
            stage(.loss) {
                let scale = Lanes(repeating: gradientScale).replacing(with: 0, where: Self.lanes(from: valid))
                let losses = softmaxCrossEntropy(
                    logits: blockLogits.base, labels: Self.labelLanes(labels + first, valid: valid),
                    logitGradient: logitGradient.base, gradientScale: scale)
                lossSum += Self.sum(losses, valid: valid)
            }
            backwardBlock()
        }
        return lossSum
    }

    /// Inference: fills the first `count` (0...maxBatch) rows of `logits`.
    /// images: [count][1][28][28].
    public func forward(images: UnsafePointer<Float>, count: Int) {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        packWeights()
        forEachBlock(count: count) { first, valid in
            forwardBlock(images: images + first * Self.pixelCount, firstRow: first, valid: valid)
        }
    }

    /// Loss and accuracy of `count` (0...maxBatch) labelled samples, without gradients.
    ///
    /// - Parameters:
    ///   - images: [count][1][28][28]; labels: [count].
    ///   - predictions: if given, [count] receives each sample's predicted class (the argmax of
    ///     its logits, first on ties).
    /// Also fills the first `count` rows of `logits`.
    public func evaluate(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        predictions: UnsafeMutablePointer<Int32>? = nil
    ) -> Evaluation {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        packWeights()
        var evaluation = Evaluation(lossSum: 0, correctCount: 0)
        forEachBlock(count: count) { first, valid in
            forwardBlock(images: images + first * Self.pixelCount, firstRow: first, valid: valid)
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

    /// The activations of one image in PyTorch's layout, for checking against a reference.
    /// Runs the forward pass on it alone, so it overwrites the first row of `logits`.
    public func activations(image: UnsafePointer<Float>) -> LayerActivations {
        forward(images: image, count: 1)
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

    /// The forward pass of the `valid` images at `images`, their logits stored from `firstRow`.
    private func forwardBlock(images: UnsafePointer<Float>, firstRow: Int, valid: Int) {
        stage(.loadImages) { loadBlock(images: images, valid: valid) }
        stage(.conv1Forward) {
            conv3x3Forward(
                input: input.base, inputLayout: Self.inputLayout, output: conv1.base, outputLayout: Self.conv1Layout,
                packedWeights: conv1Packed.base, bias: parameter(ParameterLayout.conv1Bias), applyReLU: true)
        }
        stage(.pool1Forward) {
            maxPool2x2Forward(
                input: conv1.base, inputLayout: Self.conv1Layout, output: pool1.base, outputLayout: Self.pool1Layout)
        }
        stage(.conv2Forward) {
            conv3x3Forward(
                input: pool1.base, inputLayout: Self.pool1Layout, output: conv2.base, outputLayout: Self.conv2Layout,
                packedWeights: conv2Packed.base, bias: parameter(ParameterLayout.conv2Bias), applyReLU: true)
        }
        stage(.pool2Forward) {
            maxPool2x2Forward(
                input: conv2.base, inputLayout: Self.conv2Layout, output: pool2.base, outputLayout: Self.pool2Layout)
        }
        stage(.fcForward) {
            linearForward(
                input: pool2.base, inputs: Self.pool2Layout.count, output: blockLogits.base, outputs: Self.classCount,
                weights: parameter(ParameterLayout.fc1Weight), bias: parameter(ParameterLayout.fc1Bias))
            storeLogits(firstRow: firstRow, valid: valid)
        }
    }

    /// Accumulates the block's gradient, starting from `logitGradient`, into `gradients`.
    private func backwardBlock() {
        stage(.fcBackward) {
            linearBackward(
                input: pool2.base, inputs: Self.pool2Layout.count,
                outputGradient: logitGradient.base, outputs: Self.classCount,
                weights: parameter(ParameterLayout.fc1Weight), inputGradient: pool2Gradient.base,
                weightGradient: gradient(ParameterLayout.fc1Weight), biasGradient: gradient(ParameterLayout.fc1Bias),
                scratch: transposeScratch.base)
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
                weightGradient: gradient(ParameterLayout.conv2Weight), biasGradient: gradient(ParameterLayout.conv2Bias))
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
                weightGradient: gradient(ParameterLayout.conv1Weight), biasGradient: gradient(ParameterLayout.conv1Bias))
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
    /// 16 pixels at a time.
    private func loadBlock(images: UnsafePointer<Float>, valid: Int) {
        let tile = transposeScratch.base
        for first in stride(from: 0, to: Self.pixelCount, by: laneCount) {
            for lane in 0..<laneCount {
                tile[lane] =
                    lane < valid
                    ? UnsafeRawPointer(images + lane * Self.pixelCount + first).loadUnaligned(as: Lanes.self)
                    : .zero
            }
            transpose16x16(tile, scratch: tile + laneCount)
            for offset in 0..<laneCount {
                let (row, column) = (first + offset).quotientAndRemainder(dividingBy: Self.imageSide)
                input.base[Self.inputLayout.index(channel: 0, row: row, column: column)] = tile[offset]
            }
        }
    }

    private func storeLogits(firstRow: Int, valid: Int) {
        for lane in 0..<valid {
            for j in 0..<Self.classCount {
                logitStorage.base[(firstRow + lane) * Self.classCount + j] = blockLogits.base[j][lane]
            }
        }
    }

    private func packWeights() {
        let weights1 = parameter(ParameterLayout.conv1Weight)
        let weights2 = parameter(ParameterLayout.conv2Weight)
        packConvolutionWeights(weights1, outputs: 8, inputs: 1, transposedAndFlipped: false, into: conv1Packed.base)
        packConvolutionWeights(weights2, outputs: 16, inputs: 8, transposedAndFlipped: false, into: conv2Packed.base)
        packConvolutionWeights(
            weights2, outputs: 16, inputs: 8, transposedAndFlipped: true, into: conv2InputGradientPacked.base)
    }

    private func forEachBlock(count: Int, _ body: (_ first: Int, _ valid: Int) -> Void) {
        for first in stride(from: 0, to: count, by: laneCount) {
            body(first, min(laneCount, count - first))
        }
    }

    private func parameter(_ tensor: ParameterTensor) -> UnsafeMutablePointer<Float> {
        parameters.baseAddress! + tensor.range.lowerBound
    }

    private func gradient(_ tensor: ParameterTensor) -> UnsafeMutablePointer<Float> {
        gradients.baseAddress! + tensor.range.lowerBound
    }

    /// The mask of lanes at or beyond `valid`.
    private static func lanes(from valid: Int) -> SIMDMask<SIMD16<Int32>> {
        SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= Int32(valid)
    }

    private static func labelLanes(_ labels: UnsafePointer<Int32>, valid: Int) -> SIMD16<Int32> {
        var lanes = SIMD16<Int32>(repeating: -1)
        for lane in 0..<valid { lanes[lane] = labels[lane] }
        return lanes
    }

    private static func sum(_ losses: Lanes, valid: Int) -> Double {
        (0..<valid).reduce(0) { $0 + Double(losses[$1]) }
    }
}

/// The steps of one lane block's forward and backward pass, in order.
enum Stage: Int, CaseIterable {
    case loadImages, conv1Forward, pool1Forward, conv2Forward, pool2Forward, fcForward, loss
    case fcBackward, pool2Backward, conv2WeightBackward, conv2InputBackward, pool1Backward, conv1WeightBackward
}

/// Loss and accuracy over a set of labelled samples.
public struct Evaluation: Sendable, Equatable {
    /// Σ of the per-sample cross-entropies.
    public var lossSum: Double
    /// How many samples' predicted class equals their label.
    public var correctCount: Int
}

/// One image's activations, each flattened in PyTorch's [channels][height][width] order.
public struct LayerActivations: Sendable {
    /// [8][28][28]
    public let conv1ReLU: [Float]
    /// [8][14][14]
    public let pool1: [Float]
    /// [16][14][14]
    public let conv2ReLU: [Float]
    /// [16][7][7]
    public let pool2: [Float]
}

/// A zero-filled buffer aligned to a cache line, freed with its owner.
final class AlignedBuffer<Element> {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<Element>.stride, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Element>.stride)
        base = raw.bindMemory(to: Element.self, capacity: count)
    }

    var buffer: UnsafeMutableBufferPointer<Element> { UnsafeMutableBufferPointer(start: base, count: count) }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
