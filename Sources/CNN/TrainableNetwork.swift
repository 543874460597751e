import CNNKernelInterface
import KernelPaths

public typealias DropoutContext = CNNKernelInterface.DropoutContext

/// What the trainer needs of a network, whichever computes it (`SeedCNN`, the seed network's own
/// kernels, or `PlannedNetwork`, any plan's). Every buffer is allocated once, for up to `maxBatch`
/// samples; the parameters and gradients are one flat buffer in `modelDescription`'s tensor order.
/// Not thread-safe: one instance per thread.
public protocol TrainableNetwork: AnyObject {
    /// The parameter tensors, the input shape and the class count.
    var modelDescription: ModelDescription { get }
    /// The largest `count` any call accepts.
    var maxBatch: Int { get }
    /// The instruction set the passes run in.
    var kernelPath: KernelPath { get }

    /// Calls `body` with the parameters to read or change; valid only during the call.
    func withUnsafeMutableParameters<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result

    /// Calls `body` with the gradient of the last `computeGradients` to read or change (for
    /// example, to sum it over ranks in place); valid only during the call.
    func withUnsafeMutableGradients<Result, Failure>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result

    /// Calls `body` with [maxBatch][classCount] floats whose first `count` rows hold the logits of
    /// the last `forward`, `computeGradients` or `evaluate`; valid only during the call.
    func withUnsafeLogits<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result

    /// PyTorch's default initialisation from `SeededGenerator(seed:)`.
    func initialize(seed: UInt64)

    /// Forward, loss and backward for `count` (0...maxBatch) samples, dropout masked as `dropout`
    /// says. images: [count][inputSize]; labels: [count]. Returns Σᵢ lossᵢ (each in Float, summed
    /// in Double); the gradient is overwritten with `gradientScale · Σᵢ ∂lossᵢ/∂θ`.
    func computeGradients(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, gradientScale: Float,
        dropout: DropoutContext
    ) -> Double

    /// Declares the parameters the optimizer leaves as they are (ascending, disjoint ranges, as
    /// `Adam.update` takes them): the backward pass may then skip what only they need, the layers
    /// below the lowest layer still trained, leaving their gradient zero. Empty: every gradient.
    func freeze(_ ranges: [Range<Int>])

    /// Inference (no dropout): fills the first `count` rows of the logits.
    func forward(images: UnsafePointer<Float>, count: Int)

    /// Loss and accuracy of `count` labelled samples without gradients or dropout; each sample's
    /// predicted class (first on ties) in `predictions` if given. Also fills the logits.
    func evaluate(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, predictions: UnsafeMutablePointer<Int32>?
    ) -> Evaluation
}

extension TrainableNetwork {
    /// Calls `body` with the parameters; valid only during the call.
    public func withUnsafeParameters<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeMutableParameters { buffer throws(Failure) in try body(UnsafeBufferPointer(buffer)) }
    }

    /// Calls `body` with the gradient of the last `computeGradients`; valid only during the call.
    public func withUnsafeGradients<Result, Failure>(
        _ body: (UnsafeBufferPointer<Float>) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withUnsafeMutableGradients { buffer throws(Failure) in try body(UnsafeBufferPointer(buffer)) }
    }
}

extension SeedCNN: TrainableNetwork {
    public var modelDescription: ModelDescription { Self.modelDescription }

    /// The seed network's fused backward pass computes every gradient; the optimizer leaves the
    /// frozen ones alone.
    public func freeze(_ ranges: [Range<Int>]) {}

    /// The seed network has no dropout layer: the context changes nothing.
    public func computeGradients(
        images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int, gradientScale: Float,
        dropout: DropoutContext
    ) -> Double {
        computeGradients(images: images, labels: labels, count: count, gradientScale: gradientScale)
    }
}

extension Adam {
    /// One update of `model`'s parameters from its gradients at `learningRate`, leaving the
    /// parameters in `frozen` (ascending, disjoint ranges) as they are.
    public mutating func update(_ model: some TrainableNetwork, learningRate: Float, frozen: [Range<Int>] = []) {
        model.withUnsafeMutableParameters { parameters in
            model.withUnsafeGradients { gradients in
                update(parameters: parameters, gradients: gradients, learningRate: learningRate, frozen: frozen)
            }
        }
    }
}

extension ModelPlan {
    /// The network that computes this plan fastest: the seed network's specialised kernels
    /// (`SeedCNN`, about three times as fast as the general layers on it) for the seed plan, and
    /// `PlannedNetwork` for any other. Both start with all parameters zero.
    public func makeNetwork(maxBatch: Int, kernelPath: KernelPath = .active) -> any TrainableNetwork {
        self == ParameterLayout.seedPlan
            ? SeedCNN(maxBatch: maxBatch, kernelPath: kernelPath)
            : PlannedNetwork(plan: self, maxBatch: maxBatch, kernelPath: kernelPath)
    }
}
