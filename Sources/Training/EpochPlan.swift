import Data

/// Which samples every rank takes at each step of an epoch, known to every rank without any
/// communication: shards and batch sizes follow from the sample count and the world size alone.
///
/// All ranks take the same number of steps, enough for the largest shard; a rank whose shard is
/// used up takes empty batches until the epoch ends. So no sample is dropped or repeated, and no
/// rank ever waits in a collective the others skipped.
public struct EpochPlan: Sendable, Equatable {
    /// Each rank's shard of the training set.
    public let shards: [Range<Int>]
    /// Each rank's samples per step.
    public let batchSizes: [Int]
    public let stepsPerEpoch: Int

    public init(sampleCount: Int, worldSize: Int, batchSize: BatchSize) {
        shards = (0..<worldSize).map { Sharding.range(of: sampleCount, rank: $0, worldSize: worldSize) }
        batchSizes = batchSize.perRankSizes(worldSize: worldSize)
        stepsPerEpoch = zip(shards, batchSizes).map { ($0.count + $1 - 1) / $1 }.max() ?? 0
    }

    /// The positions, within `rank`'s epoch order, of the samples it takes at `step` (possibly none).
    public func positions(step: Int, rank: Int) -> Range<Int> {
        let size = batchSizes[rank]
        let start = min(step * size, shards[rank].count)
        return start..<min(start + size, shards[rank].count)
    }

    /// The number of samples all ranks together take at `step`: the divisor of the global mean.
    public func globalSampleCount(step: Int) -> Int {
        shards.indices.reduce(0) { $0 + positions(step: step, rank: $1).count }
    }

    /// The place, in the batch all ranks together take at `step`, of `rank`'s first sample: the
    /// samples of the ranks before it, in rank order.
    public func globalIndexOfFirstSample(step: Int, rank: Int) -> Int {
        (0 ..< rank).reduce(0) { $0 + positions(step: step, rank: $1).count }
    }

    /// The largest number of samples any rank takes in one step.
    public var largestBatch: Int { batchSizes.max() ?? 0 }
}

/// Where training stands: the next optimizer step to take, and where it falls in the data order.
public struct TrainingPosition: Sendable, Equatable {
    /// Optimizer steps taken so far.
    public var step: Int
    /// The epoch (from 0) the next step belongs to.
    public var epoch: Int
    /// The next step's index within its epoch.
    public var stepInEpoch: Int

    public init(step: Int, epoch: Int, stepInEpoch: Int) {
        self.step = step
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
    }

    public static let start = TrainingPosition(step: 0, epoch: 0, stepInEpoch: 0)

    /// The number (from 1) of the update taken at this position in a run that followed `plan`
    /// from its start: `step + 1` for such a run. A run resumed under another plan (another world
    /// size or batch) took its earlier updates at another pace, so its schedule is read here
    /// instead: from the same point of training, to the same end, the run's last update.
    public func update(in plan: EpochPlan) -> Int {
        epoch * plan.stepsPerEpoch + stepInEpoch + 1
    }

    /// The same point of training under another epoch plan (a resume at another world size or
    /// batch): the same step count and epoch, and the same fraction of the epoch done.
    public func mapped(from old: EpochPlan, to new: EpochPlan) -> TrainingPosition {
        guard old != new, old.stepsPerEpoch > 0 else { return self }
        let inEpoch = stepInEpoch * new.stepsPerEpoch / old.stepsPerEpoch
        return TrainingPosition(step: step, epoch: epoch, stepInEpoch: inEpoch)
    }
}
