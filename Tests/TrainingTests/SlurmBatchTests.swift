import Foundation
import Testing
import TestSupport

/// `scripts/slurm.sbatch` on a real Slurm (`../shared/slurm-sim`: Debian's Slurm on this machine).
@Suite("Slurm batch script", .serialized, .startsProcesses, .tags(.processes, .mpi, .slurm))
struct SlurmBatchTests {
    static let slurmSim = SharedTools.tool("slurm-sim/slurm-sim")
    static let unavailable: String? = slurmSim == nil
        ? "slurm-sim not found in ../shared (or $MNIST_DDP_SHARED)"
        : getuid() != 0 ? "slurm-sim needs root" : nil

    func run(_ executable: String, _ arguments: [String], in directory: String? = nil, timeout: Double = 60) throws -> ProcessResult {
        try ProcessRunner.run(
            "/usr/bin/env", [executable] + arguments,
            workingDirectory: directory.map { URL(fileURLWithPath: $0) }, timeout: timeout)
    }

    /// `scontrol show job`'s fields, such as JobState and Restarts.
    func job(_ id: String) throws -> [String: String] {
        let fields = try run("scontrol", ["show", "job", id, "--oneliner"]).standardOutput.split(separator: " ")
        return Dictionary(fields.compactMap { field in
            field.firstIndex(of: "=").map { (String(field[..<$0]), String(field[field.index(after: $0)...])) }
        }, uniquingKeysWith: { first, _ in first })
    }

    @Test("USR1 to the batch shell stops the run at a step with its checkpoint, and the requeued job resumes there and completes",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"), .timeLimit(.minutes(5)))
    func warningSignalRequeuesAndResumes() throws {
        let slurmSim = try #require(Self.slurmSim)
        let up = try run(slurmSim, ["up"], timeout: 240)
        defer { _ = try? run(slurmSim, ["down"], timeout: 120) }
        if up.status != 0 { try Test.cancel("skipped: Slurm could not be started here:\n\(up.output)") }

        // The script runs the build and the data under the directory it is submitted from.
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.file(".build/release"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: scratch.file(".build/release/mnist-ddp"), withDestinationPath: try ProcessRunner.product("mnist-ddp"))
        try FileManager.default.createDirectory(atPath: scratch.file("data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: scratch.file("data/mnist"), withDestinationPath: ProcessRunner.shippedMNIST)

        let metrics = scratch.file("metrics.jsonl")
        let script = ProcessRunner.packageRoot.appendingPathComponent("scripts/slurm.sbatch").path
        let submitted = try run("sbatch", [
            "--parsable", "-N1", "--ntasks-per-node=2", "--time=00:05:00", script,
            "--batch-size", "600", "--max-steps", "300", "--eval-every", "100", "--log-every", "5", "--metrics", metrics,
        ], in: scratch.path)
        try #require(submitted.status == 0, "sbatch failed:\n\(submitted.output)")
        let id = submitted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let output = scratch.file("mnist-ddp-\(id).out")
        func log() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        // Once it trains, Slurm's warning, as `--signal=B:USR1@90` sends it before the time limit.
        let started = Date()
        while !((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").contains("\"type\":\"step\"")
            && Date().timeIntervalSince(started) < 90 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let signalled = try run("scancel", ["--batch", "--signal=USR1", id])
        #expect(signalled.status == 0, "\(signalled.output)")

        // Requeued, it waits for cred_expire (30 s in slurm-sim) before it starts again.
        var state = try job(id)
        while state["JobState"] != "COMPLETED" && state["JobState"] != "FAILED" && state["JobState"] != "CANCELLED"
            && Date().timeIntervalSince(started) < 200 {
            Thread.sleep(forTimeInterval: 1)
            state = try job(id)
        }
        #expect(state["JobState"] == "COMPLETED" && state["ExitCode"] == "0:0", "\(state)\n\(log())")
        #expect(state["Restarts"] == "1", "\(state)")

        let text = log()
        let stop = try #require(text.firstMatch(of: /stopped by SIGUSR1 after step (\d+)/), "no stop line:\n\(text)")
        let step = Int(stop.1)!
        #expect(step > 0 && step < 300)
        #expect(text.contains("requeueing"), "\(text)")
        #expect(text.contains("resuming at step \(step):"), "the requeued job did not resume from step \(step):\n\(text)")
        #expect(text.contains("checkpoints/\(id)/step-000000300.safetensors"), "\(text)")
    }
}
