import Foundation
import Imaging
import Testing
import TestSupport

/// A model trained on an image folder of red and blue squares of two sizes (12×12 and 20×20),
/// all resized to 12×12 by --image-size: trained at first use, removed when the test process
/// exits.
enum ColourFolderModel {
    struct Run: Sendable {
        let folder: String
        let checkpoints: String
        let output: String
    }

    /// A solid `width`×`width` RGB square of `colour`.
    static func square(_ colour: [UInt8], width: Int) -> Bitmap {
        Bitmap(width: width, height: width, channels: 3, samples: Array([[UInt8]](repeating: colour, count: width * width).joined()))
    }

    static let run: Result<Run, TrainingFailed> = {
        do {
            let directory = try TemporaryDirectory()
            sharedFolder = directory
            atexit { sharedFolder?.remove() }
            let run = Run(folder: directory.file("squares"), checkpoints: directory.file("checkpoints"), output: "")
            for (split, count) in [("train", 16), ("test", 4)] {
                for file in 0 ..< count {
                    let shade = UInt8(190 + 4 * file)
                    for (name, colour) in [("red", [shade, 20, 30]), ("blue", [30, 20, shade])] {
                        try ImageFolderFixture.write(square(colour, width: file % 2 == 0 ? 12 : 20), to: run.folder,
                                                     split: split, className: name, name: "\(file).png")
                    }
                }
            }
            let result = try ProcessRunner.run(
                try ProcessRunner.product("mnist-ddp"),
                ["train", "--quiet", "--data-dir", run.folder, "--image-size", "12x12", "--model", "flatten linear",
                 "--epochs", "10", "--batch-size", "8", "--checkpoint-dir", run.checkpoints],
                timeout: 300)
            guard result.status == 0 else { return .failure(TrainingFailed(message: "training failed: \(result.output)")) }
            return .success(Run(folder: run.folder, checkpoints: run.checkpoints, output: result.standardOutput))
        } catch {
            return .failure(TrainingFailed(message: "\(error)"))
        }
    }()
}

/// Held here so that it outlives every test using it.
private nonisolated(unsafe) var sharedFolder: TemporaryDirectory?

/// `predict`, `show` and `evaluate` with a model trained on an image folder: images prepared as
/// the folder's were (its channels, resized to its size), named by its class folders.
@Suite("Models trained on image folders", .serialized, .startsProcesses, .tags(.processes))
struct FolderModelTests {
    func mnistDDP(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: 120)
    }

    func predict(_ arguments: [String]) throws -> ProcessResult {
        try mnistDDP(["predict", "--checkpoint", try ColourFolderModel.run.get().checkpoints] + arguments)
    }

    /// Writes `image` as NAME.png in `directory`, returning its path.
    func write(_ image: Bitmap, named name: String, in directory: TemporaryDirectory) throws -> String {
        try directory.writeFile(try PNG.encode(image, for: name), named: name + ".png")
    }

    @Test("training on a folder of images of two sizes with --image-size learns red from blue")
    func trainsOnResizedImages() throws {
        let output = try ColourFolderModel.run.get().output
        let accuracy = try #require(output.firstMatch(of: /test accuracy ([0-9.]+)%/).map { Double($0.1)! }, "\(output)")
        #expect(accuracy == 100, "\(output)")
    }

    @Test("predict resizes 30×30 squares to the model's 12×12 and names them by the class folders")
    func predictsClassFolderNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let red = try write(ColourFolderModel.square([230, 20, 30], width: 30), named: "red", in: directory)
        let blue = try write(ColourFolderModel.square([30, 20, 230], width: 30), named: "blue", in: directory)
        let result = try predict(["--json", red, blue])
        #expect(result.status == 0, "\(result.output)")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]],
                                   "\(result.output)")
        #expect(answers.map { $0["class"] as? String } == ["red", "blue"], "\(result.output)")
    }

    @Test("predict's line for a model of two classes gives its guess, then the one other")
    func twoClassLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let red = try write(ColourFolderModel.square([230, 20, 30], width: 30), named: "red", in: directory)
        let result = try predict([red])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.wholeMatch(of: /.*red\.png: red \([0-9.]+ %\), then blue \([0-9.]+ %\)\n/) != nil,
                "\(result.output)")
    }

    @Test("predict gives an RGB model a grey image as three equal channels, at the model's size")
    func greyImageConverted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let grey = try write(Bitmap(greyWidth: 30, height: 30, value: 90), named: "grey", in: directory)
        let result = try predict(["--save-preprocessed", directory.file("seen"), grey])
        #expect(result.status == 0, "\(result.output)")
        let seen = try PNG.read(directory.file("seen/1-grey.png"))
        #expect(seen == ColourFolderModel.square([90, 90, 90], width: 12))
    }

    @Test("predict --raw is refused for a folder model, whose images are always prepared as the folder's")
    func rawRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let red = try write(ColourFolderModel.square([230, 20, 30], width: 12), named: "red", in: directory)
        let result = try predict(["--raw", red])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.standardError.contains("--raw takes MNIST-style images as they are"), "\(result.output)")
    }

    @Test("evaluate and show read a folder model's folder resized to the model's input, without --image-size")
    func evaluateAndShowResize() throws {
        let run = try ColourFolderModel.run.get()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", run.checkpoints, "--data-dir", run.folder])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(evaluate.standardOutput.contains("test accuracy 100.00%"), "\(evaluate.output)")
        let grid = directory.file("grid.png")
        let show = try mnistDDP(["show", "--checkpoint", run.checkpoints, "--data-dir", run.folder, "--output", grid])
        #expect(show.status == 0, "\(show.output)")
        #expect(FileManager.default.fileExists(atPath: grid))
    }
}
