import Foundation
import SafeTensors
import TestSupport
import Training

/// One scratch directory for a test's training runs, and the ways to start and inspect them.
struct TrainerJob {
    private let directory: TemporaryDirectory
    static let dataDirectory = ProcessRunner.shippedMNIST

    init() throws {
        directory = try TemporaryDirectory()
    }

    func path(_ name: String) -> String { directory.file(name) }

    private var workingDirectory: URL { URL(fileURLWithPath: directory.path) }

    /// `mnist-ddp train` with `arguments`, alone (`ranks` nil) or under mpirun, reading the
    /// shipped data unless told otherwise, and writing only into this job's directory.
    func train(ranks: Int?, _ arguments: [String], timeout: Double = 120) throws -> ProcessResult {
        try start(ranks: ranks, arguments).wait(timeout: timeout)
    }

    /// The same run as `train`, started in the background.
    func start(ranks: Int?, _ arguments: [String]) throws -> RunningProcess {
        let full = ["train"] + trainOptions(arguments)
        let binary = try ProcessRunner.product("mnist-ddp")
        guard let ranks else { return try RunningProcess(binary, full, workingDirectory: workingDirectory) }
        return try RunningProcess(
            ProcessRunner.mpirunPath(), ProcessRunner.mpirunArguments(ranks: ranks) + [binary] + full,
            workingDirectory: workingDirectory)
    }

    /// `arguments` for `mnist-ddp train`, quiet, reading the shipped data and writing into this
    /// job's directory unless they say otherwise.
    private func trainOptions(_ arguments: [String]) -> [String] {
        var full = ["--quiet"] + arguments
        if !arguments.contains("--data-dir") { full += ["--data-dir", Self.dataDirectory] }
        if !arguments.contains("--checkpoint-dir") { full += ["--checkpoint-dir", path("checkpoints")] }
        return full
    }

    /// The same run under the healing launcher, `mnist-ddp launch` with `launchOptions`, on
    /// `ranks` ranks of this machine or the hosts of a `--hostfile` in `launchOptions`; `mpirun`
    /// (mpirun with its options, no `-np`) and `prefix` (a command that runs it, such as
    /// `ip netns exec`) say how the job is started.
    func startLaunch(
        ranks: Int?, _ launchOptions: [String], _ arguments: [String], mpirun: [String]? = nil, prefix: [String] = [],
        environment: [String: String] = [:]
    ) throws -> RunningProcess {
        let mpirun = try mpirun ?? [ProcessRunner.mpirunPath()] + ProcessRunner.mpirunOptions
        let command = prefix + [try ProcessRunner.product("mnist-ddp"), "launch"] + launchOptions
            + (ranks.map { ["--np", String($0)] } ?? []) + ["--"] + mpirun + ["--"] + trainOptions(arguments)
        return try RunningProcess(command[0], Array(command.dropFirst()), environment: environment, workingDirectory: workingDirectory)
    }

    /// The steps rank 0 has recorded for the launcher in `checkpoints` (this job's by default).
    func launcherSteps(in checkpoints: String? = nil) -> Int? {
        StepReport.steps(recordedAt: (checkpoints ?? path("checkpoints")) + "/" + StepReport.fileName)
    }

    /// Every tensor of a safetensors file, as raw bytes, for bit-for-bit comparison.
    func tensorBytes(_ path: String) throws -> [String: [UInt8]] {
        let file = try SafeTensorsFile(contentsOf: path)
        return Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, Array(file.data(of: $0))) })
    }

    /// The checkpoint files in a directory, oldest first.
    func checkpoints(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".safetensors") }.sorted().map { directory + "/" + $0 }
    }

    /// The records of a JSON-lines metrics file.
    func metrics(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// Deletes the job's directory and everything its runs wrote.
    func remove() { directory.remove() }
}
