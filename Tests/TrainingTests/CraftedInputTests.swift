import CNN
import Foundation
import SafeTensors
import TestSupport
import Testing
import Training

/// Every crafted input of issue 7, built here: one clear error line, a non-zero exit, within
/// the time limit; no crash, no hang, no unbounded allocation.
extension TrainingFailureTests {
    /// `mnist-ddp evaluate` of `checkpoint` on the test set in `data`.
    func evaluate(_ checkpoint: String, data: String = TrainerJob.dataDirectory) throws -> ProcessResult {
        try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"), ["evaluate", "--checkpoint", checkpoint, "--data-dir", data],
            timeout: Self.promptly)
    }

    /// A data directory holding the shipped files but for `name`, which holds `bytes`.
    func dataDirectory(_ job: TrainerJob, replacing name: String, with bytes: [UInt8]) throws -> String {
        let data = job.path("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for file in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
        where file != name {
            try FileManager.default.copyItem(atPath: TrainerJob.dataDirectory + "/\(file).gz", toPath: data + "/\(file).gz")
        }
        try Data(bytes).write(to: URL(fileURLWithPath: data + "/" + name))
        return data
    }

    @Test("test images whose header says rows = 0xFFFFFFFF stop train and evaluate with one line")
    func rowsOfFourBillion() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let images = IDXFixture.bytes(magic: 0x0803, dimensions: [10_000, 0xFFFF_FFFF, 28], body: [UInt8](repeating: 0, count: 784))
        let data = try dataDirectory(job, replacing: "t10k-images-idx3-ubyte", with: images)
        expectFailure(try job.train(ranks: 2, ["--data-dir", data, "--max-steps", "5"], timeout: Self.promptly), status: .badInput,
                      mentioning: ["t10k-images-idx3-ubyte", "10000×4294967295×28", "exceed"])
        expectFailure(try evaluate(CheckpointFormatTests.versionOne, data: data), status: .badInput,
                      mentioning: ["t10k-images-idx3-ubyte", "exceed"])
    }

    @Test("checkpoints crafted to overflow or spin are refused before any step", arguments: [
        ("adam_step", "9223372036854775807"), ("training_samples", "9223372036854775807"),
        ("batch_sizes", "9223372036854775807"), ("epoch", "9223372036854775807"), ("step_in_epoch", "100000"),
    ])
    func craftedCheckpointMetadata(key: String, value: String) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // Version 1: its checksum leaves the metadata open to change, so only the range checks stand.
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: CheckpointFormatTests.versionOne)))
        let crafted = job.path("crafted.safetensors")
        try Data(CheckpointFormatTests().rewriting(original) { $0[key] = value }).write(to: URL(fileURLWithPath: crafted))
        let result = try job.train(ranks: 2, ["--resume", crafted, "--max-steps", "40"], timeout: Self.promptly)
        expectFailure(result, status: .badInput, mentioning: ["crafted.safetensors", "metadata \"\(key)\" is \(value)"])
        #expect(!result.output.contains("step 1/"))
    }

    @Test("a changed seed under a valid model is caught by the version 2 checksum")
    func tamperedSeed() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: good)))
        let crafted = job.path("seed.safetensors")
        try Data(CheckpointFormatTests().rewriting(bytes) { $0["seed"] = "1" }).write(to: URL(fileURLWithPath: crafted))
        expectFailure(try job.train(ranks: 2, ["--resume", crafted, "--max-steps", "40"], timeout: Self.promptly), status: .badInput,
                      mentioning: ["seed.safetensors", "checksum mismatch"])
    }

    @Test("evaluate verifies a checkpoint's checksum: a flipped exponent bit in fc1.weight is refused")
    func evaluateVerifiesTheChecksum() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let good = try trainGoodCheckpoint(job)
        let file = try SafeTensorsFile(contentsOf: good)
        var bytes = file.bytes
        // The top exponent bit of the first weight: 0.01 becomes about 3.4e36.
        let weight = file.data(of: file.entry(named: "fc1.weight")!).startIndex
        bytes[weight + 3] ^= 0x40
        let crafted = job.path("flipped.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: crafted))
        expectFailure(try evaluate(crafted), status: .badInput, mentioning: ["flipped.safetensors", "checksum mismatch"])
    }

    @Test("evaluate of weights alone (no checksum) with an absurd weight reports without trapping")
    func evaluateAbsurdWeights() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let model = SeedCNN(maxBatch: 1)
        model.initialize(seed: 3)
        var parameters = model.withUnsafeParameters(Array.init)
        let fc1 = ParameterLayout.tensors.first { $0.name == "fc1.weight" }!
        parameters[fc1.range.lowerBound] = Float(bitPattern: parameters[fc1.range.lowerBound].bitPattern ^ 0x4000_0000)
        parameters[fc1.range.lowerBound + 1] = .infinity
        let weights = ParameterLayout.tensors.map { NamedTensor(name: $0.name, shape: $0.shape, floats: Array(parameters[$0.range])) }
        let path = job.path("weights.safetensors")
        try Data(SafeTensorsFile.serialize(weights)).write(to: URL(fileURLWithPath: path))
        let result = try evaluate(path)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.contains("accuracy"), "\(result.output)")
    }

    @Test("a learning rate that makes training diverge stops every rank with the divergence, saving nothing",
          arguments: ["1e8", "1e5"])
    func divergingLearningRate(rate: String) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, ["--lr", rate, "--max-steps", "600"], timeout: 60)
        expectFailure(result, status: .diverged, mentioning: ["training diverged", "no checkpoint was written"])
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    @Test("a FIFO in place of a data file or a checkpoint is refused at once", arguments: ["data", "resume", "init-from", "evaluate"])
    func fifo(place: String) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let fifo = job.path("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let result: ProcessResult
        switch place {
        case "data":
            let data = try dataDirectory(job, replacing: "train-labels-idx1-ubyte", with: [])
            try FileManager.default.removeItem(atPath: data + "/train-labels-idx1-ubyte")
            #expect(mkfifo(data + "/train-labels-idx1-ubyte.gz", 0o600) == 0)
            result = try job.train(ranks: 2, ["--data-dir", data], timeout: Self.promptly)
        case "resume": result = try job.train(ranks: 2, ["--resume", fifo], timeout: Self.promptly)
        case "init-from": result = try job.train(ranks: 2, ["--init-from", fifo], timeout: Self.promptly)
        default: result = try evaluate(fifo)
        }
        expectFailure(result, status: .badInput, mentioning: [place == "data" ? "train-labels-idx1-ubyte.gz" : "fifo", "not a regular file"])
    }

    @Test("a 100 MB safetensors header is refused at once by evaluate")
    func hugeHeader() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        var header = Array(#"{"t":["#.utf8)
        header += [UInt8](repeating: UInt8(ascii: "["), count: 50_000_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 50_000_000)
        header += Array("]}".utf8)
        let length = UInt64(header.count)
        let path = job.path("nested.safetensors")
        try Data((0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + header).write(to: URL(fileURLWithPath: path))
        expectFailure(try evaluate(path), status: .badInput, mentioning: ["nested.safetensors", "larger than"])
    }

    @Test("options beyond any sensible run are refused before any work", arguments: [
        (["--batch-size", "9223372036854775807"], "--batch-size 9223372036854775807"),
        (["--batch-size", "100000000"], "--batch-size 100000000"),
        (["--global-batch-size", "100000000"], "--global-batch-size 100000000"),
        (["--epochs", "9223372036854775807"], "--epochs"),
        (["--max-steps", "9223372036854775807"], "--max-steps"),
        (["--keep", "9223372036854775807"], "--keep"),
        (["--log-every", "9223372036854775807"], "--log-every"),
        (["--eval-every", "9223372036854775807"], "--eval-every"),
        (["--checkpoint-every", "9223372036854775807"], "--checkpoint-every"),
        (["--check-consistency", "9223372036854775807"], "--check-consistency"),
        (["--lr", "inf"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--target-accuracy", "101"], "--target-accuracy"),
        (["--target-accuracy", "nan"], "--target-accuracy"),
    ])
    func optionsOutOfBounds(arguments: [String], named option: String) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        expectFailure(try job.train(ranks: 2, arguments, timeout: Self.promptly), status: .usage, mentioning: [option])
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }
}
