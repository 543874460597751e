import Foundation
import Imaging
import Testing
import TestSupport

/// Training, evaluating and showing on PNG image folders, and on a subset of the classes.
@Suite("Image folders and --classes on the command line", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct ImageFolderCommandTests {
    func mnistDDP(_ arguments: [String], timeout: Double = 120) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: timeout)
    }

    func accuracy(_ text: String) -> String? {
        text.firstMatch(of: /test accuracy ([0-9.]+)%/).map { String($0.1) }
    }

    @Test("a short run on MNIST written as PNG folders trains on 2 ranks, and evaluate scores its checkpoint alike")
    func trainsOnPNGFolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let folder = directory.file("digits")
        try ImageFolderFixture.writeMNIST(from: ProcessRunner.shippedMNIST, to: folder, train: 600, test: 200)
        // No --dataset: the train folder in --data-dir says it is an image folder.
        let train = try ProcessRunner.mpirun(
            ranks: 2, try ProcessRunner.product("mnist-ddp"),
            ["train", "--quiet", "--data-dir", folder, "--epochs", "3", "--batch-size", "30",
             "--checkpoint-dir", directory.file("checkpoints")], timeout: 300)
        #expect(train.status == 0, "\(train.output)")
        let trained = try #require(accuracy(train.standardOutput), "\(train.output)")
        #expect(Double(trained)! > 50, "10 % is chance: \(train.output)")
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", directory.file("checkpoints"), "--data-dir", folder])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(accuracy(evaluate.standardOutput) == trained, "\(evaluate.output)")
    }

    @Test("--classes relabels in the order given; the checkpoint records it and evaluate scores on the same classes")
    func classesRecordedAndHonoured() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let reversed = (0 ... 9).reversed().map(String.init).joined(separator: ",")
        let train = try mnistDDP(["train", "--quiet", "--classes", reversed, "--max-steps", "100", "--eval-every", "10",
                                  "--checkpoint-dir", directory.path], timeout: 300)
        #expect(train.status == 0, "\(train.output)")
        let trained = try #require(accuracy(train.standardOutput), "\(train.output)")
        let evaluate = try mnistDDP(["evaluate", "--checkpoint", directory.path])
        #expect(evaluate.status == 0, "\(evaluate.output)")
        #expect(accuracy(evaluate.standardOutput) == trained, "scored with the run's labels: \(evaluate.output)")
        let refused = try mnistDDP(["evaluate", "--checkpoint", directory.path, "--classes", "0-9"])
        #expect(refused.status == 65)
        #expect(refused.standardError.contains("was trained on classes 9,8,7,6,5,4,3,2,1,0, not 0,1,2,3,4,5,6,7,8,9"),
                "\(refused.output)")
    }

    @Test("evaluate and show refuse a checkpoint on other classes than it was trained on, in one line")
    func otherClassesRefused() throws {
        let checkpoint = try TrainedMNIST.checkpoint()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for command in [["evaluate"], ["show", "--output", directory.file("grid.png")]] {
            let result = try mnistDDP(command + ["--checkpoint", checkpoint, "--classes", "0-4"])
            #expect(result.status == 65, "\(result.output)")
            let lines = result.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("was trained on classes 0,1,2,3,4,5,6,7,8,9, not 0,1,2,3,4"),
                    "\(result.output)")
        }
    }

    @Test("predict with --dataset folder needs the class names a checkpoint of ours records")
    func predictFolderNeedsClassNames() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let weights = directory.file("weights.safetensors")
        // A file of the model's tensors alone, as PyTorch's state_dict: no class names.
        let export = try ProcessRunner.run("/usr/bin/env", ["python3", "-c", """
            import json, struct, sys
            data = open(sys.argv[1], 'rb').read()
            size = struct.unpack('<Q', data[:8])[0]
            header = json.loads(data[8:8 + size])
            kept = {k: v for k, v in header.items() if k != '__metadata__' and not k.startswith('optimizer.')}
            body, offset, out = b'', 0, {}
            for name, entry in kept.items():
                start, end = entry['data_offsets']
                out[name] = dict(entry, data_offsets=[offset, offset + end - start])
                body += data[8 + size + start:8 + size + end]
                offset += end - start
            text = json.dumps(out).encode()
            open(sys.argv[2], 'wb').write(struct.pack('<Q', len(text)) + text + body)
            """, try newestCheckpoint(), weights])
        #expect(export.status == 0, "\(export.output)")
        let image = directory.file("digit.png")
        try Data(try PNG.encode(Bitmap(greyWidth: 28, height: 28), for: image)).write(to: URL(fileURLWithPath: image))
        let result = try mnistDDP(["predict", "--checkpoint", weights, "--dataset", "folder", "--raw", image])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.standardError.contains("records no class names"), "\(result.output)")
    }

    /// The newest checkpoint of the shared trained run.
    func newestCheckpoint() throws -> String {
        let directory = try TrainedMNIST.checkpoint()
        let newest = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("step-") }.sorted().last
        return directory + "/" + (try #require(newest))
    }

    @Test("show draws a colour folder's images, and refuses to augment them")
    func showsColourFolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for split in ["train", "test"] {
            for (name, colour) in [("blue", [UInt8(0), 0, 255]), ("red", [255, 0, 0])] {
                let image = Bitmap(width: 4, height: 3, channels: 3, samples: Array([[UInt8]](repeating: colour, count: 12).joined()))
                try ImageFolderFixture.write(image, to: directory.path, split: split, className: name, name: "0.png")
            }
        }
        let grid = directory.file("grid.png")
        let show = try mnistDDP(["show", "--data-dir", directory.path, "--output", grid, "--scale", "1"])
        #expect(show.status == 0, "\(show.output)")
        let drawn = try PNG.read(grid)
        let pixels = stride(from: 0, to: drawn.samples.count, by: 3).map { Array(drawn.samples[$0 ..< $0 + 3]) }
        #expect(pixels.contains([0, 0, 255]) && pixels.contains([255, 0, 0]), "both classes drawn in colour")
        let augment = try mnistDDP(["show", "--data-dir", directory.path, "--output", grid, "--augment"])
        #expect(augment.status == 64)
        #expect(augment.standardError.contains("--augment turns and shifts single-channel images; \(directory.path) has 3 channels"),
                "\(augment.output)")
    }

    @Test("options for image folders are refused on IDX files, before any work")
    func folderOptionsOnIDX() throws {
        for option in [["--channels", "3"], ["--image-size", "28x28"]] {
            let result = try mnistDDP(["train"] + option)
            #expect(result.status == 64)
            #expect(result.standardError.contains("\(option[0]) reads image folders"), "\(result.output)")
        }
        let channels = try mnistDDP(["train", "--dataset", "folder", "--data-dir", "/nonexistent", "--channels", "2"])
        #expect(channels.status == 64 && channels.standardError.contains("--channels must be 1 (grey) or 3 (RGB), got 2"),
                "\(channels.output)")
    }
}
