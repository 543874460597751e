import Foundation

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
    /// Whether the process had to be killed because it ran past its time limit.
    public let timedOut: Bool
    public let seconds: Double

    /// Both streams, for messages and for searching.
    public var output: String { standardOutput + standardError }
}

/// Runs executables the way a user would, with a hard time limit so that a hang fails the test
/// instead of stalling the suite.
public enum ProcessRunner {
    /// The package root, found from this file's location.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The real MNIST files shipped with the project.
    public static let shippedMNIST = packageRoot.appendingPathComponent("data/mnist").path

    /// The folder holding the products of the current build (`.build/debug` or `.build/release`):
    /// the test runner itself lives there.
    public static let productsDirectory: URL = {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = runner.deletingLastPathComponent()
        // On Linux the runner is `<products>/<package>PackageTests.xctest`; on macOS it sits
        // inside a bundle.
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "MacOS"
            || directory.lastPathComponent == "Contents" {
            directory.deleteLastPathComponent()
        }
        return directory
    }()

    /// The path of a built executable of this package, or a message saying how to build it.
    public static func product(_ name: String) throws -> String {
        let path = productsDirectory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RunnerError(message: "\(path) not built; run `swift build` before the tests")
        }
        return path
    }

    /// Runs `executable` with `arguments`, killing it (and failing) after `timeout` seconds.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil, timeout: Double = 120
    ) throws -> ProcessResult {
        try RunningProcess(executable, arguments, environment: environment, workingDirectory: workingDirectory)
            .wait(timeout: timeout)
    }

    /// Runs `executable` as `ranks` MPI ranks under OpenMPI's `mpirun` (oversubscribed when there
    /// are more ranks than cores; as root when the tests run as root, as in CI).
    public static func mpirun(
        ranks: Int, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil, timeout: Double = 120
    ) throws -> ProcessResult {
        try run(
            try mpirunPath(), mpirunArguments(ranks: ranks) + [executable] + arguments,
            environment: environment, workingDirectory: workingDirectory, timeout: timeout
        )
    }

    /// mpirun's own arguments for `ranks` ranks: oversubscribed when there are more ranks than
    /// cores; as root when the tests run as root, as in CI.
    public static func mpirunArguments(ranks: Int) -> [String] {
        mpirunOptions + ["-np", String(ranks)]
    }

    /// mpirun's own arguments but the number of ranks.
    public static let mpirunOptions = (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe"]

    public static func mpirunPath() throws -> String {
        for candidate in ["/usr/bin/mpirun", "/usr/local/bin/mpirun", "/opt/homebrew/bin/mpirun"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw RunnerError(message: "mpirun not found; run scripts/setup.sh to install OpenMPI")
    }
}

public struct RunnerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A child process started in the background, so that a test can act on it (signal it, stop
/// one of its children) while it runs; its output goes to files, read when it has ended.
///
/// Started with posix_spawn, with every signal unblocked and at its default action, as a shell
/// starts a program: the test runner blocks signals, and a child would inherit that (Foundation's
/// Process passes the mask on), so mpirun would never see the SIGTERM a test sends it.
public final class RunningProcess {
    public let processIdentifier: Int32
    private let scratch: TemporaryDirectory
    private let start = Date()
    private var exitStatus: Int32?

    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil
    ) throws {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        // Files rather than pipes: a chatty child can never block on a full pipe buffer.
        scratch = try TemporaryDirectory()

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, scratch.file("stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, scratch.file("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // posix_spawn cannot change directory portably: a shell does, then becomes the program.
        let command = workingDirectory.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0.path, executable] }
            ?? [executable]
        let argv = (command + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        guard code == 0 else {
            throw RunnerError(message: "cannot start \(executable): \(String(cString: strerror(code)))")
        }
        processIdentifier = pid
    }

    public var isRunning: Bool {
        guard exitStatus == nil else { return false }
        var status: Int32 = 0
        guard waitpid(processIdentifier, &status, WNOHANG) == processIdentifier else { return true }
        // Exit code, or 128 + the signal that ended it, as a shell reports it.
        exitStatus = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + status & 0x7F
        return false
    }

    public var secondsRunning: Double { Date().timeIntervalSince(start) }

    /// Sends `signal` to the process.
    public func signal(_ signal: Int32) {
        kill(processIdentifier, signal)
    }

    /// The process's children (the ranks, when it is mpirun).
    public func children() -> [Int32] {
        let path = "/proc/\(processIdentifier)/task/\(processIdentifier)/children"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { Int32($0) }
    }

    /// Every process the process started, and those they started, whose arguments begin with
    /// `arguments` after the program (`["train"]`: the ranks of an mpirun job under it).
    public func descendants(running arguments: [String]) -> [Int32] {
        var found: [Int32] = []
        var parents = [processIdentifier]
        while let parent = parents.popLast() {
            let text = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            for child in text.split(separator: " ").compactMap({ Int32($0) }) {
                parents.append(child)
                let command = ((try? String(contentsOfFile: "/proc/\(child)/cmdline", encoding: .utf8)) ?? "")
                    .split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
                if Array(command.dropFirst().prefix(arguments.count)) == arguments { found.append(child) }
            }
        }
        return found
    }

    /// Waits until `condition` holds, polling, for at most `timeout` seconds; false if the process
    /// ended first or time ran out.
    public func wait(until condition: () -> Bool, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && isRunning {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    /// Waits for the end, killing the process (and reporting it timed out) after `timeout`
    /// seconds from its start.
    public func wait(timeout: Double) throws -> ProcessResult {
        defer { scratch.remove() }
        var timedOut = false
        while isRunning {
            if secondsRunning > timeout && !timedOut {
                timedOut = true
                // mpirun forwards SIGTERM to its ranks; SIGKILL follows if it does not listen.
                signal(SIGTERM)
                Thread.sleep(forTimeInterval: 2)
                if isRunning { signal(SIGKILL) }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return ProcessResult(
            status: exitStatus ?? -1,
            standardOutput: (try? String(contentsOfFile: scratch.file("stdout"), encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: scratch.file("stderr"), encoding: .utf8)) ?? "",
            timedOut: timedOut,
            seconds: secondsRunning
        )
    }
}

/// Whether process `pid` still exists and is not a zombie waiting to be reaped.
public func isProcessAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[close...].hasPrefix(") Z") && !stat[close...].hasPrefix(") X")
}
