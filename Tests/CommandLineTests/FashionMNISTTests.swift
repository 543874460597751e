import Data
import Foundation
import Testing
import TestSupport

/// `--dataset fashion-mnist`, on Debian's dataset-fashion-mnist package.
@Suite(
    "Fashion-MNIST", .serialized, .startsProcesses, .tags(.processes),
    .enabled(if: FileManager.default.fileExists(atPath: Dataset.fashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz"),
             "skipped: Debian's dataset-fashion-mnist is not installed (scripts/setup.sh installs it where apt can)"))
struct FashionMNISTTests {
    func mnistDDP(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: 300)
    }

    @Test("training on fashion-mnist beats chance, and its checkpoint refuses MNIST in one line naming both")
    func trainsAndRefusesTheOtherDataset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let train = try mnistDDP(["train", "--quiet", "--dataset", "fashion-mnist", "--max-steps", "300",
                                  "--checkpoint-dir", directory.path])
        #expect(train.status == 0, "\(train.output)")
        let accuracy = try #require(train.standardOutput.firstMatch(of: /test accuracy ([0-9.]+)%/).flatMap { Double($0.1) })
        #expect(accuracy > 60, "10 % is chance: \(train.output)")

        let resume = try mnistDDP(["train", "--quiet", "--resume", directory.path, "--max-steps", "400",
                                   "--data-dir", ProcessRunner.shippedMNIST])
        #expect(resume.status != 0)
        let error = resume.standardError.split(separator: "\n")
        #expect(error.count == 1 && error[0].contains("trained on fashion-mnist, not mnist"), "\(resume.output)")

        let evaluateOnMNIST = try mnistDDP(["evaluate", "--checkpoint", directory.path, "--dataset", "mnist"])
        #expect(evaluateOnMNIST.status != 0)
        #expect(evaluateOnMNIST.standardError.contains("trained on fashion-mnist, not mnist"), "\(evaluateOnMNIST.output)")

        // Without --dataset, evaluate takes the checkpoint's.
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", directory.path])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(evaluate.standardOutput.contains("test accuracy \(String(format: "%.2f", accuracy))%"), "\(evaluate.output)")
        #expect(evaluate.standardOutput.contains("T-shirt/top") && evaluate.standardOutput.contains("Ankle boot"),
                "reports name the classes: \(evaluate.output)")
    }

    @Test("search --dataset fashion-mnist trains on it and records it in the best model")
    func searchesFashionMNIST() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("search")
        let search = try mnistDDP(["search", "--dataset", "fashion-mnist", "--lr", "0.003", "--batch-size", "600",
                                   "--epochs", "1", "--validation-split", "0.05", "--output", output])
        #expect(search.status == 0, "\(search.output)")
        // A model trained on MNIST's files would be refused here: evaluate takes the recorded dataset.
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", output + "/best.safetensors"])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(evaluate.standardOutput.contains("Ankle boot"), "the best model records fashion-mnist: \(evaluate.output)")
        let onMNIST = try mnistDDP(["evaluate", "--checkpoint", output + "/best.safetensors", "--dataset", "mnist"])
        #expect(onMNIST.standardError.contains("trained on fashion-mnist, not mnist"), "\(onMNIST.output)")
    }
}
