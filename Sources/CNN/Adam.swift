import CNNKernelInterface
import KernelPaths
#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// Adam with PyTorch's semantics and rounding order (`torch.optim.Adam`, single-tensor path):
///
///     m ← m + (1−β₁)(g − m)                 (lerp)
///     v ← β₂ v + (1−β₂) g²
///     p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
///
/// The learning rate is given to each update, so a schedule can change it from step to step.
/// The state (`step`, `firstMoment`, `secondMoment`) is public so a checkpoint can restore it.
/// The update runs on a kernel path's vectors (`LayerKernels.adamUpdate`), whose sqrt and
/// divisions are as wide as its registers; no operation is fused, so every path agrees to the bit.
public struct Adam: Sendable {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// The instruction set the update runs in.
    public let kernelPath: KernelPath

    /// The number of updates taken so far (PyTorch's `step`, t).
    public var step = 0
    /// m, one per parameter.
    public var firstMoment: [Float]
    /// v, one per parameter.
    public var secondMoment: [Float]

    /// An optimizer at step 0 with zero moments for `parameterCount` parameters, updating on
    /// `kernelPath` (which this CPU must support).
    public init(
        parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
        kernelPath: KernelPath = .active
    ) {
        precondition(kernelPath.isSupported, "this CPU does not support the \(kernelPath) kernels")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.kernelPath = kernelPath
        firstMoment = Array(repeating: 0, count: parameterCount)
        secondMoment = Array(repeating: 0, count: parameterCount)
    }

    /// One update of `parameters` from `gradients` (both `parameterCount` floats) at
    /// `learningRate`, in one pass on `kernelPath`'s vectors (the same result on every path). The
    /// parameters in `frozen` (ascending, disjoint ranges) are skipped: neither they nor their
    /// moments change.
    public mutating func update(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, learningRate: Float,
        frozen: [Range<Int>] = []
    ) {
        precondition(
            parameters.count == firstMoment.count && gradients.count == firstMoment.count,
            "Adam holds \(firstMoment.count) moments, given \(parameters.count) parameters and \(gradients.count) gradients")
        step += 1
        // As PyTorch, the bias corrections are computed in double precision and rounded once.
        let coefficients = AdamCoefficients(
            stepSize: Float(Double(learningRate) / (1 - pow(Double(beta1), Double(step)))),
            secondCorrectionRoot: Float((1 - pow(Double(beta2), Double(step))).squareRoot()),
            beta1: beta1, beta2: beta2, epsilon: epsilon)
        let kernels = kernelPath.layerKernels
        firstMoment.withUnsafeMutableBufferPointer { firstMoment in
            secondMoment.withUnsafeMutableBufferPointer { secondMoment in
                func updateParameters(_ range: Range<Int>) {
                    guard !range.isEmpty else { return }
                    kernels.adamUpdate(
                        coefficients, parameters: parameters.baseAddress! + range.lowerBound,
                        gradients: gradients.baseAddress! + range.lowerBound,
                        firstMoment: firstMoment.baseAddress! + range.lowerBound,
                        secondMoment: secondMoment.baseAddress! + range.lowerBound, count: range.count)
                }
                var start = 0
                for range in frozen {
                    updateParameters(start..<max(start, range.lowerBound))
                    start = range.upperBound
                }
                updateParameters(start..<parameters.count)
            }
        }
    }
}
