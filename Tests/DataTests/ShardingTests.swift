import Data
import Testing

@Suite("Sharding the training set among ranks")
struct ShardingTests {
    @Test(arguments: [1, 2, 3, 7, 60000])
    func shardsCoverEveryIndexOnceInRankOrderWithSizesWithinOne(worldSize: Int) {
        let total = 60000
        let shards = (0 ..< worldSize).map { Sharding.range(of: total, rank: $0, worldSize: worldSize) }
        #expect(shards.first?.lowerBound == 0)
        #expect(shards.last?.upperBound == total)
        #expect(zip(shards, shards.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let sizes = shards.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
    }

    @Test func firstRanksTakeTheRemainder() {
        let sizes = (0 ..< 7).map { Sharding.range(of: 60000, rank: $0, worldSize: 7).count }
        #expect(sizes == [8572, 8572, 8572, 8571, 8571, 8571, 8571])
    }

    @Test func moreRanksThanSamplesLeavesTheLastShardsEmpty() {
        let shards = (0 ..< 4).map { Sharding.range(of: 2, rank: $0, worldSize: 4) }
        #expect(shards == [0 ..< 1, 1 ..< 2, 2 ..< 2, 2 ..< 2])
    }
}
