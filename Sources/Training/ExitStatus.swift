/// How mnist-ddp ends, for people and for launchers that restart failed jobs. A fault (status 1,
/// or any status not listed here, such as 137 for a rank killed by SIGKILL) comes from the job's
/// processes, hosts or network, which a restart from the newest checkpoint may outlive; every
/// other non-zero status would recur on a restart, or was asked for.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    /// The run finished as its options asked.
    case finished = 0
    /// A fault: a rank or node lost, a stall ended by the watchdog, an internal error.
    case fault = 1
    /// The options are wrong (swift-argument-parser's usage status).
    case usage = 64
    /// Data, a checkpoint or another input is missing, malformed or does not fit.
    case badInput = 65
    /// Training diverged: the loss or the parameters stopped being finite or sensible.
    case diverged = 66
    /// An output (a checkpoint, metrics, logs) cannot be written: a full disk, no permission.
    case cannotWrite = 73
    /// A signal stopped the run after a checkpoint; resuming continues it.
    case stopped = 75

    /// Whether a job that ended with `status` (a process's, or mpirun's) failed with a fault,
    /// which a restart may outlive.
    public static func isFault(_ status: Int32) -> Bool {
        guard status != 0 else { return false }
        return ExitStatus(rawValue: status).map { $0 == .fault } ?? true
    }
}
