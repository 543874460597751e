import Distributed

/// Every collective, with values whose sums are exact in floating point, so any wrong or missing
/// contribution shows as an inequality.
func checkCollectives(_ communicator: MPICommunicator) -> [String] {
    var failures: [String] = []
    let rank = communicator.rank
    let size = communicator.size
    func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { failures.append(message()) }
    }

    // The gradient buffer's size, and a value pattern unique to each rank.
    var gradient = (0..<9_098).map { Float(rank + 1) + Float($0 % 64) * 0.5 }
    gradient.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
    let rankSum = Float(size * (size + 1) / 2)
    let wrongSum = gradient.indices.first { gradient[$0] != rankSum + Float(size) * Float($0 % 64) * 0.5 }
    check(wrongSum == nil, "float all-reduce: element \(wrongSum ?? 0) is \(gradient[wrongSum ?? 0])")

    var counts = [Double(rank), 1]
    communicator.allReduceSum(&counts)
    check(counts == [Double(size * (size - 1) / 2), Double(size)], "scalar all-reduce sum gave \(counts)")

    var maxima = [Double(rank), -Double(rank)]
    communicator.allReduceMax(&maxima)
    check(maxima == [Double(size - 1), 0], "scalar all-reduce max gave \(maxima)")

    // A fixed order on every rank: a Set would iterate differently in each process and deadlock.
    for root in size > 1 ? [0, size - 1] : [0] {
        var parameters = [Float](repeating: rank == root ? 3.25 : -1, count: 9_098)
        parameters.withUnsafeMutableBufferPointer { communicator.broadcast($0, root: root) }
        check(parameters.allSatisfy { $0 == 3.25 }, "broadcast from rank \(root) did not arrive")
    }

    let message: [UInt8] = rank == 0 ? Array("checkpoint state".utf8) : []
    let received = communicator.broadcast(bytes: message, root: 0)
    check(received == Array("checkpoint state".utf8), "byte broadcast gave \(received.count) bytes")

    check(communicator.allAgree(true), "allAgree(true) was false")
    check(!communicator.allAgree(rank != size - 1), "allAgree missed a failing rank")
    let failing = communicator.firstRankFailing(rank == 0 || rank == 2 ? size < 2 : true)
    check(failing == (size < 2 ? nil : 0), "firstRankFailing gave \(String(describing: failing))")
    check(communicator.firstRankFailing(rank != size - 1) == size - 1, "firstRankFailing missed the last rank")

    // Odd and even ranks in two groups, ranked from the top down: sums within each group only.
    let group = communicator.split(color: rank % 2, key: -rank)
    let members = stride(from: rank % 2, to: size, by: 2).map { $0 }
    var memberSum = [Double(rank)]
    group.allReduceSum(&memberSum)
    check(group.size == members.count, "split group of rank \(rank) has \(group.size) ranks, not \(members.count)")
    check(group.rank == members.filter { $0 > rank }.count, "split ranked rank \(rank) as \(group.rank)")
    check(memberSum == [Double(members.reduce(0, +))], "all-reduce within the split group gave \(memberSum)")

    communicator.barrier()
    return failures
}
