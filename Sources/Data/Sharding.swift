/// How a data set is split among the ranks of a data-parallel job.
public enum Sharding {
    /// The contiguous share of `0..<total` that `rank` of `worldSize` owns. Shares differ in size
    /// by at most one: the first `total % worldSize` ranks take one extra sample.
    public static func range(of total: Int, rank: Int, worldSize: Int) -> Range<Int> {
        precondition(total >= 0, "total must not be negative")
        precondition(worldSize > 0 && (0 ..< worldSize).contains(rank), "rank \(rank) is outside a world of \(worldSize)")
        let (base, extra) = total.quotientAndRemainder(dividingBy: worldSize)
        let start = rank * base + min(rank, extra)
        return start ..< start + base + (rank < extra ? 1 : 0)
    }
}
