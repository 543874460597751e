import Foundation
import SafeTensors
import Testing
import TestSupport
import Training

/// Whole training runs of the real binary on the real data, alone and under mpirun. Short: a
/// few hundred steps at most.
@Suite("Distributed training end to end", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct DistributedTrainingTests {
    @Test("two ranks learn: loss falls, a short run passes 90% test accuracy, checkpoint and metrics appear")
    func twoRanksLearn() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let metrics = job.path("metrics.jsonl")
        let result = try job.train(ranks: 2, ["--max-steps", "300", "--log-every", "50", "--metrics", metrics])
        #expect(result.status == 0 && !result.timedOut, "\(result.output)")

        let records = try job.metrics(metrics)
        let losses = records.filter { $0["type"] as? String == "step" }.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 6)
        #expect(losses.last! < losses.first! / 2, "loss \(losses) did not fall")
        let summary = try #require(records.last { $0["type"] as? String == "summary" })
        let accuracy = try #require(summary["test_accuracy"] as? Double)
        #expect(accuracy >= 0.90, "test accuracy \(accuracy) after 300 steps")
        #expect(summary["world_size"] as? Int == 2 && summary["steps"] as? Int == 300)

        let checkpoint = job.path("checkpoints/step-000000300.safetensors")
        let snapshot = try CheckpointFormat.decode(CheckpointFormat.open(checkpoint))
        #expect(snapshot.position.step == 300 && snapshot.worldSize == 2 && snapshot.adamStep == 300)
    }

    @Test("the same seed twice gives bit-identical parameters and optimizer state")
    func sameSeedIsReproducible() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let arguments = ["--max-steps", "60", "--eval-every", "10"]
        for run in ["first", "second"] {
            let result = try job.train(ranks: 2, arguments + ["--checkpoint-dir", job.path(run)])
            #expect(result.status == 0, "\(result.output)")
        }
        let first = try job.tensorBytes(job.path("first/step-000000060.safetensors"))
        let second = try job.tensorBytes(job.path("second/step-000000060.safetensors"))
        #expect(first.count == 18 && first == second)
    }

    @Test(
        "stopping at a checkpoint and resuming ends bit-identical to the uninterrupted run, with or without --augment",
        arguments: [[], ["--augment"]])
    func resumeIsExact(augment: [String]) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // 50 steps per epoch: the resumed run crosses an epoch boundary, reshuffling (and with
        // --augment drawing new turns and shifts) on the way.
        let common = ["--batch-size", "600", "--eval-every", "10"] + augment
        let whole = try job.train(ranks: 2, common + ["--max-steps", "80", "--checkpoint-dir", job.path("whole")])
        #expect(whole.status == 0, "\(whole.output)")
        let stopped = try job.train(ranks: 2, common + ["--max-steps", "30", "--checkpoint-dir", job.path("parts")])
        #expect(stopped.status == 0, "\(stopped.output)")
        let resumed = try job.train(
            ranks: 2, common + ["--max-steps", "80", "--checkpoint-dir", job.path("parts"), "--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")

        let expected = try job.tensorBytes(job.path("whole/step-000000080.safetensors"))
        let actual = try job.tensorBytes(job.path("parts/step-000000080.safetensors"))
        #expect(expected == actual)
    }

    @Test("local mode and mpirun -np 1 give bit-identical results")
    func localEqualsSingleRank() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let arguments = ["--max-steps", "60", "--eval-every", "10"]
        let local = try job.train(ranks: nil, arguments + ["--checkpoint-dir", job.path("local")])
        #expect(local.status == 0, "\(local.output)")
        let mpi = try job.train(ranks: 1, arguments + ["--checkpoint-dir", job.path("mpi")])
        #expect(mpi.status == 0, "\(mpi.output)")
        #expect(try job.tensorBytes(job.path("local/step-000000060.safetensors"))
            == job.tensorBytes(job.path("mpi/step-000000060.safetensors")))
    }

    @Test("every rank holds the same parameters after every step")
    func replicasStayIdentical() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 3, ["--max-steps", "40", "--check-consistency", "1", "--eval-every", "10"])
        #expect(result.status == 0 && !result.output.contains("diverged"), "\(result.output)")
    }

    @Test("a run resumed at another world size continues from the step after the checkpoint, and its cosine from the same point of training")
    func resumeAtAnotherWorldSize() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let common = ["--batch-size", "600", "--eval-every", "10", "--log-every", "1", "--epochs", "2", "--lr-schedule", "cosine"]
        let first = try job.train(ranks: 2, common + ["--max-steps", "30"])
        #expect(first.status == 0, "\(first.output)")
        let metrics = job.path("metrics.jsonl")
        let resumed = try job.train(ranks: 3, common + ["--max-steps", "45", "--resume", "--metrics", metrics])
        #expect(resumed.status == 0, "\(resumed.output)")

        let records = try job.metrics(metrics).filter { $0["type"] as? String == "step" }
        let steps = records.compactMap { $0["step"] as? Int }
        #expect(steps == Array(31...45))
        let snapshot = try CheckpointFormat.decode(
            CheckpointFormat.open(job.path("checkpoints/step-000000045.safetensors")))
        #expect(snapshot.worldSize == 3 && snapshot.adamStep == 45)
        // 30 of 50 steps at 2 ranks is 60% of the epoch: 20 of the 34 steps at 3 ranks. The 15
        // steps after it finish the epoch (14) and take the first step of the next.
        #expect(snapshot.position == TrainingPosition(step: 45, epoch: 1, stepInEpoch: 1))
        // Step 31 stands where update 21 of a 3-rank run would, so the cosine, spread over the
        // 2 × 34 updates of such a run, ends at 0 at the resumed run's last update (step 78).
        let schedule = LearningRateSchedule(base: 0.001, decay: .cosine, totalSteps: 2 * 34)
        #expect(records.compactMap { ($0["lr"] as? Double).map(Float.init) } == (21...35).map(schedule.rate(ofUpdate:)))
    }

    @Test("uneven shards: every sample is used once per epoch and no rank waits forever", arguments: [3, 7])
    func unevenShards(ranks: Int) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let metrics = job.path("metrics.jsonl")
        let result = try job.train(
            ranks: ranks, ["--epochs", "1", "--batch-size", "1000", "--metrics", metrics], timeout: 180)
        #expect(result.status == 0 && !result.timedOut, "\(result.output)")
        let epoch = try #require(try job.metrics(metrics).first { $0["type"] as? String == "epoch" })
        #expect(epoch["samples"] as? Int == 60_000)
    }

    @Test("the checkpoint is a valid safetensors file for the reference Python reader")
    func pythonReadsCheckpoint() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: nil, ["--max-steps", "5", "--eval-every", "10"])
        #expect(result.status == 0, "\(result.output)")
        let script = """
            import sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            shapes = {"conv1.weight": (8, 1, 3, 3), "conv1.bias": (8,), "conv2.weight": (16, 8, 3, 3),
                      "conv2.bias": (16,), "fc1.weight": (10, 784), "fc1.bias": (10,)}
            for name, shape in shapes.items():
                for prefix in ("", "optimizer.exp_avg.", "optimizer.exp_avg_sq."):
                    assert tensors[prefix + name].shape == shape, (prefix + name, tensors[prefix + name].shape)
                    assert str(tensors[prefix + name].dtype) == "float32"
            assert len(tensors) == 18, sorted(tensors)
            with safe_open(sys.argv[1], "np") as f:
                metadata = f.metadata()
            assert metadata["step"] == "5" and metadata["format_version"] == "2", metadata
            print("python read", len(tensors), "tensors")
            """
        let python = try ProcessRunner.run(
            "/usr/bin/env", ["python3", "-c", script, job.path("checkpoints/step-000000005.safetensors")])
        #expect(python.status == 0, "python3 with safetensors and numpy is required (scripts/setup.sh installs them):\n\(python.output)")
        #expect(python.standardOutput.contains("python read 18 tensors"))
    }
}

@Suite("Starting from saved weights", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct InitFromTests {
    @Test("--init-from takes the weights of a PyTorch-style state_dict file and starts a fresh optimizer")
    func initFromWeightsAlone() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let trained = try job.train(ranks: nil, ["--max-steps", "300", "--eval-every", "10", "--checkpoint-dir", job.path("trained")])
        #expect(trained.status == 0, "\(trained.output)")
        // The six model tensors alone, as safetensors.torch.save_file(model.state_dict()) writes them.
        let checkpoint = try SafeTensorsFile(contentsOf: job.path("trained/step-000000300.safetensors"))
        let weights = try ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"].map { name in
            NamedTensor(name: name, shape: try #require(checkpoint.entry(named: name)).shape,
                        floats: try checkpoint.floats(named: name))
        }
        let weightsPath = job.path("weights.safetensors")
        try Data(SafeTensorsFile.serialize(weights, metadata: ["format": "pt"])).write(to: URL(fileURLWithPath: weightsPath))

        let metrics = job.path("metrics.jsonl")
        let tuned = try job.train(ranks: nil, ["--init-from", weightsPath, "--max-steps", "1", "--metrics", metrics,
                                                "--checkpoint-dir", job.path("tuned")])
        #expect(tuned.status == 0, "\(tuned.output)")
        let snapshot = try CheckpointFormat.decode(CheckpointFormat.open(job.path("tuned/step-000000001.safetensors")))
        #expect(snapshot.adamStep == 1 && snapshot.position.step == 1)
        // One step from trained weights keeps their accuracy; one step from scratch would be near chance.
        let summary = try #require(try job.metrics(metrics).last { $0["type"] as? String == "summary" })
        #expect((summary["test_accuracy"] as? Double ?? 0) > 0.85, "\(summary)")
    }
}
