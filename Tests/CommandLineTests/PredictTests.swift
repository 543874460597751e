import Data
import Foundation
import Imaging
import Testing
import TestSupport

/// `mnist-ddp predict` on image files, with the weights of a short real training run.
@Suite("mnist-ddp predict", .serialized, .startsProcesses, .tags(.processes))
struct PredictTests {
    func predict(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"),
                              ["predict", "--checkpoint", try TrainedMNIST.checkpoint()] + arguments, timeout: 120)
    }

    /// The JSON array `predict --json` printed.
    func records(_ result: ProcessResult) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]],
                     "\(result.output)")
    }

    /// The first test image (a 7), as its 784 bytes.
    func firstTestImage() throws -> [UInt8] {
        let samples = try MNISTDataset.load(.test, from: ProcessRunner.shippedMNIST, samples: 0 ..< 1)
        #expect(samples.labels == [7])
        return samples.pixels
    }


    @Test("every PNG colour type and bit depth is read and classified alike")
    func everyVariant() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let digit = try firstTestImage()
        let paths = try PNGFixture.Variant.allCases.map { variant in
            try directory.writeFile(PNGFixture.png(grey: digit, width: 28, variant: variant), named: "\(variant).png")
        }
        let result = try predict(["--json"] + paths)
        #expect(result.status == 0, "\(result.output)")
        let answers = try records(result)
        #expect(answers.map { $0["path"] as? String } == paths)
        #expect(answers.allSatisfy { $0["prediction"] as? Int == 7 && $0["class"] as? String == "7" }, "\(answers)")
        // The same picture, however stored (black-on-transparent ones inverted back): the same numbers.
        let probabilities = answers.map { $0["probabilities"] as? [Double] ?? [] }
        #expect(probabilities[0].count == 10)
        #expect(probabilities.allSatisfy { $0 == probabilities[0] }, "\(probabilities)")
    }

    @Test("an off-centre, larger, dark-on-light rendering of a test digit is classified as its 28×28 original")
    func preprocessingRecoversTheOriginal() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let count = 10
        let render = try ProcessRunner.run(
            "/usr/bin/env",
            ["python3", ProcessRunner.packageRoot.appendingPathComponent("scripts/render_mnist_pngs.py").path,
             directory.path, "--count", String(count), "--data-dir", ProcessRunner.shippedMNIST])
        #expect(render.status == 0, "\(render.output)")
        let rendered = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map(directory.file)
        #expect(rendered.count == count)
        let image = try PNG.read(rendered[0])
        #expect(image.width == 200 && image.height == 150, "the renderings are pages, not 28×28 crops")

        let originals = try records(try predict(
            ["--json", "--index", "--raw", ProcessRunner.shippedMNIST + "/t10k-images-idx3-ubyte.gz"]))
        let renderings = try records(try predict(["--json"] + rendered))
        #expect(renderings.map { $0["prediction"] as? Int } == originals.prefix(count).map { $0["prediction"] as? Int })
    }

    @Test("a corrupt PNG gets its error line and the other files are still classified, with a failing exit")
    func corruptFileDoesNotStopTheOthers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let digit = try firstTestImage()
        let good = try directory.writeFile(PNGFixture.png(grey: digit, width: 28, variant: .grey8), named: "good.png")
        let whole = PNGFixture.png(grey: digit, width: 28, variant: .rgb8)
        let corrupt = try directory.writeFile(Array(whole.prefix(60)) + [UInt8](repeating: 0xA5, count: 40), named: "corrupt.png")
        let other = try directory.writeFile(PNGFixture.png(grey: digit, width: 28, variant: .palette), named: "other.png")

        let result = try predict([good, corrupt, other])
        #expect(result.status != 0)
        let errors = result.standardError.split(separator: "\n")
        #expect(errors.count == 1 && errors[0].hasPrefix("mnist-ddp: error: \(corrupt): "), "\(result.output)")
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 2, "\(result.output)")
        #expect(lines.first?.hasPrefix("\(good): 7 (") == true && lines.last?.hasPrefix("\(other): 7 (") == true,
                "\(result.output)")
        #expect(lines.allSatisfy { $0.contains("), then ") }, "the next two guesses follow: \(result.output)")

        let json = try predict(["--json", good, corrupt, other])
        #expect(json.status != 0)
        let answers = try records(json)
        #expect(answers.map { $0["error"] != nil } == [false, true, false])
        #expect((answers[1]["error"] as? String)?.hasPrefix(corrupt) == true)
    }

    @Test("--save-preprocessed writes the 28×28 images the model saw")
    func savePreprocessed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let page = Bitmap(width: 90, height: 60, channels: 1,
                          samples: (0 ..< 90 * 60).map { $0 % 90 > 40 && $0 % 90 < 50 && $0 / 90 > 10 && $0 / 90 < 50 ? 20 : 230 })
        let path = try directory.writeFile(try PNG.encode(page, for: "bar.png"), named: "bar.png")
        let result = try predict(["--save-preprocessed", directory.file("seen"), path])
        #expect(result.status == 0, "\(result.output)")
        let seen = try PNG.read(directory.file("seen/1-bar.png"))
        #expect(seen.width == 28 && seen.height == 28 && seen.channels == 1)
        // A light page with a dark bar: the bar becomes the bright ink, 20 px tall, centred.
        #expect(seen[14, 14] == 255 && seen[0, 0] == 0, "\(seen.samples)")
        #expect((0 ..< 28).filter { seen[14, $0] > 0 }.count == 20)
    }

    @Test("--save-preprocessed gives files of one name in different directories names of their own, numbered by argument")
    func savePreprocessedSameNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let digit = try firstTestImage()
        // The same 7, and the 7 upside down: two different pictures under one file name.
        let pictures = [digit, Array(digit.reversed())]
        var paths: [String] = []
        for (number, picture) in pictures.enumerated() {
            try FileManager.default.createDirectory(atPath: directory.file("\(number)"), withIntermediateDirectories: false)
            paths.append(try directory.writeFile(PNGFixture.png(grey: picture, width: 28, variant: .grey8), named: "\(number)/digit.png"))
        }
        let result = try predict(["--raw", "--save-preprocessed", directory.file("seen")] + paths)
        #expect(result.status == 0, "\(result.output)")
        let saved = try FileManager.default.contentsOfDirectory(atPath: directory.file("seen")).sorted()
        #expect(saved == ["1-digit.png", "2-digit.png"])
        for (number, picture) in pictures.enumerated() {
            #expect(try PNG.read(directory.file("seen/\(number + 1)-digit.png")).samples == picture)
        }
    }
}
