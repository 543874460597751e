import Foundation
import Testing
import TestSupport

/// scripts/pytorch_model.py builds any network from mnist-ddp's canonical description; the one
/// description it holds itself, for checkpoints that record none, is the seed network's.
/// scripts/load_checkpoint_in_pytorch.py builds a checkpoint's network with it and scores it.
@Suite("scripts/pytorch_model.py", .startsProcesses, .tags(.processes))
struct PyTorchModelScriptTests {
    @Test func itsSeedDescriptionIsWhatMnistDDPPrintsForTheSeed() throws {
        let result = try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), ["model", "seed", "--canonical"], timeout: 30)
        #expect(result.status == 0, "\(result.output)")
        let script = try String(
            contentsOf: ProcessRunner.packageRoot.appendingPathComponent("scripts/pytorch_model.py"), encoding: .utf8)
        let line = try #require(script.split(separator: "\n").first { $0.hasPrefix("SEED_MODEL = ") })
        #expect("SEED_MODEL = \"\(result.standardOutput.trimmingCharacters(in: .newlines))\"" == line)
    }

    @Test("load_checkpoint_in_pytorch.py builds the checkpoint's network and scores its classes as we scored them",
          .enabled(if: PyTorchSnippetTests.hasPyTorch, "needs PyTorch: python3 -m pip install torch safetensors numpy, or TORCH_PYTHON=/path/to/python"),
          arguments: [[], ["--model", "lenet5", "--classes", "7,3,5"]])
    func loadCheckpointScriptScoresWhatWeScored(network: [String]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let checkpoints = directory.file("checkpoints")
        let train = try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"),
            ["train", "--local", "--quiet", "--max-steps", "200", "--data-dir", ProcessRunner.shippedMNIST, "--checkpoint-dir", checkpoints]
                + network)
        #expect(train.status == 0, "\(train.output)")
        let accuracy = try #require(train.standardOutput.split(separator: "  ").first, "\(train.output)")

        let checkpoint = checkpoints + "/step-000000200.safetensors"
        let script = ProcessRunner.packageRoot.appendingPathComponent("scripts/load_checkpoint_in_pytorch.py").path
        let result = try ProcessRunner.run(
            "/usr/bin/env", [PyTorchSnippetTests.python, script, checkpoint, "--data-dir", ProcessRunner.shippedMNIST], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.hasPrefix("\(checkpoint): \(accuracy) ("), "ours: \(accuracy)\n\(result.output)")
    }
}
