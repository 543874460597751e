import Distributed
import Foundation
import Testing
import TestSupport
import Training

/// A run stopped by a signal saves the step it stopped at, on every rank alike, and says how to
/// go on; a rank that makes no progress ends the whole job.
@Suite("Stopping on signals and stalls", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct StopSignalTests {
    /// Starts `mnist-ddp train` in the background and returns once it has logged a step: it is
    /// then past start-up, in the middle of training.
    func startTraining(_ job: TrainerJob, ranks: Int?, _ arguments: [String]) throws -> RunningProcess {
        let metrics = job.path("metrics.jsonl")
        let process = try job.start(ranks: ranks, arguments + ["--metrics", metrics, "--log-every", "5"])
        let training = process.wait(until: {
            ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").contains("\"type\":\"step\"")
        }, timeout: 60)
        if !training {
            let result = try process.wait(timeout: 0)
            Issue.record("the run never took a step:\n\(result.output)")
        }
        return process
    }

    /// The step of the one `stopped by SIGNAL after step N` line, checked to be the only line on
    /// standard error from us.
    func stopStep(_ result: ProcessResult, signal: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
        let lines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp: ") }
        #expect(lines.count == 1, "expected one line:\n\(result.output)", sourceLocation: sourceLocation)
        guard let line = lines.first, let match = line.firstMatch(of: /stopped by (\w+) after step (\d+)/) else {
            Issue.record("no stop line:\n\(result.output)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(match.1 == signal, "\(line)", sourceLocation: sourceLocation)
        #expect(line.contains("--resume"), "\(line)", sourceLocation: sourceLocation)
        return Int(match.2)
    }

    @Test("SIGTERM to both ranks mid-epoch saves that step, and resuming from it ends bit-identical to an uninterrupted run")
    func sigtermToRanksResumesExactly() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // 50 steps per epoch, so the stop lands mid-epoch and the resumed run crosses epochs.
        let common = ["--batch-size", "600", "--eval-every", "10", "--max-steps", "120"]
        let whole = try job.train(ranks: 2, common + ["--checkpoint-dir", job.path("whole")])
        #expect(whole.status == 0, "\(whole.output)")

        let running = try startTraining(job, ranks: 2, common + ["--checkpoint-dir", job.path("parts")])
        let ranks = running.children()
        #expect(ranks.count == 2)
        for rank in ranks { kill(rank, SIGTERM) }
        let stopped = try running.wait(timeout: 60)
        #expect(stopped.status == StopRequest.exitCode, "\(stopped.output)")
        let step = try #require(stopStep(stopped, signal: "SIGTERM"))
        #expect(step > 0 && step < 120 && step % 50 != 0, "stopped at step \(step)")
        let checkpoint = job.path(String(format: "parts/step-%09d.safetensors", step))
        #expect(try CheckpointFormat.decode(CheckpointFormat.open(checkpoint)).position.step == step)

        let resumed = try job.train(ranks: 2, common + ["--checkpoint-dir", job.path("parts"), "--resume", checkpoint])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(try job.tensorBytes(job.path("whole/step-000000120.safetensors"))
            == job.tensorBytes(job.path("parts/step-000000120.safetensors")))
    }

    @Test("Ctrl-C (SIGINT) in local mode saves the step and exits with the stop status")
    func sigintAloneSavesAndStops() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try startTraining(job, ranks: nil, ["--batch-size", "600", "--max-steps", "300"])
        running.signal(SIGINT)
        let result = try running.wait(timeout: 60)
        #expect(result.status == StopRequest.exitCode, "\(result.output)")
        let step = try #require(stopStep(result, signal: "SIGINT"))
        #expect(step > 0 && step < 300)
        let checkpoint = job.path(String(format: "checkpoints/step-%09d.safetensors", step))
        #expect(try CheckpointFormat.decode(CheckpointFormat.open(checkpoint)).position.step == step)
        #expect(!result.standardOutput.contains("steps in all"), "a stopped run printed the summary")
    }

    @Test("SIGTERM to mpirun itself, forwarded to the ranks, still saves the step they stopped at")
    func sigtermToMpirunSaves() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // Checkpoints only after the 10th and last epoch (5,000 steps): any other is the stop's.
        // The run must not be over before mpirun forwards the signal (about 1 s): on a quiet
        // machine it passes the first epoch's 500 steps in that time.
        let running = try startTraining(job, ranks: 2, ["--checkpoint-every", "10"])
        let signalled = Date()
        running.signal(SIGTERM)
        let result = try running.wait(timeout: 60)
        // mpirun kills the ranks about 2 s after it forwards SIGTERM, and exits with its own status.
        #expect(result.status != 0, "\(result.output)")
        #expect(Date().timeIntervalSince(signalled) < 10)
        let checkpoints = job.checkpoints(in: job.path("checkpoints"))
        #expect(checkpoints.count == 1, "\(checkpoints)\n\(result.output)")
        let saved = try CheckpointFormat.decode(CheckpointFormat.open(try #require(checkpoints.last))).position.step
        #expect(saved > 0 && saved < 5000)
        // mpirun stops forwarding output once it kills the ranks: on a loaded machine the line
        // may not reach it in time. When it does, it names the step saved.
        if result.standardError.contains("stopped by") {
            #expect(stopStep(result, signal: "SIGTERM") == saved)
        }
    }

    @Test("a rank stopped with SIGSTOP ends the job within 20 s under --stall-timeout 5, naming the stall")
    func stoppedRankEndsJob() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try startTraining(job, ranks: 2, ["--stall-timeout", "5"])
        let ranks = running.children()
        defer {
            for rank in ranks where isProcessAlive(rank) { kill(rank, SIGKILL) }
        }
        #expect(ranks.count == 2)
        let stopped = Date()
        kill(ranks[1], SIGSTOP)
        let result = try running.wait(timeout: 60)
        let seconds = Date().timeIntervalSince(stopped)
        #expect(!result.timedOut && result.status != 0, "\(result.output)")
        #expect(seconds < 20, "took \(seconds) s")
        #expect(result.standardError.contains(
            "on \(hostName()): no progress for 5 s (a rank stalled, or the network is partitioned)"), "\(result.output)")
        // mpirun has gone; its ranks must not outlive it.
        let ended = Date().addingTimeInterval(5)
        while ranks.contains(where: isProcessAlive) && Date() < ended { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!ranks.contains(where: isProcessAlive), "ranks left behind: \(ranks.filter(isProcessAlive))")
    }
}

/// Two simulated nodes (network namespaces, `../shared/cluster-sim`), and one of them cut off.
@Suite("Stall watchdog across simulated nodes", .serialized, .startsProcesses, .tags(.processes, .mpi, .namespaces))
struct PartitionTests {
    static let clusterSim = SharedTools.tool("cluster-sim/cluster-sim")
    static let unavailable = SharedTools.whyNoNetworkNamespaces(tool: "cluster-sim/cluster-sim")

    /// Namespaces of this suite's own, apart from any other test's simulated nodes.
    static let environment = ["CLUSTER_SIM_PREFIX": "mnstall"]

    func clusterSim(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try #require(Self.clusterSim), arguments, environment: Self.environment, timeout: 60)
    }

    /// The trainer's processes on simulated node `node`.
    func ranks(onNode node: Int, binary: String) throws -> [Int32] {
        try clusterSim(["pids", String(node)]).standardOutput.split(separator: "\n").compactMap { Int32($0) }.filter {
            let command = (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? ""
            return command.hasPrefix(binary) && isProcessAlive($0)
        }
    }

    @Test("a node cut off the network (link down) ends the job through the stall watchdog",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func partitionEndsJob() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        _ = try clusterSim(["down"])
        let up = try clusterSim(["up", "2"])
        defer { _ = try? clusterSim(["down"]) }
        try #require(up.status == 0, "cluster-sim up failed:\n\(up.output)")
        let hostfile = job.path("hostfile")
        try clusterSim(["hostfile"]).standardOutput.write(toFile: hostfile, atomically: true, encoding: .utf8)

        let binary = try ProcessRunner.product("mnist-ddp")
        let metrics = job.path("metrics.jsonl")
        // Nodes start in $HOME: every path absolute.
        let running = try RunningProcess(try #require(Self.clusterSim), [
            "mpirun", "--hostfile", hostfile, "-np", "2", "--mca", "mpi_yield_when_idle", "1",
            binary, "train", "--quiet", "--data-dir", TrainerJob.dataDirectory, "--checkpoint-dir", job.path("checkpoints"),
            "--stall-timeout", "5", "--metrics", metrics, "--log-every", "5",
        ], environment: Self.environment)
        let training = running.wait(until: {
            ((try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "").contains("\"type\":\"step\"")
        }, timeout: 60)
        if !training {
            Issue.record("the two-node run never took a step:\n\(try running.wait(timeout: 0).output)")
            return
        }
        #expect(try ranks(onNode: 1, binary: binary).count == 1 && ranks(onNode: 2, binary: binary).count == 1)

        let cut = Date()
        #expect(try clusterSim(["partition", "2"]).status == 0)
        // Rank 0 aborts through mpirun; rank 1, cut off from mpirun too, exits on its own.
        while try (ranks(onNode: 1, binary: binary) + ranks(onNode: 2, binary: binary)).count > 0
            && Date().timeIntervalSince(cut) < 30 {
            Thread.sleep(forTimeInterval: 0.2)
        }
        let seconds = Date().timeIntervalSince(cut)
        #expect(seconds < 20, "ranks still running \(seconds) s after the partition")
        // mpirun itself waits for the unreachable node's daemon until it dies (an ssh keepalive
        // on a real cluster); taking the simulated nodes down ends it.
        _ = try clusterSim(["down"])
        let result = try running.wait(timeout: seconds + 60)
        #expect(result.standardError.contains(
            "rank 0 on node1: no progress for 5 s (a rank stalled, or the network is partitioned)"), "\(result.output)")
    }
}
