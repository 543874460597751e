import Distributed
import Foundation
import Testing
import TestSupport
import Training

/// Each way a run can fail: its documented exit status (from mpirun too), one line naming the
/// cause, a prompt end on every rank (each run is under a time limit), and no good checkpoint harmed.
@Suite("Training failures", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct TrainingFailureTests {
    /// Generous for a launch that must stop before the first step; a hang would take forever.
    static let promptly = 30.0

    func expectFailure(
        _ result: ProcessResult, status: Training.ExitStatus, mentioning phrases: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(!result.timedOut, "hung instead of failing:\n\(result.output)", sourceLocation: sourceLocation)
        #expect(result.status == status.rawValue, "exited \(result.status), not \(status):\n\(result.output)", sourceLocation: sourceLocation)
        #expect(result.seconds < Self.promptly, "took \(result.seconds) s", sourceLocation: sourceLocation)
        let errorLines = result.standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp: error: ") }
        #expect(errorLines.count == 1, "expected one error line:\n\(result.output)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(result.standardError.contains(phrase), "no \"\(phrase)\" in:\n\(result.output)", sourceLocation: sourceLocation)
        }
    }

    @Test("a missing data directory stops every rank with the file, the rank and its host named")
    func missingData() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, ["--data-dir", job.path("nowhere")], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["rank 0 of 2 on \(hostName()): ", "nowhere/train-images-idx3-ubyte"])
    }

    @Test("a missing data directory stops a process alone with the bad-input status")
    func missingDataAlone() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: nil, ["--data-dir", job.path("nowhere")], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["nowhere/train-images-idx3-ubyte"])
    }

    @Test("a truncated training file stops every rank with the truncation described")
    func truncatedData() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let data = job.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            try FileManager.default.copyItem(atPath: TrainerJob.dataDirectory + "/" + name, toPath: data + "/" + name)
        }
        // The raw file, cut short in the middle of image 1000.
        let cut = try ProcessRunner.run("/bin/sh", ["-c",
            "gzip -dc '\(TrainerJob.dataDirectory)/train-images-idx3-ubyte.gz' | head -c 784500 > '\(data)/train-images-idx3-ubyte'"])
        #expect(cut.status == 0, "\(cut.output)")
        let result = try job.train(ranks: 2, ["--data-dir", data], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["train-images-idx3-ubyte", "truncated"])
    }

    @Test("a corrupt checkpoint is refused before training and the good one beside it is intact")
    func corruptCheckpoint() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        bytes[bytes.count - 100] ^= 0x01
        let corrupt = job.path("corrupt.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))

        let result = try job.train(ranks: 2, ["--resume", corrupt, "--max-steps", "40"], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["corrupt.safetensors", "checksum mismatch"])
        #expect(job.checkpoints(in: job.path("checkpoints")) == [good])
        #expect(throws: Never.self) { try CheckpointFormat.decode(CheckpointFormat.open(good)) }
    }

    @Test("a truncated checkpoint is refused as truncated, with the bad-input status, by train and evaluate")
    func truncatedCheckpoint() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let truncated = job.path("truncated.safetensors")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))

        let resumed = try job.train(ranks: 2, ["--resume", truncated, "--max-steps", "40"], timeout: Self.promptly)
        expectFailure(resumed, status: .badInput, mentioning: ["truncated.safetensors: truncated or corrupt: its tensors need "])
        let evaluated = try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"), ["evaluate", "--checkpoint", truncated], timeout: Self.promptly)
        expectFailure(evaluated, status: .badInput, mentioning: ["truncated.safetensors: truncated or corrupt"])
    }

    @Test("an unwritable checkpoint directory is refused before the first step")
    func unwritableCheckpointDirectory() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // A directory cannot be made under a regular file, not even by root.
        _ = FileManager.default.createFile(atPath: job.path("file"), contents: Data())
        let result = try job.train(
            ranks: 2, ["--checkpoint-dir", job.path("file/checkpoints"), "--max-steps", "10"], timeout: Self.promptly)
        expectFailure(result, status: .cannotWrite, mentioning: ["file/checkpoints"])
        #expect(!result.output.contains("step 1/"))
    }

    @Test("a diverging loss stops training without overwriting the last good checkpoint")
    func nonFiniteLoss() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        let before = try Data(contentsOf: URL(fileURLWithPath: good))

        // Adam moves each parameter by about the learning rate: 1e30 overflows the logits at once.
        let result = try job.train(ranks: 2, ["--resume", "--lr", "1e30", "--max-steps", "200"], timeout: 60)
        expectFailure(result, status: .diverged, mentioning: ["loss is", "step 2"])
        #expect(job.checkpoints(in: job.path("checkpoints")) == [good])
        #expect(try Data(contentsOf: URL(fileURLWithPath: good)) == before)
    }

    @Test("an error on rank 0 alone in mid-training aborts the whole job with its status instead of leaving ranks waiting")
    func rankLocalErrorAbortsJob() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // /dev/full opens fine and then refuses every write: the first metrics record fails.
        let result = try job.train(ranks: 2, ["--metrics", "/dev/full", "--log-every", "5", "--max-steps", "100"],
                                   timeout: Self.promptly)
        expectFailure(result, status: .cannotWrite, mentioning: ["rank 0 of 2 on \(hostName()): ", "cannot write metrics file /dev/full"])
    }

    @Test("invalid options are refused before any work", arguments: [
        (["--batch-size", "0"], "--batch-size"),
        (["--lr=-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--epochs", "ten"], "--epochs"),
        (["--global-batch-size", "1"], "--global-batch-size 1"),
    ])
    func invalidOptions(arguments: [String], named option: String) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, arguments, timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: [option])
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    @Test("more ranks than training samples is refused")
    func moreRanksThanSamples() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let data = job.path("tiny")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Data(IDXFixture.bytes(magic: 0x0803, dimensions: [2, 28, 28], body: [UInt8](repeating: 0, count: 2 * 784)))
            .write(to: URL(fileURLWithPath: data + "/train-images-idx3-ubyte"))
        try Data(IDXFixture.bytes(magic: 0x0801, dimensions: [2], body: [3, 7]))
            .write(to: URL(fileURLWithPath: data + "/train-labels-idx1-ubyte"))
        let result = try job.train(ranks: 3, ["--data-dir", data], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: ["3 ranks for 2 training samples"])
    }

    @Test("test images of another size than the training images are refused before the first step")
    func wrongImageSize() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let data = try smallImages(job, sides: ["train": 28, "t10k": 5])
        let result = try job.train(ranks: 2, ["--data-dir", data, "--batch-size", "2"], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["the training images are 28×28, the test images 5×5"])
    }

    @Test("a network that does not fit the data's images is refused on every rank in one line, with the usage status")
    func networkNotFittingTheImages() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let data = try smallImages(job, sides: ["train": 5, "t10k": 5])
        // LeNet-5's first pooling leaves 2×2 maps, too small for its second 5×5 convolution.
        let result = try job.train(ranks: 2, ["--data-dir", data, "--batch-size", "2", "--model", "lenet5"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: [
            "--model: layer 4 (conv2): a 5×5 kernel with padding 0 is larger than its 2×2 input", "1×5×5 images, 10 classes",
        ])
    }

    @Test("a network whose checkpoints would be too large to read back is refused before the first step")
    func networkTooLargeForACheckpoint() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // 6,272 features into 2,048: 12.8 million parameters, 154 MB with Adam's moments.
        let result = try job.train(ranks: 2, ["--model", "conv(8,3,pad=1) flatten linear(2048) linear"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: ["--model: its checkpoints would hold", "more than the 64 MiB a checkpoint may have"])
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    @Test("a network description that does not parse is refused before any work, naming the layer, with the usage status")
    func badNetworkDescription() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, ["--model", "conv(8,3) relu pool(2) flatten linear"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: ["--model: layer 3 'pool(2)': unknown layer 'pool'"])
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    @Test("resuming with another --model than the checkpoint's network is refused, saying which it holds")
    func resumeWithAnotherNetwork() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        let result = try job.train(ranks: 2, ["--resume", "--model", "lenet5", "--max-steps", "40"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: [
            "\(good) holds the network 'conv1=conv(8,3,pad=1)", "give --model 'conv1=conv(8,3,pad=1)",
        ])
        #expect(job.checkpoints(in: job.path("checkpoints")) == [good])
    }

    /// A data directory of 4 training and 4 test images, each split's images `sides[split]` square.
    func smallImages(_ job: TrainerJob, sides: [String: Int]) throws -> String {
        let data = job.path("small")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for (split, side) in sides {
            try Data(IDXFixture.bytes(magic: 0x0803, dimensions: [4, UInt32(side), UInt32(side)], body: [UInt8](repeating: 9, count: 4 * side * side)))
                .write(to: URL(fileURLWithPath: data + "/\(split)-images-idx3-ubyte"))
            try Data(IDXFixture.bytes(magic: 0x0801, dimensions: [4], body: [1, 2, 3, 4]))
                .write(to: URL(fileURLWithPath: data + "/\(split)-labels-idx1-ubyte"))
        }
        return data
    }

    /// A short run's checkpoint, for the tests that must leave it intact.
    func trainGoodCheckpoint(_ job: TrainerJob) throws -> String {
        let result = try job.train(ranks: 2, ["--max-steps", "20", "--eval-every", "10"])
        #expect(result.status == 0, "\(result.output)")
        return job.path("checkpoints/step-000000020.safetensors")
    }
}
