import SeededRandom

/// The order in which one rank visits the samples of its shard during one epoch. It depends only
/// on (seed, epoch, rank), so every run and every machine visits them in the same order.
public struct EpochOrder: Sendable {
    /// Positions in the shard, 0..<sampleCount, in visiting order.
    public let positions: [Int]

    /// A Fisher–Yates shuffle drawn from `SeededGenerator(seed: seed, stream: [epoch, rank])`,
    /// or the identity order when `shuffled` is false.
    public init(sampleCount: Int, seed: UInt64, epoch: Int, rank: Int, shuffled: Bool) {
        precondition(sampleCount >= 0 && epoch >= 0 && rank >= 0, "counts and indices must not be negative")
        var positions = Array(0 ..< sampleCount)
        if shuffled {
            var generator = SeededGenerator(seed: seed, stream: [UInt64(epoch), UInt64(rank)])
            generator.shuffle(&positions)
        }
        self.positions = positions
    }

    /// The number of batches of `batchSize`, the last of which may be short.
    public func batchCount(batchSize: Int) -> Int {
        precondition(batchSize > 0, "batch size must be positive")
        return (positions.count + batchSize - 1) / batchSize
    }

    /// The positions making up batch `batch` (0..<batchCount) of `batchSize`.
    public func batch(_ batch: Int, batchSize: Int) -> ArraySlice<Int> {
        precondition((0 ..< batchCount(batchSize: batchSize)).contains(batch), "batch \(batch) does not exist")
        let start = batch * batchSize
        return positions[start ..< min(start + batchSize, positions.count)]
    }
}
