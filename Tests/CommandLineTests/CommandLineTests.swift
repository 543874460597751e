import Foundation
import Testing
import TestSupport
import Training

/// The `mnist-ddp` binary as a user meets it: help, evaluation of saved weights, benchmarks.
@Suite("mnist-ddp command line", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct CommandLineTests {
    func mnistDDP(_ arguments: [String], timeout: Double = 60) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: timeout)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("--help lists the subcommands")
    func helpListsSubcommands() throws {
        let result = try mnistDDP(["--help"])
        #expect(result.status == 0)
        for subcommand in ["train", "evaluate", "predict", "show", "bench"] {
            #expect(result.standardOutput.contains("  \(subcommand) "), "\(result.output)")
        }
    }

    @Test("--help lists every exit status, and launchers count only 1 and unlisted ones as faults")
    func helpListsExitStatuses() throws {
        let result = try mnistDDP(["--help"])
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for status in Training.ExitStatus.allCases {
            #expect(lines.contains { $0.hasPrefix("\(status.rawValue) ") }, "no status \(status.rawValue) in:\n\(result.output)")
        }
        #expect(Training.ExitStatus.allCases.filter { Training.ExitStatus.isFault($0.rawValue) } == [Training.ExitStatus.fault])
        #expect(Training.ExitStatus.isFault(137) && Training.ExitStatus.isFault(9) && !Training.ExitStatus.isFault(0))
    }

    @Test("--version names the release, the commit built, Swift, Open MPI and the kernel paths this CPU runs")
    func version() throws {
        let result = try mnistDDP(["--version"])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        try #require(lines.count == 5, "\(result.output)")
        #expect(lines[0].hasPrefix("mnist-ddp "))
        #expect(lines[2].hasPrefix("Swift version 6."))
        #expect(lines[3].hasPrefix("Open MPI v"))
        let kernels = try mnistDDP(["bench", "--list-kernels"])
        let fastest = try #require(kernels.standardOutput.split(whereSeparator: \.isWhitespace).first, "\(kernels.output)")
        #expect(lines[4].hasPrefix("kernel paths this CPU runs: \(fastest)"), "\(result.output)\n\(kernels.output)")
        // Built from this checkout: its commit, as git names it.
        let head = try ProcessRunner.run("/usr/bin/env", ["git", "-C", ProcessRunner.packageRoot.path, "rev-parse", "HEAD"])
        if head.status == 0 {
            #expect(lines[1].hasPrefix("commit \(head.standardOutput.prefix(12))"), "\(result.output)")
        } else {
            #expect(lines[1] == "commit unknown", "\(result.output)")
        }
    }

    @Test("a negative number after an option is its value, refused by the option's own check, not as a missing value",
          arguments: [
              (["train", "--lr", "-1"], "--lr must be a positive finite number, got -1.0"),
              (["train", "--epochs", "-3"], "--epochs must be at least 1, got -3"),
              (["train", "--stall-timeout", "-1"], "--stall-timeout must be between 0 (off) and 86400 seconds, got -1"),
              (["show", "--count", "-5", "--output", "/dev/null"], "--count must be at least 1, got -5"),
          ])
    func negativeNumbers(arguments: [String], message: String) throws {
        let result = try mnistDDP(arguments + ["--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status != 0)
        #expect(result.standardError == "mnist-ddp: error: \(message)\n", "\(result.output)")
    }

    @Test("evaluate scores a trained checkpoint on the whole test set")
    func evaluateCheckpoint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = ProcessRunner.shippedMNIST
        let train = try mnistDDP(["train", "--quiet", "--max-steps", "200", "--data-dir", data,
                                  "--checkpoint-dir", directory.path])
        #expect(train.status == 0, "\(train.output)")
        let trainedAccuracy = try #require(train.standardOutput.split(separator: "\n").first { $0.hasPrefix("test accuracy") })

        let result = try mnistDDP(["evaluate", "--checkpoint", directory.file("step-000000200.safetensors"), "--data-dir", data])
        #expect(result.status == 0, "\(result.output)")
        // The same weights on the same images: the same figures as training's final evaluation.
        #expect(result.standardOutput.contains(trainedAccuracy), "\(result.output)")
        #expect(result.standardOutput.contains("confusion matrix"))
    }

    @Test("evaluate takes a checkpoint directory's newest checkpoint, as --resume does")
    func evaluateDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = ProcessRunner.shippedMNIST
        // Ten steps per epoch: checkpoints at steps 10 and 20.
        let train = try mnistDDP(["train", "--quiet", "--max-steps", "20", "--global-batch-size", "6000",
                                  "--data-dir", data, "--checkpoint-dir", directory.path])
        #expect(train.status == 0, "\(train.output)")
        let trainedAccuracy = try #require(train.standardOutput.split(separator: "\n").first { $0.hasPrefix("test accuracy") })

        let result = try mnistDDP(["evaluate", "--checkpoint", directory.path, "--data-dir", data])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.hasPrefix(directory.file("step-000000020.safetensors") + ": " + trainedAccuracy),
                "\(result.output)")
    }

    @Test("evaluate verifies a checkpoint's checksum and refuses a corrupt one")
    func evaluateVerifiesChecksum() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = ProcessRunner.shippedMNIST
        let train = try mnistDDP(["train", "--quiet", "--max-steps", "10", "--data-dir", data, "--checkpoint-dir", directory.path])
        #expect(train.status == 0, "\(train.output)")
        let path = directory.file("step-000000010.safetensors")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // A bit of the first fc1.weight's exponent: a model that still evaluates, wrongly.
        let dataStart = 8 + (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) as? [String: Any])
        let offsets = try #require((header["fc1.weight"] as? [String: Any])?["data_offsets"] as? [Int])
        bytes[dataStart + offsets[0] + 3] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let result = try mnistDDP(["evaluate", "--checkpoint", path, "--data-dir", data])
        #expect(result.status != 0, "\(result.output)")
        #expect(result.standardError.contains("\(path): checksum mismatch"), "\(result.output)")
        #expect(!result.standardOutput.contains("test accuracy"), "\(result.output)")
    }

    @Test("evaluate refuses a file that is not safetensors, naming it")
    func evaluateRefusesGarbage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("not-a-model.safetensors")
        try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        let result = try mnistDDP(["evaluate", "--checkpoint", path])
        #expect(result.status != 0)
        #expect(result.standardError.contains(path), "\(result.output)")
    }

    @Test("bench reports every kernel, the whole step and the batch filling with --augment as JSON")
    func kernelBenchmarkJSON() throws {
        let result = try mnistDDP(["bench", "--iterations", "2", "--repeats", "1", "--json", "-"])
        #expect(result.status == 0, "\(result.output)")
        let report = try json(result.standardOutput)
        let kernels = try #require(report["kernels"] as? [[String: Any]])
        let names = kernels.compactMap { $0["name"] as? String }
        for stage in ["conv1 forward", "conv2 forward", "conv2 weight backward", "conv2 input backward", "adam"] {
            #expect(names.contains(stage), "no \(stage) in \(names)")
        }
        #expect(kernels.allSatisfy { ($0["microseconds_per_batch"] as? Double ?? 0) > 0 })
        #expect((report["peak_gflops_per_second_one_core"] as? Double ?? 0) > 1, "\(report.keys.sorted())")
        let filling = try #require(report["batch_filling"] as? [String: Double], "\(report.keys.sorted())")
        for key in ["plain_microseconds_per_batch", "augmented_microseconds_per_batch", "augmented_fraction_of_train_step"] {
            #expect((filling[key] ?? 0) > 0, "\(key) in \(filling)")
        }
        let added = try #require(filling["added_by_augmentation_microseconds_per_batch"], "\(filling)")
        let difference = (filling["augmented_microseconds_per_batch"] ?? 0) - (filling["plain_microseconds_per_batch"] ?? 0)
        #expect(abs(added - difference) < 1e-6, "\(filling)")
    }

    @Test("bench --model times every layer of the network forward and backward, with its FLOPs")
    func layerBenchmarkJSON() throws {
        let result = try mnistDDP(["bench", "--model", "lenet5", "--iterations", "2", "--repeats", "1", "--json", "-"])
        #expect(result.status == 0, "\(result.output)")
        let report = try json(result.standardOutput)
        #expect(report["seed_kernels"] as? Bool == false)
        #expect((report["model"] as? String)?.hasPrefix("conv1=conv(6,5,pad=2) relu maxpool(2)") == true, "\(report["model"] ?? "")")
        let kernels = try #require(report["kernels"] as? [[String: Any]])
        let names = kernels.compactMap { $0["name"] as? String }
        for pass in ["conv1 forward", "conv2 forward", "fc3 forward", "softmax cross-entropy", "fc1 backward", "conv1 backward", "adam"] {
            #expect(names.contains(pass), "no \(pass) in \(names)")
        }
        let conv2 = try #require(kernels.first { $0["name"] as? String == "conv2 backward" })
        #expect((conv2["fraction_of_peak"] as? Double ?? 0) > 0, "\(conv2)")
        #expect(report["batch_filling"] != nil)

        let other = try mnistDDP(["bench", "--model", "conv(4,3) relu flatten linear", "--input", "3x9x9", "--classes", "5",
                                  "--iterations", "1", "--repeats", "1"])
        #expect(other.status == 0, "\(other.output)")
        #expect(other.standardOutput.contains("Layers of one training step of conv1=conv(4,3,pad=0) relu flatten fc1=linear(5)"),
                "\(other.output)")
        #expect(!other.standardOutput.contains("batch filling"), "\(other.output)")

        let bad = try mnistDDP(["bench", "--model", "conv(4,7) flatten linear", "--input", "1x5x5"])
        #expect(bad.status != 0)
        #expect(bad.standardError.contains("layer 1 (conv1): a 7×7 kernel with padding 0 is larger than its 5×5 input"), "\(bad.output)")
    }

    @Test("bench allreduce under mpirun fits a latency and a per-byte cost")
    func allReduceBenchmark() throws {
        let result = try ProcessRunner.mpirun(
            ranks: 2, try ProcessRunner.product("mnist-ddp"), ["bench", "allreduce", "--max-bytes", "65536", "--json", "-"],
            timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        let report = try json(result.standardOutput)
        let model = try #require(report["all_reduce_model"] as? [String: Any])
        #expect(model.values.contains { ($0 as? Double ?? 0) > 0 }, "\(model)")
        #expect(report["gradient_bytes"] as? Int == 36_392)
    }

    @Test("bench allreduce alone says it needs mpirun")
    func allReduceBenchmarkAlone() throws {
        let result = try mnistDDP(["bench", "allreduce"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("mpirun"), "\(result.output)")
    }
}
