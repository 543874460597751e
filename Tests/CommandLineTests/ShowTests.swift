import Data
import Foundation
import Imaging
import Testing
import TestSupport

/// `mnist-ddp show` and `scripts/plot-metrics.sh`: the pictures.
@Suite("pictures: show and plot-metrics", .serialized, .startsProcesses, .tags(.processes))
struct ShowTests {
    func mnistDDP(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: 120)
    }

    /// Whether any pixel of an RGB image is exactly `colour`.
    func contains(_ image: Bitmap, _ colour: Colour) -> Bool {
        stride(from: 0, to: image.samples.count, by: 3).contains {
            image.samples[$0] == colour.red && image.samples[$0 + 1] == colour.green && image.samples[$0 + 2] == colour.blue
        }
    }

    /// The grey bytes of the 28×28 image at `row`, `column` of a grid drawn at the default scale
    /// of 3 under one caption line (as `gridSize` measures it: 94 px cells, 116 px rows).
    func tile(_ grid: Bitmap, row: Int, column: Int) -> [UInt8] {
        let (left, top) = (12 + column * 94, 12 + 24 + row * 116 + 22)
        return (0 ..< 28 * 28).map { grid.samples[((top + $0 / 28 * 3) * grid.width + left + $0 % 28 * 3) * 3] }
    }

    /// The `index` of each image `show --json` printed.
    func shownIndices(_ result: ProcessResult) throws -> [Int] {
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]])
        return shown.compactMap { $0["index"] as? Int }
    }

    @Test("show draws the first images of the test set as a PNG sized for a screen")
    func gridSize() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("grid.png")
        let result = try mnistDDP(["show", "--output", output, "--count", "16", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        let grid = try PNG.read(output)
        // 8 columns of 28×3 = 84 px images, 10 px apart, 12 px margins: 24 + 8·94 − 10 wide; a
        // title line of 24 px, then 2 rows of a 20 px label, 2 px, the image and 10 px.
        #expect(grid.width == 766 && grid.height == 24 + 24 + 2 * 116 - 10 && grid.channels == 3)
        #expect(!contains(grid, .red), "no predictions, so nothing marked wrong")
    }

    @Test("show --split validation --validation-split N draws the last N samples of the training file")
    func validationSplitShowsLastSamples() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("validation.png")
        let result = try mnistDDP(["show", "--output", output, "--split", "validation", "--validation-split", "10",
                                   "--count", "16", "--json", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        #expect(try shownIndices(result) == Array(59_990 ..< 60_000))

        let last = try MNISTDataset.load(.train, from: ProcessRunner.shippedMNIST, samples: 59_990 ..< 60_000)
        let grid = try PNG.read(output)
        #expect(grid.width == 766 && grid.height == 24 + 24 + 2 * 116 - 10 && grid.channels == 3)
        for position in 0 ..< 10 {
            #expect(tile(grid, row: position / 8, column: position % 8) == Array(last.pixels[position * 784 ..< (position + 1) * 784]),
                    "image \(position) of the grid is training sample \(59_990 + position)")
        }
    }

    @Test("show --split validation takes the samples the checkpoint's run held out")
    func validationSplitFromCheckpoint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let checkpoints = directory.file("checkpoints")
        let train = try mnistDDP(["train", "--quiet", "--max-steps", "1", "--validation-split", "5",
                                  "--checkpoint-dir", checkpoints, "--data-dir", ProcessRunner.shippedMNIST])
        #expect(train.status == 0, "\(train.output)")
        let result = try mnistDDP(["show", "--output", directory.file("held-out.png"), "--checkpoint", checkpoints,
                                   "--split", "validation", "--json", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        #expect(try shownIndices(result) == Array(59_995 ..< 60_000))
    }

    @Test("show --split validation with no split to take is refused in one line")
    func validationSplitNeeded() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("never.png")
        for weights in [[], ["--checkpoint", try TrainedMNIST.checkpoint()]] {
            let result = try mnistDDP(["show", "--output", output, "--split", "validation", "--data-dir", ProcessRunner.shippedMNIST] + weights)
            #expect(result.status != 0)
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("--validation-split"), "\(result.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("show --augment draws each training image, then 7 draws of train's augmentation, each unlike the image and the others")
    func augmentDraws() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("augment.png")
        let result = try mnistDDP(["show", "--output", output, "--augment", "--count", "2", "--seed", "3",
                                   "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        let grid = try PNG.read(output)
        #expect(grid.width == 766 && grid.height == 24 + 24 + 2 * 116 - 10 && grid.channels == 3)
        let first = try MNISTDataset.load(.train, from: ProcessRunner.shippedMNIST, samples: 0 ..< 2)
        for row in 0 ..< 2 {
            #expect(tile(grid, row: row, column: 0) == Array(first.pixels[row * 784 ..< (row + 1) * 784]))
            let draws = (1 ..< 8).map { tile(grid, row: row, column: $0) }
            #expect(!draws.contains(tile(grid, row: row, column: 0)), "every draw moves the image")
            #expect(Set(draws).count == 7, "no two draws alike")
        }
    }

    @Test("show --augment with no turn and no shift draws the image unchanged")
    func augmentWithoutBoundsIsIdentity() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("still.png")
        let result = try mnistDDP(["show", "--output", output, "--augment", "--count", "1", "--columns", "4",
                                   "--augment-rotation", "0", "--augment-shift", "0", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        let grid = try PNG.read(output)
        #expect(grid.height == 24 + 24 + 116 - 10)
        for column in 1 ..< 4 { #expect(tile(grid, row: 0, column: column) == tile(grid, row: 0, column: 0)) }
    }

    @Test("show --augment refuses bounds train refuses, in train's words")
    func augmentBoundsAsTrain() throws {
        let result = try mnistDDP(["show", "--output", "/tmp/never.png", "--augment", "--augment-rotation", "50"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--augment-rotation must be between 0 and 45 degrees, got 50.0"), "\(result.output)")
    }

    @Test("show refuses a grid too large to hold in memory, in one line and before drawing any image",
          arguments: [["--augment", "--count", "99999999999"], ["--augment", "--columns", "9223372036854775807"],
                      ["--split", "train", "--count", "60000"]])
    func gridTooLargeIsRefused(arguments: [String]) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("huge.png")
        let result = try mnistDDP(["show", "--output", output, "--data-dir", ProcessRunner.shippedMNIST] + arguments)
        #expect(result.status != 0)
        #expect(result.standardError.contains("million pixels; ask for at most"), "\(result.output)")
        #expect(result.standardError.split(separator: "\n").count == 1, "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("show --misclassified holds every mistake and nothing else, the most confident first, marked in red")
    func misclassifiedHoldsOnlyMistakes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let checkpoint = try TrainedMNIST.checkpoint()
        let output = directory.file("wrong.png")
        let result = try mnistDDP(["show", "--output", output, "--checkpoint", checkpoint, "--misclassified",
                                   "--count", "10000", "--json", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]])

        // As many as evaluate counts wrong on the same weights.
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", checkpoint, "--data-dir", ProcessRunner.shippedMNIST])
        let accuracy = try #require(evaluate.standardOutput.firstMatch(of: /test accuracy ([0-9.]+)%/).flatMap { Double($0.1) })
        #expect(shown.count == 10_000 - Int((accuracy * 100).rounded()), "\(evaluate.output)")

        let labels = try MNISTDataset.load(.test, from: ProcessRunner.shippedMNIST).labels
        for item in shown {
            let index = try #require(item["index"] as? Int)
            #expect(item["label"] as? Int == Int(labels[index]))
            #expect(item["prediction"] as? Int != item["label"] as? Int)
        }
        let confidences = shown.compactMap { $0["confidence"] as? Double }
        #expect(confidences.count == shown.count && confidences == confidences.sorted(by: >))
        #expect(contains(try PNG.read(output), .red))
    }

    @Test("show --confusion draws the confusion matrix")
    func confusion() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("confusion.png")
        let result = try mnistDDP(["show", "--output", output, "--checkpoint", try TrainedMNIST.checkpoint(),
                                   "--confusion", "--data-dir", ProcessRunner.shippedMNIST])
        #expect(result.status == 0, "\(result.output)")
        let picture = try PNG.read(output)
        #expect(picture.width > 600 && picture.height > 600, "ten 60 px squares each way")
    }

    @Test("show --misclassified without weights is refused in one line")
    func misclassifiedNeedsCheckpoint() throws {
        let result = try mnistDDP(["show", "--output", "/tmp/never.png", "--misclassified"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--misclassified needs --checkpoint"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.png"))
    }

    @Test("plot-metrics.sh draws the curves of several metrics files into one PNG")
    func plotMetrics() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let metrics = try TrainedMNIST.run.get().metrics
        let second = directory.file("second-run.jsonl")
        try FileManager.default.copyItem(atPath: metrics, toPath: second)
        let output = directory.file("curves.png")
        let result = try ProcessRunner.run(
            ProcessRunner.packageRoot.appendingPathComponent("scripts/plot-metrics.sh").path,
            [metrics, second, output], timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        let plot = try PNG.read(output)
        #expect(plot.width == 1500 && plot.height == 480)
    }
}
