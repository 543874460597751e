#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the learning rate changes over the updates of a run, after an optional linear warm-up.
public enum LearningRateDecay: String, Sendable, Equatable, CaseIterable {
    /// The base rate throughout.
    case constant
    /// Half a cosine from the base rate down to 0 at the last update of the run.
    case cosine
    /// The base rate times γ once every `stepEvery` updates.
    case step
}

/// The learning rate of every update, a pure function of the update's number, so a resumed run
/// uses exactly the rates the uninterrupted one would have.
public struct LearningRateSchedule: Sendable, Equatable {
    public var base: Float
    public var decay: LearningRateDecay
    /// Updates over which the rate rises linearly from 0 to `base`: update s ≤ N uses base·s/N.
    public var warmupSteps: Int
    /// `step` decay: updates between multiplications by `gamma`.
    public var stepEvery: Int
    public var gamma: Float
    /// The number of the run's last update, where `cosine` reaches 0.
    public var totalSteps: Int

    public init(
        base: Float, decay: LearningRateDecay = .constant, warmupSteps: Int = 0, stepEvery: Int = 1,
        gamma: Float = 1, totalSteps: Int
    ) {
        self.base = base
        self.decay = decay
        self.warmupSteps = warmupSteps
        self.stepEvery = stepEvery
        self.gamma = gamma
        self.totalSteps = totalSteps
    }

    /// The rate of update `update` (1 for the first). Computed in double precision, rounded once.
    public func rate(ofUpdate update: Int) -> Float {
        precondition(update >= 1, "updates are numbered from 1, not \(update)")
        let base = Double(self.base)
        if update <= warmupSteps { return Float(base * Double(update) / Double(warmupSteps)) }
        let afterWarmup = update - warmupSteps
        switch decay {
        case .constant:
            return self.base
        case .cosine:
            let length = totalSteps - warmupSteps
            guard length > 0 else { return self.base }
            let progress = Double(min(afterWarmup, length)) / Double(length)
            return Float(base * 0.5 * (1 + cos(Double.pi * progress)))
        case .step:
            return Float(base * pow(Double(gamma), Double((afterWarmup - 1) / stepEvery)))
        }
    }
}
