import CNNKernelInterface
import KernelPaths

/// Any sequential network, as its `ModelPlan` describes it, on one `KernelPath`'s layer kernels.
///
/// Every buffer is allocated once, for up to `maxBatch` samples: each layer's output and the
/// gradient with respect to it ([maxBatch][layer.outputSize]; the last layer's output is the
/// logits), and the convolutions' scratch. A pass runs layer after layer over the whole batch,
/// but for fusions that save a pass over a batch of activations each: a ReLU right after a
/// convolution is applied by the convolution to each sample's output while it is in cache (the
/// ReLU's output is the convolution's buffer); the backward pass of a ReLU right before a
/// max-pool is the pool's (the gradient it routes is kept only where the maximum is positive),
/// and that of a ReLU right before a convolution the convolution's (to each sample's input
/// gradient while it is in cache); flatten's output and its gradient are its input's buffers.
/// Not thread-safe: one instance per thread.
public final class PlannedNetwork: TrainableNetwork {
    public let plan: ModelPlan
    public let maxBatch: Int
    public let kernelPath: KernelPath
    public let modelDescription: ModelDescription

    private let kernels: any LayerKernels.Type
    private let parameterStorage: AlignedBuffer<Float>
    private let gradientStorage: AlignedBuffer<Float>
    /// Per layer: its output, and the gradient of the loss with respect to it.
    private let outputs: [AlignedBuffer<Float>]
    /// Per layer: a ReLU computed by the convolution before it, and one whose backward pass the
    /// max-pool or the convolution after it computes.
    private let reluInConvolution: [Bool]
    private let reluInPoolBackward: [Bool]
    private let reluInConvolutionBackward: [Bool]
    private let outputGradients: [AlignedBuffer<Float>]
    /// [maxBatch] predicted classes, for `evaluate` when the caller does not ask for them.
    private let predictionStorage: AlignedBuffer<Int32>
    /// Enough for the convolution that needs the most.
    private let convolutionScratch: AlignedBuffer<Float>

    /// A network of `plan` whose buffers hold up to `maxBatch` samples, with all parameters zero,
    /// running on `kernelPath` (which this CPU must support).
    public init(plan: ModelPlan, maxBatch: Int, kernelPath: KernelPath = .active) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        precondition(kernelPath.isSupported, "this CPU does not support the \(kernelPath) kernels")
        precondition((try? plan.check(batch: maxBatch)) != nil, "a batch of \(maxBatch) needs more activation memory than allowed")
        self.plan = plan
        modelDescription = plan.modelDescription
        self.maxBatch = maxBatch
        self.kernelPath = kernelPath
        kernels = kernelPath.layerKernels
        parameterStorage = AlignedBuffer(count: plan.parameterCount)
        gradientStorage = AlignedBuffer(count: plan.parameterCount)
        let layers = plan.layers
        func isReLU(_ index: Int) -> Bool { if case .relu = layers[index].kind { true } else { false } }
        func isFlatten(_ index: Int) -> Bool { if case .flatten = layers[index].kind { index > 0 } else { false } }
        reluInConvolution = layers.indices.map { isReLU($0) && $0 > 0 && layers[$0 - 1].convolutionShape != nil }
        reluInPoolBackward = layers.indices.map { index in
            guard isReLU(index), index + 1 < layers.count, case .maxPool = layers[index + 1].kind else { return false }
            return true
        }
        reluInConvolutionBackward = layers.indices.map {
            isReLU($0) && $0 + 1 < layers.count && layers[$0 + 1].convolutionShape != nil
        }
        var outputs: [AlignedBuffer<Float>] = []
        var outputGradients: [AlignedBuffer<Float>] = []
        for (index, layer) in layers.enumerated() {
            let sharesOutput = reluInConvolution[index] || isFlatten(index)
            outputs.append(sharesOutput ? outputs[index - 1] : AlignedBuffer(count: maxBatch * layer.outputSize))
            outputGradients.append(isFlatten(index) ? outputGradients[index - 1] : AlignedBuffer(count: maxBatch * layer.outputSize))
        }
        (self.outputs, self.outputGradients) = (outputs, outputGradients)
        let scratchCount = plan.layers.compactMap(\.convolutionShape).map(kernels.convolutionScratchCount).max() ?? 0
        convolutionScratch = AlignedBuffer(count: scratchCount)
        predictionStorage = AlignedBuffer(count: maxBatch)
    }

    /// The lowest layer whose parameters are trained: the backward pass stops there, since no
    /// gradient below it is used (0 unless `freeze` says otherwise).
    private var lowestTrainedLayer = 0

    /// Set by `KernelBenchmark` to time each layer's passes; nil otherwise.
    var passTimes: PassTimes?

    // MARK: - The network's state

    public func withUnsafeMutableParameters<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeMutableBufferPointer(start: parameterStorage.base, count: parameterStorage.count))
    }

    public func withUnsafeMutableGradients<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeMutableBufferPointer(start: gradientStorage.base, count: gradientStorage.count))
    }

    public func withUnsafeLogits<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeBufferPointer(start: logits, count: maxBatch * plan.classCount))
    }

    /// PyTorch's default initialisation: every weight and bias uniform in ±1/√fanIn, drawn in the
    /// plan's tensor order, as `SeedCNN` draws the seed network's.
    public func initialize(seed: UInt64) {
        initializeLikePyTorch(modelDescription.tensors, parameters: parameterStorage.base, seed: seed)
    }

    /// With conv1 and conv2 frozen under a new head (transfer learning), the backward pass runs
    /// the head alone, which is most of what freezing is for.
    public func freeze(_ ranges: [Range<Int>]) {
        func isFrozen(_ tensor: ParameterTensor) -> Bool {
            ranges.contains { $0.lowerBound <= tensor.range.lowerBound && tensor.range.upperBound <= $0.upperBound }
        }
        lowestTrainedLayer = plan.layers.firstIndex { !$0.tensors.allSatisfy(isFrozen) && !$0.tensors.isEmpty }
            ?? plan.layers.count
    }

    // MARK: - Passes

    @discardableResult
    public func computeGradients(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, gradientScale: Float,
        dropout: DropoutContext
    ) -> Double {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        gradientStorage.base.update(repeating: 0, count: gradientStorage.count)
        runForward(images: images, count: count, dropout: dropout)
        var lossSum = 0.0
        timed(.loss) {
            lossSum = kernels.softmaxCrossEntropy(
                classes: plan.classCount, logits: logits, labels: labels, count: count,
                logitGradient: outputGradients[plan.layers.count - 1].base, gradientScale: gradientScale, predictions: nil)
        }
        runBackward(images: images, count: count, dropout: dropout)
        return lossSum
    }

    public func forward(images: UnsafePointer<Float>, count: Int) {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        runForward(images: images, count: count, dropout: nil)
    }

    public func evaluate(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        predictions: UnsafeMutablePointer<Int32>? = nil
    ) -> Evaluation {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        runForward(images: images, count: count, dropout: nil)
        let predicted = predictions ?? predictionStorage.base
        let lossSum = kernels.softmaxCrossEntropy(
            classes: plan.classCount, logits: logits, labels: labels, count: count, logitGradient: nil,
            gradientScale: 0, predictions: predicted)
        let correctCount = (0..<count).reduce(0) { $0 + (predicted[$1] == labels[$1] ? 1 : 0) }
        return Evaluation(lossSum: lossSum, correctCount: correctCount)
    }

    private var logits: UnsafeMutablePointer<Float> { outputs[plan.layers.count - 1].base }

    /// The input of layer `index`: the images, or the previous layer's output.
    private func input(of index: Int, images: UnsafePointer<Float>) -> UnsafePointer<Float> {
        index == 0 ? images : UnsafePointer(outputs[index - 1].base)
    }

    private func parameters(of layer: ModelPlan.Layer) -> (weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        (parameterStorage.base + layer.tensors[0].range.lowerBound, parameterStorage.base + layer.tensors[1].range.lowerBound)
    }

    private func gradients(of layer: ModelPlan.Layer) -> (weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>) {
        (gradientStorage.base + layer.tensors[0].range.lowerBound, gradientStorage.base + layer.tensors[1].range.lowerBound)
    }

    /// Every layer's output for `count` samples; dropout only with a context (training).
    private func runForward(images: UnsafePointer<Float>, count: Int, dropout: DropoutContext?) {
        for (index, layer) in plan.layers.enumerated() {
            let source = input(of: index, images: images)
            let target = outputs[index].base
            let inputSize = layer.inputShape.reduce(1, *)
            timed(.forward(layer: index)) {
                switch layer.kind {
                case .convolution:
                    let (weight, bias) = parameters(of: layer)
                    kernels.convolutionForward(
                        layer.convolutionShape!, input: source, weight: weight, bias: bias, output: target, count: count,
                        rectified: index + 1 < plan.layers.count && reluInConvolution[index + 1],
                        scratch: convolutionScratch.base)
                case .relu:
                    // After a convolution, done by it, in this very buffer.
                    if !reluInConvolution[index] {
                        kernels.reluForward(input: source, output: target, elements: count * inputSize)
                    }
                case .maxPool:
                    kernels.maxPoolForward(layer.inputPlanes!, input: source, output: target, count: count)
                case .dropout(let probability):
                    if let dropout {
                        kernels.dropoutForward(
                            dropout.mask(probability: probability, layer: index), input: source, output: target,
                            sampleSize: inputSize, count: count)
                    } else {
                        target.update(from: source, count: count * inputSize)
                    }
                case .flatten:
                    // The input's buffer after the first layer; the images are copied.
                    if index == 0 { target.update(from: source, count: count * inputSize) }
                case .linear:
                    let (weight, bias) = parameters(of: layer)
                    kernels.linearForward(
                        inputs: inputSize, outputs: layer.outputSize, input: source, weight: weight, bias: bias,
                        output: target, count: count)
                }
            }
        }
    }

    /// From the logits' gradient down to the lowest trained layer: every trained parameter's
    /// gradient, and the input gradient of every layer above that one.
    private func runBackward(images: UnsafePointer<Float>, count: Int, dropout: DropoutContext) {
        for (index, layer) in plan.layers.enumerated().reversed() where index >= lowestTrainedLayer {
            let source = input(of: index, images: images)
            let outputGradient = UnsafePointer(outputGradients[index].base)
            let inputGradient = inputGradientTarget(of: index, throughReLU: false)
            let inputSize = layer.inputShape.reduce(1, *)
            timed(.backward(layer: index)) {
                switch layer.kind {
                case .convolution:
                    let (weight, _) = parameters(of: layer)
                    let (weightGradient, biasGradient) = gradients(of: layer)
                    // After a ReLU whose backward pass it computes, the input gradient goes to that ReLU's input.
                    let rectified = index > 0 && reluInConvolutionBackward[index - 1]
                    kernels.convolutionBackward(
                        layer.convolutionShape!, input: source, weight: weight, outputGradient: outputGradient,
                        inputGradient: inputGradientTarget(of: index, throughReLU: rectified),
                        rectifiedInput: rectified, weightGradient: weightGradient, biasGradient: biasGradient,
                        count: count, scratch: convolutionScratch.base)
                case .linear:
                    let (weight, _) = parameters(of: layer)
                    let (weightGradient, biasGradient) = gradients(of: layer)
                    kernels.linearBackward(
                        inputs: inputSize, outputs: layer.outputSize, input: source, weight: weight,
                        outputGradient: outputGradient, inputGradient: inputGradient, weightGradient: weightGradient,
                        biasGradient: biasGradient, count: count)
                case .relu:
                    // Before a max-pool or a convolution, done by its backward pass.
                    guard let inputGradient, !reluInPoolBackward[index], !reluInConvolutionBackward[index] else { break }
                    kernels.reluBackward(
                        output: outputs[index].base, outputGradient: outputGradient, inputGradient: inputGradient,
                        elements: count * inputSize)
                case .maxPool:
                    // After a ReLU whose backward pass it computes, the gradient goes to that ReLU's input.
                    let rectified = index > 0 && reluInPoolBackward[index - 1]
                    guard let target = inputGradientTarget(of: index, throughReLU: rectified) else { break }
                    kernels.maxPoolBackward(
                        layer.inputPlanes!, input: source, output: outputs[index].base, outputGradient: outputGradient,
                        inputGradient: target, count: count, rectified: rectified)
                case .dropout(let probability):
                    guard let inputGradient else { break }
                    kernels.dropoutBackward(
                        dropout.mask(probability: probability, layer: index), outputGradient: outputGradient,
                        inputGradient: inputGradient, sampleSize: inputSize, count: count)
                case .flatten:
                    // The gradient is already in its input's gradient: they are one buffer.
                    break
                }
            }
        }
    }

    /// Where layer `index`'s backward pass writes the gradient of its input: nowhere at the lowest
    /// trained layer or below; past a ReLU whose backward pass it computes (`throughReLU`), to
    /// that ReLU's input gradient (nowhere if the ReLU is the first layer).
    private func inputGradientTarget(of index: Int, throughReLU: Bool) -> UnsafeMutablePointer<Float>? {
        guard index > lowestTrainedLayer else { return nil }
        guard throughReLU else { return outputGradients[index - 1].base }
        return index > 1 ? outputGradients[index - 2].base : nil
    }

    /// Runs `body`, adding its CPU time to `passTimes` when a benchmark is timing the passes.
    @inline(__always)
    private func timed(_ pass: PassTimes.Pass, _ body: () -> Void) {
        guard let passTimes else { return body() }
        let start = threadCPUSeconds()
        body()
        passTimes.add(threadCPUSeconds() - start, to: pass)
    }
}

/// CPU time accumulated per layer and pass of a `PlannedNetwork`, for `KernelBenchmark`.
final class PassTimes {
    enum Pass {
        case forward(layer: Int)
        case loss
        case backward(layer: Int)
    }

    private(set) var forward: [Double]
    private(set) var loss = 0.0
    private(set) var backward: [Double]

    init(layers: Int) {
        forward = Array(repeating: 0, count: layers)
        backward = Array(repeating: 0, count: layers)
    }

    func add(_ seconds: Double, to pass: Pass) {
        switch pass {
        case .forward(let layer): forward[layer] += seconds
        case .loss: loss += seconds
        case .backward(let layer): backward[layer] += seconds
        }
    }
}
