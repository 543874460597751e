/// How many samples each rank takes per optimizer step.
public enum BatchSize: Sendable, Equatable {
    /// Every rank takes this many samples per step (PyTorch DDP's convention), so the global
    /// batch grows with the number of ranks: weak scaling.
    case perRank(Int)
    /// The ranks share this many samples per step, the first `global % ranks` ranks taking one
    /// more than the others: strong scaling.
    case global(Int)
    /// The sizes of each rank, as a checkpoint records them.
    case explicit([Int])

    /// Each rank's share for a world of `worldSize` ranks.
    public func perRankSizes(worldSize: Int) -> [Int] {
        switch self {
        case .perRank(let size):
            return Array(repeating: size, count: worldSize)
        case .global(let total):
            return (0..<worldSize).map { total / worldSize + ($0 < total % worldSize ? 1 : 0) }
        case .explicit(let sizes):
            precondition(sizes.count == worldSize, "\(sizes.count) batch sizes for \(worldSize) ranks")
            return sizes
        }
    }
}

/// Recorded in checkpoints as `{"per_rank": 60}`, `{"global": 240}` or `{"explicit": [60, 60]}`.
extension BatchSize: Codable {
    private enum CodingKeys: String, CodingKey {
        case perRank = "per_rank", global, explicit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let size = try container.decodeIfPresent(Int.self, forKey: .perRank) {
            self = .perRank(size)
        } else if let size = try container.decodeIfPresent(Int.self, forKey: .global) {
            self = .global(size)
        } else {
            self = .explicit(try container.decode([Int].self, forKey: .explicit))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .perRank(let size): try container.encode(size, forKey: .perRank)
        case .global(let size): try container.encode(size, forKey: .global)
        case .explicit(let sizes): try container.encode(sizes, forKey: .explicit)
        }
    }
}

/// Everything that decides what a training run computes and where it writes.
public struct TrainingConfiguration: Sendable, Equatable, Codable {
    public var epochs = 10
    public var batchSize = BatchSize.perRank(60)
    public var learningRate: Float = 1e-3
    public var seed: UInt64 = 0
    public var dataDirectory = "data/mnist"
    public var checkpointDirectory = "checkpoints"
    /// Epochs between checkpoints; a checkpoint is always written when training ends.
    public var checkpointEvery = 1
    /// How many of the newest checkpoints to keep.
    public var keep = 3
    /// A checkpoint file, or a directory whose newest checkpoint to resume from.
    public var resume: String?
    /// Model weights to start from, with a fresh optimizer.
    public var initFrom: String?
    public var shuffle = true
    /// Stop once the optimizer has taken this many steps in all (resumed steps included).
    public var maxSteps: Int?
    /// Epochs between test-set evaluations; the end of training is always evaluated.
    public var evalEvery = 1
    /// A JSON-lines file receiving one object per logged step and per epoch.
    public var metricsPath: String?
    /// Steps between progress records.
    public var logEvery = 100
    public var quiet = false
    /// Steps between checks that every rank holds the same parameters; nil for none.
    public var consistencyCheckEvery: Int?

    public init() {}

    /// Refuses options that cannot describe a run, before any work; the same verdict on every rank.
    public func validate(worldSize: Int) throws(TrainingError) {
        func refuse(_ message: String) -> TrainingError { .invalidOption(message) }
        guard epochs >= 1 else { throw refuse("--epochs must be at least 1, got \(epochs)") }
        switch batchSize {
        case .perRank(let size):
            guard size >= 1 else { throw refuse("--batch-size must be at least 1, got \(size)") }
        case .global(let size):
            guard size >= worldSize else {
                throw refuse("--global-batch-size \(size) is smaller than the \(worldSize) ranks: every rank needs a sample per step")
            }
        case .explicit(let sizes):
            guard sizes.count == worldSize, sizes.allSatisfy({ $0 >= 1 }) else {
                throw refuse("batch sizes \(sizes) do not give each of the \(worldSize) ranks at least one sample")
            }
        }
        guard learningRate.isFinite, learningRate > 0 else {
            throw refuse("--lr must be a positive finite number, got \(learningRate)")
        }
        guard checkpointEvery >= 1 else { throw refuse("--checkpoint-every must be at least 1 epoch, got \(checkpointEvery)") }
        guard keep >= 1 else { throw refuse("--keep must be at least 1, got \(keep)") }
        if let maxSteps, maxSteps < 1 { throw refuse("--max-steps must be at least 1, got \(maxSteps)") }
        guard evalEvery >= 1 else { throw refuse("--eval-every must be at least 1 epoch, got \(evalEvery)") }
        guard logEvery >= 1 else { throw refuse("--log-every must be at least 1 step, got \(logEvery)") }
        if let every = consistencyCheckEvery, every < 1 {
            throw refuse("--check-consistency must be at least 1 step, got \(every)")
        }
        if resume != nil && initFrom != nil {
            throw refuse("--resume and --init-from exclude each other: resume continues a run, init-from starts a new one")
        }
    }
}
