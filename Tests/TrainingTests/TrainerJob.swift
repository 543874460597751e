import Foundation
import SafeTensors
import TestSupport

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
        var full = ["train", "--quiet"] + arguments
        if !arguments.contains("--data-dir") { full += ["--data-dir", Self.dataDirectory] }
        if !arguments.contains("--checkpoint-dir") { full += ["--checkpoint-dir", path("checkpoints")] }
        let binary = try ProcessRunner.product("mnist-ddp")
        guard let ranks else { return try RunningProcess(binary, full, workingDirectory: workingDirectory) }
        return try RunningProcess(
            ProcessRunner.mpirunPath(), ProcessRunner.mpirunArguments(ranks: ranks) + [binary] + full,
            workingDirectory: workingDirectory)
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
