import CRunControl

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ends the whole job when this rank has made no progress for `timeout` seconds: a rank that
/// stopped, or a network partition, otherwise leaves every rank waiting in a collective forever
/// (spinning at full CPU, as Open MPI's collectives do).
///
/// A thread of its own checks the age of the process's progress stamp a few times a second, so
/// it fires even while the training thread is blocked in MPI. It prints
/// `PROGRAM: error: rank R on HOST: no progress for N s (…)` and calls `abort` (MPI_Abort, which
/// has mpirun end every rank); if that has not ended the process `exitGrace` seconds later, as
/// when the network to mpirun is down too, it `_exit`s. One watchdog per process: the progress
/// stamp is process-wide.
public final class StallWatchdog: @unchecked Sendable {
    /// The exit status of a process the watchdog ends: 1, which launchers that restart failed
    /// jobs count as a fault (Training's `ExitStatus.fault`; this layer knows nothing of training).
    public static let exitCode: Int32 = 1
    public let timeout: Double
    private let exitGrace: Double
    /// The line it prints, up to the timeout.
    private let linePrefix: String
    private let abort: (Int32) -> Never
    private var thread: pthread_t?
    private var stopRequested = false
    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    /// Starts watching; progress is counted from now.
    /// - Parameters:
    ///   - timeout: seconds without progress that end the job (> 0).
    ///   - rank, host: how the message names this process.
    ///   - abort: ends the job (`Communicator.abort`).
    public init(
        timeout: Double, rank: Int, host: String, exitGrace: Double = 5,
        abort: @escaping (Int32) -> Never
    ) {
        precondition(timeout > 0, "a stall timeout must be positive")
        self.timeout = timeout
        self.exitGrace = exitGrace
        self.abort = abort
        let program = CommandLine.arguments.first?.split(separator: "/").last.map { "\($0): " } ?? ""
        linePrefix = "\(program)error: rank \(rank) on \(host): no progress for "
        pthread_mutex_init(lock, nil)
        progress()
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            Unmanaged<StallWatchdog>.fromOpaque(context!).takeRetainedValue().watch()
            return nil
        }, context)
        precondition(created == 0, "cannot start the stall watchdog thread: error \(created)")
        self.thread = thread
    }

    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Marks that training moved on (a step completed, a phase of start-up ended).
    public func progress() {
        crun_mark_progress()
    }

    /// Stops watching and waits for the thread to end (at most one polling interval).
    public func stop() {
        guard let thread else { return }
        pthread_mutex_lock(lock)
        stopRequested = true
        pthread_mutex_unlock(lock)
        pthread_join(thread, nil)
        self.thread = nil
    }

    private var shouldStop: Bool {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return stopRequested
    }

    private func watch() {
        // Checks ten times per timeout, at least every second: fires within 10 % of it.
        let interval = min(timeout / 10, 1)
        while !shouldStop {
            sleep(seconds: interval)
            let idle = crun_seconds_since_progress()
            guard idle >= timeout, !shouldStop else { continue }
            // The threshold crossed, not the idle time: the watchdog may wake a little after it.
            let line = linePrefix + "\(Int(timeout)) s (a rank stalled, or the network is partitioned)\n"
            _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
            startExitBackstop()
            abort(Self.exitCode)
        }
    }

    /// A second thread that `_exit`s after `exitGrace` seconds, in case MPI_Abort cannot reach
    /// the launcher and never returns.
    private func startExitBackstop() {
        var thread = pthread_t()
        let grace = UnsafeMutablePointer<Double>.allocate(capacity: 1)
        grace.pointee = exitGrace
        _ = pthread_create(&thread, nil, { context in
            let grace = context!.assumingMemoryBound(to: Double.self)
            sleep(seconds: grace.pointee)
            _exit(StallWatchdog.exitCode)
        }, grace)
    }
}

private func sleep(seconds: Double) {
    var interval = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
    var left = timespec()
    // A signal (a stop request) interrupts the sleep: sleep on for what is left.
    while nanosleep(&interval, &left) != 0 && errno == EINTR { interval = left }
}
