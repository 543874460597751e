import Foundation
import Testing
import TestSupport
import Training

/// `mnist-ddp launch` (what `scripts/train.sh --max-restarts` runs) around real mpirun jobs on
/// this machine: it restarts a job that a fault ended, and no other.
@Suite("Healing launcher", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct HealingLauncherTests {
    /// 2 ranks × 60 samples: 500 steps per epoch, so these runs cross the checkpoint of epoch 1.
    static let ranks = 2
    static let stepsPerEpoch = 500

    /// Waits until the job of `running` has recorded a step beyond `step` (`checkpoints`: its
    /// checkpoint directory), then kills one of its ranks with SIGKILL.
    func killRank(of running: RunningProcess, _ job: TrainerJob, after step: Int, checkpoints: String? = nil) throws {
        try running.requireLaunch(until: { (job.launcherSteps(in: checkpoints) ?? 0) > step }, "the job never got past step \(step)")
        let ranks = running.descendants(running: ["train"])
        try #require(ranks.count == Self.ranks, "ranks \(ranks)")
        kill(ranks[1], SIGKILL)
    }

    @Test("kill -9 of one rank mid-run with --max-restarts 2: the run completes after one restart, its final checkpoint at the planned last step")
    func killedRankIsRestarted() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "2"], ["--max-steps", "700"])
        try killRank(of: running, job, after: Self.stepsPerEpoch + 50)
        let result = try running.wait(timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        let restarts = result.launcherLines("restart ")
        #expect(restarts.count == 1, "\(result.output)")
        #expect(restarts.first?.contains("restart 1 of 2 after rank ") == true && restarts.first?.contains("signal 9") == true,
                "\(result.output)")
        #expect(restarts.first?.contains("resuming at step \(Self.stepsPerEpoch)") == true, "\(result.output)")
        #expect(result.launcherLines("1 restart;").count == 1, "\(result.output)")
        #expect(job.checkpoints(in: job.path("checkpoints")).last == job.path("checkpoints/step-000000700.safetensors"))
    }

    @Test("a failure right after a checkpoint, restarted on as many ranks, ends bit-identical to an uninterrupted run")
    func sameWorldSizeSameResult() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let common = ["--max-steps", "600"]
        let whole = try job.train(ranks: Self.ranks, common + ["--checkpoint-dir", job.path("whole")])
        #expect(whole.status == 0, "\(whole.output)")

        let healed = job.path("healed")
        let running = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "1"], common + ["--checkpoint-dir", healed])
        let epochCheckpoint = healed + "/step-000000500.safetensors"
        try killRank(of: running, job, after: Self.stepsPerEpoch, checkpoints: healed)
        #expect(FileManager.default.fileExists(atPath: epochCheckpoint))
        let result = try running.wait(timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.launcherLines("restart 1 of 1").first?.contains("resuming at step \(Self.stepsPerEpoch)") == true,
                "\(result.output)")
        let last = "/step-000000600.safetensors"
        #expect(try job.tensorBytes(healed + last) == job.tensorBytes(job.path("whole") + last))
    }

    @Test("a bad --data-dir with --max-restarts 3 ends at once with its own status, without a restart")
    func recurringErrorIsNotRetried() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "3"], ["--data-dir", job.path("nowhere")])
            .wait(timeout: 60)
        #expect(result.status == ExitStatus.badInput.rawValue, "\(result.output)")
        #expect(result.launcherLines("restart").isEmpty, "\(result.output)")
        #expect(result.standardError.contains(job.path("nowhere")), "\(result.output)")
    }

    @Test("when the restarts are used up, the launch exits with the last failure's status")
    func restartsExhausted() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "1"], ["--max-steps", "2000"])
        try killRank(of: running, job, after: 50)
        let first = Set(running.descendants(running: ["train"]))
        // The restarted job: new ranks, training again.
        try running.requireLaunch(until: {
            let ranks = running.descendants(running: ["train"])
            return ranks.count == Self.ranks && first.isDisjoint(with: ranks) && job.launcherSteps() != nil
        }, "no restarted job")
        try killRank(of: running, job, after: 0)
        let result = try running.wait(timeout: 60)
        // mpirun's status for a rank killed by SIGKILL.
        #expect(result.status == 128 + SIGKILL, "\(result.output)")
        #expect(result.launcherLines("giving up after 1 restart").count == 1, "\(result.output)")
    }

    @Test("SIGTERM to the launcher stops the job after a step with its checkpoint, and the launch exits 75")
    func signalStopsTheJob() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "2"], ["--max-steps", "5000"])
        try running.requireLaunch(until: { (job.launcherSteps() ?? 0) > 10 }, "the job never trained")
        running.signal(SIGTERM)
        let result = try running.wait(timeout: 60)
        #expect(result.status == ExitStatus.stopped.rawValue, "\(result.output)")
        #expect(result.standardError.contains("stopped by SIGUSR1 after step"), "\(result.output)")
        #expect(result.launcherLines("restart").isEmpty, "\(result.output)")
        let newest = try #require(job.checkpoints(in: job.path("checkpoints")).last)
        #expect(!newest.hasSuffix("step-000005000.safetensors"), "\(newest)")
    }

    @Test("--checkpoint-interval writes checkpoints mid-epoch at steps every rank agreed on, and the run ends as planned")
    func checkpointInterval() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // Ten epochs of 500 steps take about 5 s on two quiet cores (more on a busy machine), and
        // with the epochs' own checkpoints off every checkpoint but the last is the interval's.
        let result = try job.train(ranks: Self.ranks, [
            "--epochs", "10", "--checkpoint-every", "1000", "--eval-every", "1000", "--checkpoint-interval", "1", "--keep", "100",
        ])
        #expect(result.status == 0, "\(result.output)")
        let checkpoints = job.checkpoints(in: job.path("checkpoints"))
        #expect(checkpoints.count >= 3, "\(checkpoints)")
        #expect(checkpoints.last?.hasSuffix("step-000005000.safetensors") == true, "\(checkpoints)")
    }

    @Test("resumed on fewer ranks without --global-batch-size, the start line says the global batch changed")
    func globalBatchChangeIsSaid() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        #expect(try job.train(ranks: 2, ["--max-steps", "10"]).status == 0)
        // Not quiet: the start lines are the point.
        let resumed = try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), [
            "train", "--max-steps", "20", "--resume", "--data-dir", TrainerJob.dataDirectory,
            "--checkpoint-dir", job.path("checkpoints"),
        ])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(resumed.standardOutput.contains("the global batch changed from 120 to 60"), "\(resumed.output)")
    }
}

/// The healing launcher on three simulated nodes (network namespaces, `../shared/cluster-sim`):
/// a node cut off is left out, and taken back once it answers again.
@Suite("Healing launcher across simulated nodes", .serialized, .startsProcesses, .tags(.processes, .mpi, .namespaces))
struct HealingNodesTests {
    static let clusterSim = SharedTools.tool("cluster-sim/cluster-sim")
    static let unavailable = SharedTools.whyNoNetworkNamespaces(tool: "cluster-sim/cluster-sim")
    /// Namespaces of this suite's own, apart from any other test's simulated nodes.
    static let prefix = "mnheal"
    static let environment = ["CLUSTER_SIM_PREFIX": prefix]
    static let nodes = ["10.200.0.1", "10.200.0.2", "10.200.0.3"]

    func clusterSim(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try #require(Self.clusterSim), arguments, environment: Self.environment, timeout: 60)
    }

    /// The launcher on the three nodes of a fresh simulated cluster, training `arguments`;
    /// `beforeStart` acts on the cluster first. The cluster is taken down when `body` returns.
    func withLaunch(
        _ launchOptions: [String], _ arguments: [String], beforeStart: () throws -> Void = {},
        _ body: (TrainerJob, RunningProcess) throws -> Void
    ) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        _ = try clusterSim(["down"])
        let up = try clusterSim(["up", String(Self.nodes.count)])
        defer { _ = try? clusterSim(["down"]) }
        try #require(up.status == 0, "cluster-sim up failed:\n\(up.output)")
        let hostfile = job.path("nodes")
        try clusterSim(["hostfile"]).standardOutput.write(toFile: hostfile, atomically: true, encoding: .utf8)
        try beforeStart()
        // What the nodes' network needs; each node starts with a fresh environment in $HOME.
        let mpirun = [try ProcessRunner.mpirunPath()] + ProcessRunner.mpirunOptions + [
            "--mca", "plm_rsh_agent", "\(try #require(Self.clusterSim)) agent", "--bind-to", "none",
            "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "10.200.0.0/24",
            "--mca", "oob_tcp_if_include", "10.200.0.0/24", "--mca", "mpi_yield_when_idle", "1",
        ]
        let running = try job.startLaunch(
            ranks: nil, ["--hostfile", hostfile, "--restart-cooldown", "3:10", "--mpirun-grace", "3"] + launchOptions,
            ["--stall-timeout", "5", "--checkpoint-interval", "1"] + arguments,
            mpirun: mpirun, prefix: ["/usr/bin/env", "ip", "netns", "exec", "\(Self.prefix)0"], environment: Self.environment)
        try body(job, running)
    }

    @Test("a node cut off mid-run is left out and named; the run goes on with the other two and completes",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func lostNodeIsLeftOut() throws {
        try withLaunch(["--max-restarts", "1"], ["--max-steps", "1500"]) { job, running in
            try running.requireLaunch(until: { (job.launcherSteps() ?? 0) > 100 }, "the three-node job never trained")
            #expect(try clusterSim(["partition", "3"]).status == 0)
            let result = try running.wait(timeout: 150)
            #expect(result.status == 0, "\(result.output)")
            let restart = result.launcherLines("restart 1 of 1")
            #expect(restart.count == 1, "\(result.output)")
            #expect(restart.first?.contains("left out 10.200.0.3; 2 ranks on 10.200.0.1, 10.200.0.2; resuming at step ") == true,
                    "\(result.output)")
            #expect(job.checkpoints(in: job.path("checkpoints")).last?.hasSuffix("step-000001500.safetensors") == true)
        }
    }

    @Test("a left-out node that answers again after its cooldown is taken back, and the job goes on on three nodes",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func healedNodeIsTakenBack() throws {
        // Node 3 is cut off from the start: its probe fails and the job starts on two.
        try withLaunch([], ["--max-steps", "1500"], beforeStart: {
            let cut = try clusterSim(["partition", "3"])
            #expect(cut.status == 0, "\(cut.output)")
        }) { job, running in
            try running.requireLaunch(until: { (job.launcherSteps() ?? 0) > 0 }, "the two-node job never trained")
            #expect(running.descendants(running: ["train"]).count == 2)
            #expect(try clusterSim(["heal", "3"]).status == 0)
            let result = try running.wait(timeout: 150)
            #expect(result.status == 0, "\(result.output)")
            #expect(result.launcherLines("left out 10.200.0.3").count == 1, "\(result.output)")
            #expect(result.launcherLines("10.200.0.3 answers").count == 1, "\(result.output)")
            let scaled = result.launcherLines("scaling up to take back 10.200.0.3")
            #expect(scaled.count == 1 && scaled.first?.contains("3 ranks on 10.200.0.1, 10.200.0.2, 10.200.0.3") == true,
                    "\(result.output)")
            #expect(result.standardOutput.contains("trained on in this run by 3 ranks"), "\(result.output)")
            #expect(job.checkpoints(in: job.path("checkpoints")).last?.hasSuffix("step-000001500.safetensors") == true)
        }
    }
}

extension ProcessResult {
    /// The healing launcher's lines on standard error that begin with `text`.
    func launcherLines(_ text: String) -> [Substring] {
        standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp launch: " + text) }
    }
}

extension RunningProcess {
    /// Waits (90 s at most) until `condition` holds for a running launch; else stops it and
    /// fails, saying `what` with its output. Stopped by SIGTERM, which stops its job the USR1 way,
    /// not killed, which would leave its mpirun running.
    func requireLaunch(until condition: () -> Bool, _ what: String) throws {
        guard !wait(until: condition, timeout: 90) else { return }
        signal(SIGTERM)
        let output = (try? wait(timeout: 60).output) ?? "(no output)"
        Issue.record("\(what):\n\(output)")
        throw LaunchNotReady()
    }
}

/// The launch never reached the point a test waited for (recorded as an issue already).
struct LaunchNotReady: Error {}
