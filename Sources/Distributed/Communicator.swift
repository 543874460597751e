/// The collectives data-parallel training needs, over a group of `size` processes.
///
/// Every collective must be called by every rank in the same order with the same element count;
/// that is the caller's contract, as in MPI itself.
public protocol Communicator: AnyObject {
    /// This process's index in the group, 0..<size.
    var rank: Int { get }
    /// The number of processes in the group.
    var size: Int { get }

    /// Replaces `buffer` on every rank with the element-wise sum over all ranks.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Replaces `values` on every rank with the element-wise sum over all ranks (counts, losses).
    func allReduceSum(_ values: inout [Double])
    /// Replaces `values` on every rank with the element-wise maximum over all ranks.
    func allReduceMax(_ values: inout [Double])
    /// Copies `bytes` from rank `root` into `bytes` on every other rank.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int)
    /// Splits the group into subgroups (`MPI_Comm_split`): ranks passing the same `color` form
    /// one, ordered by `key`, then by rank. Collective: every rank calls it.
    func split(color: Int, key: Int) -> any Communicator
    /// Blocks until every rank has reached the barrier.
    func barrier()
    /// Ends every process of the job at once with `code`; for errors after which ranks could
    /// otherwise wait forever in a collective that one of them will never enter.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// Whether this process is rank 0, the one that evaluates, checkpoints and logs.
    public var isRoot: Bool { rank == 0 }

    /// Copies a `Float` buffer from `root` to every rank.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        broadcast(UnsafeMutableRawBufferPointer(buffer), root: root)
    }

    /// Sends a byte string of any length from `root` to every rank: first its length, then its
    /// bytes. Other ranks pass anything (usually `[]`); every rank returns root's bytes.
    public func broadcast(bytes: [UInt8], root: Int) -> [UInt8] {
        var length = UInt64(bytes.count)
        withUnsafeMutableBytes(of: &length) { broadcast($0, root: root) }
        var received = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        received.withUnsafeMutableBytes { broadcast($0, root: root) }
        return received
    }

    /// True on every rank when `condition` holds on every rank; one collective, so ranks agree
    /// on whether to go on (for example after each rank has tried to load its data).
    public func allAgree(_ condition: Bool) -> Bool {
        var failures = [condition ? 0.0 : 1.0]
        allReduceSum(&failures)
        return failures[0] == 0
    }

    /// The lowest rank for which `condition` is false, or nil when it holds everywhere.
    public func firstRankFailing(_ condition: Bool) -> Int? {
        // Each rank offers -rank when failing and -size (below any rank's) when not; the maximum
        // is then minus the lowest failing rank.
        var flag = [condition ? -Double(size) : -Double(rank)]
        allReduceMax(&flag)
        return flag[0] == -Double(size) ? nil : Int(-flag[0])
    }
}
