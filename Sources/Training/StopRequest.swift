import CRunControl

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A request to stop training early, by SIGINT, SIGTERM or SIGUSR1 (Ctrl-C, a scheduler's
/// preemption or time limit, Slurm's `--signal` warning) on any rank.
///
/// The handler only records the signal. Each rank offers what it caught in the loss all-reduce
/// every step already makes, so all ranks learn of a request at the same step and stop together,
/// without a collective of their own.
public struct StopRequest: Equatable, Sendable {
    /// The exit status of a run that stopped on a signal: sysexits' EX_TEMPFAIL ("try again
    /// later"), distinct from every error's, so that a batch script can tell it should requeue.
    public static let exitCode = ExitStatus.stopped.rawValue

    /// The signals that stop a run, in the order of their digits in `offer`.
    static let signals: [(number: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGUSR1, "SIGUSR1")]
    /// Each signal counts the ranks that caught it in its own base-2^17 digit of one Double: the
    /// sum over ranks is then exact (below 2^53) for up to 2^17 − 1 ranks.
    private static let digitBase = 131_072.0

    /// Installs the handlers; from then on the first of these signals is recorded, not fatal.
    public static func catchSignals() {
        crun_catch_stop_signals()
    }

    /// What this rank adds to the step's all-reduce: 0 when it caught no signal.
    static func offer() -> Double {
        let caught = crun_stop_signal()
        guard let digit = signals.firstIndex(where: { $0.number == caught }) else { return 0 }
        return pow(digitBase, Double(digit))
    }

    /// The names of the signals caught on any rank, in signal order.
    public let signalNames: [String]

    /// The request summed over all ranks' offers, or nil when no rank caught a signal.
    init?(summedOffers: Double) {
        var rest = summedOffers
        var names: [String] = []
        for (digit, signal) in Self.signals.enumerated().reversed() {
            let unit = pow(Self.digitBase, Double(digit))
            if rest >= unit {
                names.insert(signal.name, at: 0)
                rest = rest.truncatingRemainder(dividingBy: unit)
            }
        }
        guard !names.isEmpty else { return nil }
        signalNames = names
    }
}

/// Where a run stopped on a signal, and how to go on from there.
public struct StoppedRun: Sendable {
    public let request: StopRequest
    /// Steps taken in all when it stopped.
    public let step: Int
    /// The epoch it stopped in (counted from 0) and the steps of it taken.
    public let epoch: Int
    public let stepInEpoch: Int
    public let stepsPerEpoch: Int
    /// The checkpoint of `step`, written by rank 0.
    public let checkpointPath: String?

    /// One line: what stopped the run, at which step, the checkpoint, and how to resume.
    public var description: String {
        let signals = request.signalNames.joined(separator: " and ")
        let place = stepInEpoch == 0
            ? "at the end of epoch \(epoch)" : "in epoch \(epoch + 1), step \(stepInEpoch) of \(stepsPerEpoch)"
        let checkpoint = checkpointPath.map { "checkpoint \($0); continue with --resume \($0) (or --auto-resume)" }
            ?? "no checkpoint written"
        return "stopped by \(signals) after step \(step) (\(place)); \(checkpoint)"
    }
}
