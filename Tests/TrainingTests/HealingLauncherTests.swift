import Foundation
import Testing
import TestSupport
import Training

/// `mnist-ddp launch` (what `scripts/train.sh --max-restarts` runs) around real mpirun jobs on
/// this machine: it restarts a job that a fault ended, and no other.
@Suite("Healing launcher", .serialized)
struct HealingLauncherTests {
    /// 2 ranks × 60 samples: 500 steps per epoch, so these runs cross the checkpoint of epoch 1.
    static let ranks = 2
    static let stepsPerEpoch = 500

    /// The launcher's lines on standard error that begin with `text`.
    func launcherLines(_ result: ProcessResult, _ text: String) -> [Substring] {
        result.standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp launch: " + text) }
    }

    /// What the launch printed, once it has ended: asked to stop (SIGTERM stops its job the USR1
    /// way) rather than killed, which would leave its mpirun running.
    func ended(_ running: RunningProcess) -> String {
        running.signal(SIGTERM)
        return (try? running.wait(timeout: 60).output) ?? "(no output)"
    }

    /// Waits until the job of `running` has recorded a step beyond `step` (`checkpoints`: its
    /// checkpoint directory), then kills one of its ranks with SIGKILL.
    func killRank(of running: RunningProcess, _ job: TrainerJob, after step: Int, checkpoints: String? = nil) throws {
        let training = running.wait(until: { (job.launcherSteps(in: checkpoints) ?? 0) > step }, timeout: 90)
        try #require(training, "the job never got past step \(step):\n\(ended(running))")
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
        let restarts = launcherLines(result, "restart ")
        #expect(restarts.count == 1, "\(result.output)")
        #expect(restarts.first?.contains("restart 1 of 2 after rank ") == true && restarts.first?.contains("signal 9") == true,
                "\(result.output)")
        #expect(restarts.first?.contains("resuming at step \(Self.stepsPerEpoch)") == true, "\(result.output)")
        #expect(launcherLines(result, "1 restart;").count == 1, "\(result.output)")
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
        #expect(launcherLines(result, "restart 1 of 1").first?.contains("resuming at step \(Self.stepsPerEpoch)") == true,
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
        #expect(launcherLines(result, "restart").isEmpty, "\(result.output)")
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
        let restarted = running.wait(until: {
            let ranks = running.descendants(running: ["train"])
            return ranks.count == Self.ranks && first.isDisjoint(with: ranks) && job.launcherSteps() != nil
        }, timeout: 90)
        try #require(restarted, "no restarted job:\n\(ended(running))")
        try killRank(of: running, job, after: 0)
        let result = try running.wait(timeout: 60)
        // mpirun's status for a rank killed by SIGKILL.
        #expect(result.status == 128 + SIGKILL, "\(result.output)")
        #expect(launcherLines(result, "giving up after 1 restart").count == 1, "\(result.output)")
    }

    @Test("SIGTERM to the launcher stops the job after a step with its checkpoint, and the launch exits 75")
    func signalStopsTheJob() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let running = try job.startLaunch(ranks: Self.ranks, ["--max-restarts", "2"], ["--max-steps", "5000"])
        let training = running.wait(until: { (job.launcherSteps() ?? 0) > 10 }, timeout: 90)
        try #require(training, "the job never trained:\n\(ended(running))")
        running.signal(SIGTERM)
        let result = try running.wait(timeout: 60)
        #expect(result.status == ExitStatus.stopped.rawValue, "\(result.output)")
        #expect(result.standardError.contains("stopped by SIGUSR1 after step"), "\(result.output)")
        #expect(launcherLines(result, "restart").isEmpty, "\(result.output)")
        let newest = try #require(job.checkpoints(in: job.path("checkpoints")).last)
        #expect(!newest.hasSuffix("step-000005000.safetensors"), "\(newest)")
    }

    @Test("--checkpoint-interval writes checkpoints mid-epoch at steps every rank agreed on, and the run ends as planned")
    func checkpointInterval() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // Batch 6: 5000 short steps per epoch, several seconds of them.
        let result = try job.train(ranks: Self.ranks, ["--batch-size", "6", "--max-steps", "1000", "--checkpoint-interval", "1", "--keep", "100"])
        #expect(result.status == 0, "\(result.output)")
        let checkpoints = job.checkpoints(in: job.path("checkpoints"))
        #expect(checkpoints.count >= 2, "\(checkpoints)")
        #expect(checkpoints.last?.hasSuffix("step-000001000.safetensors") == true, "\(checkpoints)")
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
