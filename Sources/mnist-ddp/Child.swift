import Foundation
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a job's standard error said about how it failed, read as it passes through.
final class JobLog: @unchecked Sendable {
    private let lock = NSLock()
    private var firstFailure: Double?
    private var firstCause: String?

    /// When the first line that announces a failure was seen (monotonic seconds), or nil.
    var failureSeen: Double? { lock.withLock { firstFailure } }
    /// The failure in the job's own words: the first error line of ours, else mpirun's account
    /// of the rank that ended.
    var cause: String? { lock.withLock { firstCause } }

    /// What each kind of line says, by the words that mark it.
    private static let ourError = "mnist-ddp: error: "
    private static let rankEnded = "mpirun noticed that process rank "
    private static let failureMarks = [ourError, rankEnded, "MPI_ABORT was invoked", "lost communication with a remote daemon",
                                       "unable to reliably start one or more daemons"]

    func read(line: Substring) {
        let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.failureMarks.contains(where: line.contains) else { return }
        lock.withLock {
            firstFailure = firstFailure ?? monotonicSeconds()
            if firstCause == nil, let range = line.range(of: Self.ourError) {
                firstCause = String(line[range.upperBound...])
            } else if firstCause == nil, let range = line.range(of: Self.rankEnded) {
                // "mpirun noticed that process rank 1 with PID 123 on node node2 exited on signal 9 (Killed)."
                let words = line[range.upperBound...].split(separator: " ")
                if words.count > 8, words[1] == "with", words[4] == "on", words[5] == "node" {
                    firstCause = "rank \(words[0]) on \(words[6]) \(words[7...].joined(separator: " "))"
                    if firstCause!.hasSuffix(".") { firstCause!.removeLast() }
                }
            }
        }
    }
}

/// A command run in a process group of its own, so that it and everything it started can be
/// signalled and ended together; its standard error passes through `log` unless it is quiet.
final class Child {
    let pid: pid_t
    let log = JobLog()
    private var status: Int32?
    /// Signalled when the standard-error reader has read to the end.
    private let outputRead = DispatchSemaphore(value: 0)
    private let quiet: Bool

    /// Starts `arguments` (looked up in PATH), its standard input empty; a quiet one's output is
    /// dropped.
    init(_ arguments: [String], quiet: Bool) throws {
        self.quiet = quiet
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignalsBlocked = sigset_t()
        sigemptyset(&noSignalsBlocked)
        posix_spawnattr_setsigmask(&attributes, &noSignalsBlocked)
        // The launcher ignores the stop signals it counts; the child gets their default back.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        for (number, _) in StopSignals.caught { sigaddset(&stopSignals, number) }
        posix_spawnattr_setsigdefault(&attributes, &stopSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // mpirun forwards its standard input to rank 0; in a process group of its own it would be
        // stopped for reading a terminal.
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pipeEnds: [Int32] = [-1, -1]
        if quiet {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            guard pipe(&pipeEnds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            // Only the child's standard error holds the write end: the pipe ends when it does.
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
        }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        if !quiet { close(pipeEnds[1]) }
        guard spawned == 0 else {
            if !quiet { close(pipeEnds[0]) }
            throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO)
        }
        self.pid = pid
        if !quiet { passStandardError(from: pipeEnds[0]) }
    }

    /// Copies the child's standard error to ours line by line, and lets `log` read each line.
    private func passStandardError(from descriptor: Int32) {
        let log = log
        let done = outputRead
        Thread.detachNewThread {
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex...newline]
                    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                    log.read(line: Substring(decoding: line, as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty {
                _ = pending.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                log.read(line: Substring(decoding: pending, as: UTF8.self))
            }
            close(descriptor)
            done.signal()
        }
    }

    /// The exit status once the child has ended (128 + the signal that killed it), else nil;
    /// reaps it.
    func poll() -> Int32? {
        if let status { return status }
        // Seen ended but not yet reaped, the group's id cannot have been reused: whatever the
        // child left running in it is ended before it is reaped.
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid else { return nil }
        Glibc.kill(-pid, SIGKILL)
        return reap()
    }

    /// Waits until the child has ended, at most `timeout` seconds; then ends it and everything it
    /// started. Returns its status (that of the kill when it was ended).
    func wait(timeout: Double) -> Int32 {
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if let status = poll() { return status }
            usleep(20_000)
        }
        kill()
        return reap()
    }

    /// Waits for the end of standard error after the child ended, a few seconds at most (a
    /// process it started may still hold the pipe).
    func finishOutput() {
        if !quiet { _ = outputRead.wait(timeout: .now() + 5) }
    }

    func signal(_ signal: Int32) {
        if status == nil { Glibc.kill(pid, signal) }
    }

    /// Ends the child's whole process group at once.
    func kill() {
        Glibc.kill(-pid, SIGKILL)
    }

    /// Waits for the ended child and records its status.
    private func reap() -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        // WIFEXITED and friends are macros Swift cannot see: the low 7 bits hold the signal.
        let signal = raw & 0x7F
        status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
        return status!
    }

    /// A status in words.
    static func describe(status: Int32) -> String {
        status > 128 ? "mpirun ended by signal \(status - 128) (status \(status))" : "mpirun status \(status)"
    }
}
