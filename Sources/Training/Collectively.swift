import Distributed

extension Communicator {
    /// Runs `body` on every rank and lets all of them see whether it failed anywhere: if it threw
    /// on some rank, every rank throws the error of the lowest such rank, so all stop together
    /// and rank 0 can say what went wrong where (rank and host), and all exit with its status.
    func collectively<Result>(_ body: () throws(TrainingError) -> Result) throws(TrainingError) -> Result {
        var result: Result?
        var failure: TrainingError?
        do { result = try body() } catch { failure = error }
        guard let failingRank = firstRankFailing(failure == nil) else { return result! }
        if size == 1, let failure { throw failure }
        let host = broadcast(bytes: Array((failure == nil ? "" : hostName()).utf8), root: failingRank)
        let message = broadcast(bytes: Array((failure?.description ?? "").utf8), root: failingRank)
        var status = failure?.exitStatus.rawValue ?? 0
        withUnsafeMutableBytes(of: &status) { broadcast($0, root: failingRank) }
        throw .failedOnRank(
            failingRank, host: String(decoding: host, as: UTF8.self), String(decoding: message, as: UTF8.self),
            status: ExitStatus(rawValue: status) ?? .fault)
    }
}
