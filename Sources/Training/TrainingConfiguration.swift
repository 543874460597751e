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

/// Everything that decides what a training run computes and where it writes.
public struct TrainingConfiguration: Sendable, Equatable {
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
    /// Resume from the newest checkpoint in the checkpoint directory when it holds one, and
    /// start fresh when it holds none.
    public var autoResume = false
    /// Delete the checkpoints in the checkpoint directory and start fresh.
    public var overwrite = false
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
        let starts = [(resume != nil, "--resume"), (autoResume, "--auto-resume"), (overwrite, "--overwrite")]
            .filter(\.0).map(\.1)
        if starts.count > 1 {
            throw refuse("\(starts.joined(separator: " and ")) exclude each other: --resume continues the run in the checkpoint directory, --auto-resume continues it if there is one, --overwrite deletes it")
        }
        if resume != nil && initFrom != nil {
            throw refuse("--resume and --init-from exclude each other: resume continues a run, init-from starts a new one")
        }
    }

    /// The whole configuration as a JSON object, as checkpoints record it.
    var json: String {
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func optional(_ value: Int?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        let batch: JSONValue = switch batchSize {
        case .perRank(let size): .object([("per_rank", .integer(size))])
        case .global(let size): .object([("global", .integer(size))])
        case .explicit(let sizes): .object([("explicit", .array(sizes.map(JSONValue.integer)))])
        }
        return JSONValue.object([
            ("epochs", .integer(epochs)), ("batch_size", batch), ("lr", .float(learningRate)),
            ("seed", .string(String(seed))), ("data_dir", .string(dataDirectory)),
            ("checkpoint_dir", .string(checkpointDirectory)), ("checkpoint_every", .integer(checkpointEvery)),
            ("keep", .integer(keep)), ("resume", optional(resume)), ("auto_resume", .bool(autoResume)),
            ("overwrite", .bool(overwrite)), ("init_from", optional(initFrom)),
            ("shuffle", .bool(shuffle)), ("max_steps", optional(maxSteps)), ("eval_every", .integer(evalEvery)),
            ("metrics", optional(metricsPath)), ("log_every", .integer(logEvery)), ("quiet", .bool(quiet)),
            ("check_consistency", optional(consistencyCheckEvery)),
        ]).json
    }
}
