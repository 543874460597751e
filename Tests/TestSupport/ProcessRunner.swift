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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }

        // Files rather than pipes: a chatty child can never block on a full pipe buffer.
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let outURL = URL(fileURLWithPath: scratch.file("stdout"))
        let errURL = URL(fileURLWithPath: scratch.file("stderr"))
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice

        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                // mpirun forwards SIGTERM to its ranks; SIGKILL follows if it does not listen.
                process.terminate()
                Thread.sleep(forTimeInterval: 2)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.waitUntilExit()
        try out.close()
        try err.close()
        return ProcessResult(
            status: process.terminationStatus,
            standardOutput: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
            timedOut: timedOut,
            seconds: Date().timeIntervalSince(start)
        )
    }

    /// Runs `executable` as `ranks` MPI ranks under OpenMPI's `mpirun` (oversubscribed when there
    /// are more ranks than cores; as root when the tests run as root, as in CI).
    public static func mpirun(
        ranks: Int, _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil, timeout: Double = 120
    ) throws -> ProcessResult {
        var launcherArguments = ["--oversubscribe", "-np", String(ranks)]
        if getuid() == 0 { launcherArguments.insert("--allow-run-as-root", at: 0) }
        return try run(
            try mpirunPath(), launcherArguments + [executable] + arguments,
            environment: environment, workingDirectory: workingDirectory, timeout: timeout
        )
    }

    private static func mpirunPath() throws -> String {
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
