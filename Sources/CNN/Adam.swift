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
public struct Adam: Sendable {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float

    /// The number of updates taken so far (PyTorch's `step`, t).
    public var step = 0
    /// m, one per parameter.
    public var firstMoment: [Float]
    /// v, one per parameter.
    public var secondMoment: [Float]

    /// An optimizer at step 0 with zero moments for `parameterCount` parameters.
    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        firstMoment = Array(repeating: 0, count: parameterCount)
        secondMoment = Array(repeating: 0, count: parameterCount)
    }

    /// One update of `parameters` from `gradients` (both `parameterCount` floats) at
    /// `learningRate`, in one pass. The parameters in `frozen` (ascending, disjoint ranges) are
    /// skipped: neither they nor their moments change.
    public mutating func update(
        parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>, learningRate: Float,
        frozen: [Range<Int>] = []
    ) {
        precondition(
            parameters.count == firstMoment.count && gradients.count == firstMoment.count,
            "Adam holds \(firstMoment.count) moments, given \(parameters.count) parameters and \(gradients.count) gradients")
        step += 1
        // As PyTorch, the bias corrections are computed in double precision and rounded once.
        let stepSize = Lanes(repeating: Float(Double(learningRate) / (1 - pow(Double(beta1), Double(step)))))
        let correction2Root = Lanes(repeating: Float((1 - pow(Double(beta2), Double(step))).squareRoot()))
        let firstWeight = Lanes(repeating: 1 - beta1)
        let secondDecay = Lanes(repeating: beta2)
        let secondWeight = Lanes(repeating: 1 - beta2)
        let epsilon = Lanes(repeating: epsilon)
        firstMoment.withUnsafeMutableBufferPointer { firstMoment in
            secondMoment.withUnsafeMutableBufferPointer { secondMoment in
                let p = UnsafeMutableRawPointer(parameters.baseAddress!)
                let g = UnsafeRawPointer(gradients.baseAddress!)
                let m = UnsafeMutableRawPointer(firstMoment.baseAddress!)
                let v = UnsafeMutableRawPointer(secondMoment.baseAddress!)
                func updateParameters(_ range: Range<Int>) {
                    for start in stride(from: range.lowerBound, to: range.upperBound, by: laneCount) {
                        let offset = start * MemoryLayout<Float>.stride
                        let valid = min(laneCount, range.upperBound - start)
                        let gradient = loadLanes(g + offset, valid: valid)
                        var first = loadLanes(m + offset, valid: valid)
                        var second = loadLanes(v + offset, valid: valid)
                        first += firstWeight * (gradient - first)
                        second = second * secondDecay + secondWeight * gradient * gradient
                        let denominator = second.squareRoot() / correction2Root + epsilon
                        let parameter = loadLanes(p + offset, valid: valid) - stepSize * first / denominator
                        storeLanes(first, m + offset, valid: valid)
                        storeLanes(second, v + offset, valid: valid)
                        storeLanes(parameter, p + offset, valid: valid)
                    }
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

/// Parameters updated together; the arithmetic is lanewise, so the width only sets the speed.
private typealias Lanes = SIMD16<Float>
private let laneCount = Lanes.scalarCount

/// The first `valid` floats at `source` (zero beyond), as one vector.
@inline(__always)
private func loadLanes(_ source: UnsafeRawPointer, valid: Int) -> Lanes {
    if valid == laneCount { return source.loadUnaligned(as: Lanes.self) }
    var values = Lanes.zero
    for lane in 0..<valid { values[lane] = source.load(fromByteOffset: lane * 4, as: Float.self) }
    return values
}

/// Stores the first `valid` lanes of `values` at `target`.
@inline(__always)
private func storeLanes(_ values: Lanes, _ target: UnsafeMutableRawPointer, valid: Int) {
    if valid == laneCount { return target.storeBytes(of: values, as: Lanes.self) }
    for lane in 0..<valid { target.storeBytes(of: values[lane], toByteOffset: lane * 4, as: Float.self) }
}
