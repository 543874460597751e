import Foundation
import Testing
import TestSupport
import Training

/// Every rank scores its slice of the test and validation sets, and the figures are those of one
/// process to the last bit, at any world size.
@Suite("Evaluation on every rank", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct DistributedEvaluationTests {
    /// Not a whole number of blocks, so the last block is short and 3 ranks get unequal slices.
    static let validationSplit = ["--validation-split", "1234"]

    @Test("the ranks' slices are whole blocks, in rank order, covering the set once", arguments: [1, 2, 3, 7, 20])
    func slicesCoverTheSetInWholeBlocks(worldSize: Int) {
        for sampleCount in [0, 1, 99, 1_234, 10_000] {
            let slices = (0 ..< worldSize).map { Evaluator.slice(ofSetOf: sampleCount, rank: $0, worldSize: worldSize) }
            #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == sampleCount)
            #expect(zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            #expect(slices.allSatisfy { $0.lowerBound % Evaluator.samplesPerBlock == 0 })
        }
    }

    @Test("evaluate under mpirun at 1, 2 and 3 ranks prints exactly what it prints alone")
    func evaluateUnderMPIPrintsWhatItPrintsAlone() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let checkpoint = try trainCheckpoint(job)
        let arguments = ["evaluate", "--checkpoint", checkpoint, "--data-dir", TrainerJob.dataDirectory]
        let binary = try ProcessRunner.product("mnist-ddp")
        let alone = try ProcessRunner.run(binary, arguments)
        #expect(alone.status == 0 && alone.standardOutput.contains("confusion matrix"), "\(alone.output)")
        for ranks in 1 ... 3 {
            let distributed = try ProcessRunner.mpirun(ranks: ranks, binary, arguments)
            #expect(distributed.status == 0, "\(distributed.output)")
            #expect(distributed.standardOutput == alone.standardOutput, "\(ranks) ranks:\n\(distributed.output)")
        }
    }

    @Test("training's evaluation at 1, 2 and 3 ranks reports the very figures of evaluate, validation alike at every size")
    func trainingEvaluationMatchesEvaluate() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let checkpoint = try trainCheckpoint(job)
        let evaluated = try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"), ["evaluate", "--checkpoint", checkpoint, "--data-dir", TrainerJob.dataDirectory])
        #expect(evaluated.status == 0, "\(evaluated.output)")
        var summaries: [[String: Double]] = []
        for ranks in 1 ... 3 {
            // Resumed at its last step, the run takes no step: its final evaluation scores the checkpoint.
            let metrics = job.path("metrics-\(ranks).jsonl")
            let resumed = try job.train(ranks: ranks, Self.validationSplit + [
                "--resume", checkpoint, "--max-steps", "60", "--checkpoint-dir", job.path("resumed-\(ranks)"), "--metrics", metrics,
            ])
            #expect(resumed.status == 0, "\(resumed.output)")
            let testLine = try #require(resumed.standardOutput.split(separator: "\n").first { $0.hasPrefix("test accuracy") })
            #expect(evaluated.standardOutput.contains(": \(testLine)\n"), "\(ranks) ranks: \(testLine)\n\(evaluated.output)")
            let summary = try #require(try job.metrics(metrics).last { $0["type"] as? String == "summary" })
            summaries.append(summary.compactMapValues { $0 as? Double }.filter { $0.key.hasPrefix("test_") || $0.key.hasPrefix("validation_") })
        }
        #expect(summaries[0].count == 4 && summaries.allSatisfy { $0 == summaries[0] }, "\(summaries)")
    }

    /// A checkpoint of a short 2-rank run holding out a validation split.
    func trainCheckpoint(_ job: TrainerJob) throws -> String {
        let result = try job.train(ranks: 2, Self.validationSplit + ["--max-steps", "60", "--eval-every", "10"])
        #expect(result.status == 0, "\(result.output)")
        return job.path("checkpoints/step-000000060.safetensors")
    }
}
