import Data
import Foundation
import Imaging
import Testing
import TestSupport

/// `--dataset idx`: IDX files whose labels tell the class count, trained on, evaluated and shown.
@Suite("IDX files of any labels on the command line", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct IDXDatasetCommandTests {
    func mnistDDP(_ arguments: [String], timeout: Double = 120) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: timeout)
    }

    func accuracy(_ text: String) -> String? {
        text.firstMatch(of: /test accuracy ([0-9.]+)%/).map { String($0.1) }
    }

    @Test("3 classes of 8×12 images train on 2 ranks under a small network; evaluate scores the checkpoint alike and show draws it")
    func trainsEvaluatesAndShows() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let data = directory.file("bands")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for (split, count) in [(MNISTSplit.train, 120), (.test, 30)] {
            try IDXFixture.writeSplit(split, labels: (0 ..< count).map { UInt8($0 % 3) }, rows: 8, columns: 12, bands: 3, in: data)
        }
        let checkpoints = directory.file("checkpoints")
        let train = try ProcessRunner.mpirun(
            ranks: 2, try ProcessRunner.product("mnist-ddp"),
            ["train", "--quiet", "--dataset", "idx", "--data-dir", data, "--model", "conv(4,3,pad=1) relu flatten linear",
             "--epochs", "2", "--batch-size", "10", "--checkpoint-dir", checkpoints], timeout: 300)
        #expect(train.status == 0, "\(train.output)")
        let trained = try #require(accuracy(train.standardOutput), "\(train.output)")
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", checkpoints, "--data-dir", data])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(accuracy(evaluate.standardOutput) == trained, "\(evaluate.output)")
        let show = try mnistDDP(["show", "--checkpoint", checkpoints, "--data-dir", data, "--output", directory.file("grid.png")])
        #expect(show.status == 0, "\(show.output)")
        #expect(FileManager.default.fileExists(atPath: directory.file("grid.png")))

        // A picture twice the images' size, bright in the last third of its columns as class 2's
        // images are: predict area-resizes it to 8×12 (no MNIST-style centring for these).
        let picture = Bitmap(width: 24, height: 16, channels: 1, samples: (0 ..< 16 * 24).map { $0 % 24 >= 16 ? 230 : 10 })
        try Data(try PNG.encode(picture, for: "band.png")).write(to: URL(fileURLWithPath: directory.file("band.png")))
        let predict = try mnistDDP(["predict", "--checkpoint", checkpoints, directory.file("band.png")])
        #expect(predict.status == 0, "\(predict.output)")
        #expect(predict.standardOutput.hasPrefix(directory.file("band.png") + ": 2 "), "\(predict.output)")
    }

    @Test("ranks that read different data (another --data-dir on one node) stop at the start, saying what differs")
    func ranksReadingDifferentDataStop() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func dataDirectory(_ name: String, rows: Int) throws -> String {
            let data = directory.file(name)
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            for (split, count) in [(MNISTSplit.train, 40), (.test, 10)] {
                try IDXFixture.writeSplit(split, labels: (0 ..< count).map { UInt8($0 % 3) }, rows: rows, columns: 12, bands: 3, in: data)
            }
            return data
        }
        let executable = try ProcessRunner.product("mnist-ddp")
        func rank(_ data: String) -> [String] {
            ["-np", "1", executable, "train", "--dataset", "idx", "--data-dir", data, "--model", "flatten linear",
             "--epochs", "1", "--batch-size", "10", "--checkpoint-dir", directory.file("checkpoints")]
        }
        let result = try ProcessRunner.run(
            try ProcessRunner.mpirunPath(),
            ProcessRunner.mpirunOptions + rank(try dataDirectory("narrow", rows: 8)) + [":"] + rank(try dataDirectory("tall", rows: 10)),
            timeout: 120)
        #expect(result.status == 65, "\(result.output)")
        #expect(result.output.contains("rank 1 of 2 on "), "\(result.output)")
        #expect(result.output.contains("holds 10×12 images here but 8×12 images on rank 0: every rank must read the same data"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("checkpoints/best.safetensors")), "\(result.output)")
    }

    @Test("--dataset idx without --data-dir is a usage error naming it")
    func needsDataDirectory() throws {
        let result = try mnistDDP(["train", "--dataset", "idx"])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.standardError.contains("--dataset idx needs --data-dir"), "\(result.output)")
    }
}
