import Foundation
import Testing
import TestSupport
import Training

/// The model-development options end to end: the real binary on the real data, short runs.
@Suite("Model development end to end", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct ModelDevelopmentTests {
    @Test("every step record carries the learning rate its update used")
    func stepRecordsCarryTheRate() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let metrics = job.path("metrics.jsonl")
        let result = try job.train(ranks: nil, [
            "--max-steps", "12", "--log-every", "1", "--metrics", metrics, "--batch-size", "600",
            "--lr-schedule", "cosine", "--warmup-steps", "4", "--epochs", "1",
        ])
        #expect(result.status == 0, "\(result.output)")
        let schedule = LearningRateSchedule(base: 0.001, decay: .cosine, warmupSteps: 4, totalSteps: 100)
        let steps = try job.metrics(metrics).filter { $0["type"] as? String == "step" }
        #expect(steps.count == 12)
        for record in steps {
            let step = try #require(record["step"] as? Int)
            let rate = try #require(record["lr"] as? Double)
            #expect(Float(rate) == schedule.rate(ofUpdate: step), "step \(step)")
        }
    }

    @Test("--freeze conv1,conv2 leaves those tensors bit-for-bit as they started and trains the rest")
    func frozenTensorsStayUnchanged() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let pretrained = try job.train(ranks: nil, ["--max-steps", "5", "--checkpoint-dir", job.path("pretrained")])
        #expect(pretrained.status == 0, "\(pretrained.output)")
        let start = job.path("pretrained/step-000000005.safetensors")
        let tuned = try job.train(ranks: 2, [
            "--max-steps", "40", "--init-from", start, "--freeze", "conv1,conv2", "--checkpoint-dir", job.path("tuned"),
        ])
        #expect(tuned.status == 0, "\(tuned.output)")
        let before = try job.tensorBytes(start)
        let after = try job.tensorBytes(job.path("tuned/step-000000040.safetensors"))
        for name in ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"] {
            #expect(after[name] == before[name], "\(name) changed")
        }
        #expect(after["fc1.weight"] != before["fc1.weight"] && after["fc1.bias"] != before["fc1.bias"])
    }

    @Test("--freeze of a name the model lacks is refused, naming the tensors it has")
    func unknownFrozenNameIsRefused() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: nil, ["--freeze", "conv3"])
        #expect(result.status != 0)
        #expect(result.output.contains("--freeze conv3") && result.output.contains("fc1.weight"), "\(result.output)")
    }

    @Test("--validation-split holds out the same last samples on 1, 2 and 3 ranks")
    func validationSplitIsTheSameOnEveryWorldSize() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // Every tensor frozen: the model stays the seed's, so equal validation losses mean equal samples.
        let arguments = ["--validation-split", "0.01", "--max-steps", "1", "--freeze", "conv1,conv2,fc1"]
        var lines: [String] = []
        for ranks in [1, 2, 3] {
            let result = try job.train(
                ranks: ranks == 1 ? nil : ranks, arguments + ["--checkpoint-dir", job.path("ranks-\(ranks)")])
            #expect(result.status == 0, "\(result.output)")
            lines.append(result.standardOutput.split(separator: "\n").first { $0.hasPrefix("validation accuracy") }.map(String.init) ?? "")
        }
        #expect(lines[0].hasSuffix("(600 images)"), "\(lines[0])")
        #expect(lines[1] == lines[0] && lines[2] == lines[0], "\(lines)")
        let checkpoint = try CheckpointFormat.decode(CheckpointFormat.open(job.path("ranks-3/step-000000001.safetensors")))
        #expect(checkpoint.trainingSamples == 59_400)
    }

    @Test("with --validation-split, best.safetensors holds the model of the best validation accuracy, recorded in the metadata")
    func bestModelIsKept() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let metrics = job.path("metrics.jsonl")
        let result = try job.train(ranks: 2, [
            "--validation-split", "6000", "--epochs", "3", "--batch-size", "300", "--lr", "0.003",
            "--metrics", metrics,
        ])  // 54,000 samples in 90 steps of 2 × 300 per epoch
        #expect(result.status == 0, "\(result.output)")
        let epochs = try job.metrics(metrics).filter { $0["type"] as? String == "epoch" }
        let accuracies = epochs.compactMap { $0["validation_accuracy"] as? Double }
        #expect(accuracies.count == 3 && epochs.allSatisfy { $0["validation_loss"] is Double })
        let best = try CheckpointFormat.decode(CheckpointFormat.open(job.path("checkpoints/best.safetensors")))
        // JSONSerialization may read the last digit differently from how it was written.
        let bestAccuracy = try #require(accuracies.max())
        #expect(abs(try #require(best.bestValidationAccuracy) - bestAccuracy) < 1e-12)
        #expect(best.position.step == epochs[try #require(accuracies.firstIndex(of: bestAccuracy))]["step"] as? Int)
        let last = try CheckpointFormat.decode(CheckpointFormat.open(job.path("checkpoints/step-000000270.safetensors")))
        #expect(last.bestValidationAccuracy == best.bestValidationAccuracy)
    }

    @Test("--augment changes what is trained on")
    func augmentationChangesTraining() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        for (name, extra) in [("plain", [String]()), ("augmented", ["--augment"])] {
            let result = try job.train(ranks: nil, ["--max-steps", "20", "--checkpoint-dir", job.path(name)] + extra)
            #expect(result.status == 0, "\(result.output)")
        }
        let plain = try job.tensorBytes(job.path("plain/step-000000020.safetensors"))
        let augmented = try job.tensorBytes(job.path("augmented/step-000000020.safetensors"))
        #expect(plain["fc1.weight"] != augmented["fc1.weight"])
    }

    @Test("search under mpirun -np 2: every configuration in the table and files, a failing one in its row, the best model scored on the test set")
    func gridSearchOverTwoGroups() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("search")
        let result = try ProcessRunner.mpirun(
            ranks: 2, try ProcessRunner.product("mnist-ddp"), [
                "search", "--lr", "0.003,nan", "--batch-size", "600,1200", "--epochs", "1",
                "--validation-split", "0.05", "--output", output, "--data-dir", ProcessRunner.shippedMNIST,
            ], timeout: 300)
        #expect(result.status == 0 && !result.timedOut, "\(result.output)")
        #expect(result.standardOutput.contains("on 2 ranks in 2 groups"), "\(result.output)")

        let rows = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + "/results.json"))) as? [[String: Any]])
        #expect(rows.compactMap { $0["config"] as? Int }.sorted() == [1, 2, 3, 4])
        for row in rows {
            if row["lr"] is NSNull {
                #expect((row["error"] as? String)?.contains("--lr") == true, "\(row)")
                #expect(row["validation_accuracy"] is NSNull)
            } else {
                #expect((row["validation_accuracy"] as? Double ?? 0) > 0.85, "\(row)")
                #expect(row["ranks"] as? Int == 1 && row["error"] is NSNull)
            }
        }
        let csv = try String(contentsOfFile: output + "/results.csv", encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 5)
        let tableRows = result.standardOutput.split(separator: "\n").filter { $0.first?.isNumber == true }
        #expect(tableRows.count == 4 && tableRows.filter { $0.contains("failed: --lr") }.count == 2, "\(result.output)")

        let best = try CheckpointFormat.decode(CheckpointFormat.open(output + "/best.safetensors"))
        #expect(best.trainingSamples == 57_000)
        let testLine = try #require(result.standardOutput.split(separator: "\n").first { $0.contains("scored once") })
        let accuracy = try #require(Double(testLine.split(separator: " ").first { $0.hasSuffix("%") }!.dropLast()))
        #expect(accuracy > 85, "\(testLine)")
    }
}
