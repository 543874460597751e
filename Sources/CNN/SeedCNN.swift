import CNNKernelInterface
import KernelPaths

public typealias Evaluation = CNNKernelInterface.Evaluation
public typealias LayerActivations = CNNKernelInterface.LayerActivations

/// The PyTorch tutorial CNN for MNIST, exact to float32 rounding:
/// Conv2d(1→8, 3×3, pad 1) → ReLU → MaxPool 2×2 → Conv2d(8→16, 3×3, pad 1) → ReLU → MaxPool 2×2
/// → flatten → Linear(784→10), trained with mean softmax cross-entropy.
///
/// The passes run on one `KernelPath`, the instruction set's own compilation of the kernels.
/// Every buffer is allocated once, for up to `maxBatch` samples, so training steps never allocate.
/// Not thread-safe: one instance per thread.
public final class SeedCNN {
    /// The parameters, one 1×28×28 image in, 10 classes out.
    public static let modelDescription = ModelDescription(
        tensors: ParameterLayout.tensors, inputShape: [1, NetworkShape.imageSide, NetworkShape.imageSide],
        classCount: NetworkShape.classCount)
    public static let imageSide = NetworkShape.imageSide
    public static let classCount = NetworkShape.classCount
    static let pixelCount = NetworkShape.pixelCount

    /// The largest `count` any call accepts.
    public let maxBatch: Int

    /// The instruction set the passes run in.
    public let kernelPath: KernelPath

    private let kernels: any NetworkKernels
    private let parameterStorage = AlignedBuffer<Float>(count: ParameterLayout.count)
    private let gradientStorage = AlignedBuffer<Float>(count: ParameterLayout.count)
    /// [maxBatch][10]
    private let logitStorage: AlignedBuffer<Float>

    /// A network whose buffers hold up to `maxBatch` samples, with all parameters zero, running on
    /// `kernelPath` (which this CPU must support).
    public init(maxBatch: Int, kernelPath: KernelPath = .active) {
        precondition(maxBatch > 0, "maxBatch must be positive")
        precondition(kernelPath.isSupported, "this CPU does not support the \(kernelPath) kernels")
        self.maxBatch = maxBatch
        self.kernelPath = kernelPath
        kernels = kernelPath.kernels.init()
        logitStorage = AlignedBuffer(count: maxBatch * Self.classCount)
    }

    /// Set by `KernelBenchmark` to time each stage of the block pipeline; nil otherwise.
    var stageTimes: StageTimes? {
        get { kernels.stageTimes }
        set { kernels.stageTimes = newValue }
    }

    // MARK: - The network's state

    /// Calls `body` with the parameters, `ParameterLayout.count` floats in `ParameterLayout` order.
    /// The buffer is valid only during the call.
    public func withUnsafeParameters<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lend(parameterStorage) { buffer throws(Failure) in try body(UnsafeBufferPointer(buffer)) }
    }

    /// Calls `body` with the parameters to read or change; valid only during the call.
    public func withUnsafeMutableParameters<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lend(parameterStorage, to: body)
    }

    /// Calls `body` with the gradient of the last `computeGradients`, in the layout of the
    /// parameters; valid only during the call.
    public func withUnsafeGradients<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lend(gradientStorage) { buffer throws(Failure) in try body(UnsafeBufferPointer(buffer)) }
    }

    /// Calls `body` with the gradient to change (for example, to sum it over ranks in place).
    public func withUnsafeMutableGradients<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lend(gradientStorage, to: body)
    }

    /// Calls `body` with [maxBatch][10] floats whose first `count` rows hold the logits of the last
    /// `forward`, `computeGradients` or `evaluate`; valid only during the call.
    public func withUnsafeLogits<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try lend(logitStorage) { buffer throws(Failure) in try body(UnsafeBufferPointer(buffer)) }
    }

    /// Calls `body` with the whole of `storage`, the one way the accessors above lend a buffer.
    private func lend<Result, Failure>(
        _ storage: AlignedBuffer<Float>, to body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    /// PyTorch's default initialisation: every weight and bias uniform in ±1/√fanIn (fan-in 9, 72
    /// and 784), drawn in `ParameterLayout` order from `SeededGenerator(seed:)`.
    public func initialize(seed: UInt64) {
        initializeLikePyTorch(ParameterLayout.tensors, parameters: parameterStorage.base, seed: seed)
    }

    // MARK: - Passes

    /// Forward, loss and backward for `count` samples (0...maxBatch).
    ///
    /// - Parameters:
    ///   - images: [count][1][28][28] floats in [0, 1].
    ///   - labels: [count] classes in 0..<10.
    ///   - gradientScale: the factor applied to the summed gradient: 1/count gives PyTorch's
    ///     mean-loss gradient; 1/globalBatch lets a sum over data-parallel ranks give the mean.
    /// - Returns: Σᵢ lossᵢ, the cross-entropy summed (not averaged) over the samples, each
    ///   computed in Float and summed in Double. The gradient is overwritten with
    ///   `gradientScale · Σᵢ ∂lossᵢ/∂θ`; `count` 0 gives 0 and zero gradients.
    @discardableResult
    public func computeGradients(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, gradientScale: Float
    ) -> Double {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        gradientStorage.base.update(repeating: 0, count: gradientStorage.count)
        return kernels.computeGradients(
            parameters: Self.tensors(in: parameterStorage), gradients: Self.tensors(in: gradientStorage),
            images: images, labels: labels, count: count, gradientScale: gradientScale, logits: logitStorage.base)
    }

    /// Inference: fills the first `count` (0...maxBatch) rows of the logits.
    /// images: [count][1][28][28].
    public func forward(images: UnsafePointer<Float>, count: Int) {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        kernels.forward(
            parameters: Self.tensors(in: parameterStorage), images: images, count: count, logits: logitStorage.base)
    }

    /// Loss and accuracy of `count` (0...maxBatch) labelled samples, without gradients.
    ///
    /// - Parameters:
    ///   - images: [count][1][28][28]; labels: [count].
    ///   - predictions: if given, [count] receives each sample's predicted class (the argmax of
    ///     its logits, first on ties).
    /// Also fills the first `count` rows of the logits.
    public func evaluate(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        predictions: UnsafeMutablePointer<Int32>? = nil
    ) -> Evaluation {
        precondition((0...maxBatch).contains(count), "count \(count) outside 0...\(maxBatch)")
        return kernels.evaluate(
            parameters: Self.tensors(in: parameterStorage), images: images, labels: labels, count: count,
            logits: logitStorage.base, predictions: predictions)
    }

    /// The activations of one image in PyTorch's layout, for checking against a reference.
    public func activations(image: UnsafePointer<Float>) -> LayerActivations {
        kernels.activations(parameters: Self.tensors(in: parameterStorage), image: image)
    }

    /// Where each tensor lies in a buffer laid out as `ParameterLayout`.
    private static func tensors(in buffer: AlignedBuffer<Float>) -> NetworkTensors {
        func start(_ tensor: ParameterTensor) -> UnsafeMutablePointer<Float> { buffer.base + tensor.range.lowerBound }
        return NetworkTensors(
            conv1Weight: start(ParameterLayout.conv1Weight), conv1Bias: start(ParameterLayout.conv1Bias),
            conv2Weight: start(ParameterLayout.conv2Weight), conv2Bias: start(ParameterLayout.conv2Bias),
            fc1Weight: start(ParameterLayout.fc1Weight), fc1Bias: start(ParameterLayout.fc1Bias))
    }
}
