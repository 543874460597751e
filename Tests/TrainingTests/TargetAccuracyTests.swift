import Foundation
import Testing
import TestSupport

/// `--target-accuracy`: whole runs that end once the test accuracy reaches a target, as the
/// scaling benchmark's time-to-accuracy mode measures them.
@Suite("Training to a target accuracy", .serialized, .startsProcesses, .tags(.processes))
struct TargetAccuracyTests {
    @Test("every rank stops after the first evaluation that reaches --target-accuracy, and not before")
    func stopsAtTheFirstEvaluationReachingTheTarget() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // 50 steps per epoch on 2 ranks; 100 % is never reached, so this run trains all 4 epochs.
        let common = ["--batch-size", "600", "--epochs", "4"]
        let unreached = job.path("unreached.jsonl")
        let whole = try job.train(ranks: 2, common + ["--target-accuracy", "100", "--metrics", unreached, "--checkpoint-dir", job.path("whole")])
        #expect(whole.status == 0, "\(whole.output)")
        let wholeRecords = try job.metrics(unreached)
        let accuracies = wholeRecords.filter { $0["type"] as? String == "epoch" }.compactMap { $0["test_accuracy"] as? Double }
        #expect(accuracies.count == 4)
        #expect(wholeRecords.last?["reached_target_accuracy"] as? Bool == false)
        try #require(accuracies.count == 4 && accuracies[1] > accuracies[0], "\(accuracies)")

        // The second epoch's accuracy as the target: the same run ends after that epoch.
        let reached = job.path("reached.jsonl")
        let stopped = try job.train(ranks: 2, common + [
            "--target-accuracy", String(accuracies[1] * 100), "--metrics", reached, "--checkpoint-dir", job.path("stopped"),
        ])
        #expect(stopped.status == 0, "\(stopped.output)")
        let records = try job.metrics(reached)
        #expect(records.filter { $0["type"] as? String == "epoch" }.count == 2)
        let summary = try #require(records.last)
        #expect(summary["reached_target_accuracy"] as? Bool == true && summary["steps"] as? Int == 100, "\(summary)")
        #expect(summary["test_accuracy"] as? Double == accuracies[1])
        #expect(job.checkpoints(in: job.path("stopped")).last == job.path("stopped/step-000000100.safetensors"))
    }
}
