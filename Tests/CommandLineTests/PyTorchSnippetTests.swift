import Foundation
import Testing
import TestSupport

/// The Python of docs/checkpoints-and-stopping.md that loads a checkpoint into PyTorch, run
/// exactly as written. PyTorch from
/// PyPI is several GB (its CUDA libraries come along), too much for CI to install, so this runs
/// where `python3`, or the interpreter `$TORCH_PYTHON` names, can import torch.
@Suite("The PyTorch snippet of the checkpoints guide", .startsProcesses, .tags(.processes))
struct PyTorchSnippetTests {
    static let python = ProcessInfo.processInfo.environment["TORCH_PYTHON"] ?? "python3"

    static var hasPyTorch: Bool {
        (try? ProcessRunner.run("/usr/bin/env", [python, "-c", "import torch, safetensors.torch, numpy"], timeout: 120))?
            .status == 0
    }

    static let guide = "docs/checkpoints-and-stopping.md"

    /// The guide's Python block that defines the CNN.
    func pytorchSnippet() throws -> String {
        let text = try String(contentsOf: ProcessRunner.packageRoot.appendingPathComponent(Self.guide), encoding: .utf8)
        let blocks = text.components(separatedBy: "```python\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        return try #require(blocks.first { $0.contains("class CNN(nn.Module)") }, "no Python block defining CNN in \(Self.guide)")
    }

    @Test("the guide's PyTorch snippet loads our checkpoint and scores what we scored",
          .enabled(if: hasPyTorch, "needs PyTorch: python3 -m pip install torch safetensors numpy, or TORCH_PYTHON=/path/to/python"))
    func pytorchSnippetRunsAsWritten() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Laid out as the project's root: data/mnist, and the checkpoints a run writes.
        try FileManager.default.createDirectory(atPath: directory.file("data"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: directory.file("data/mnist"), withDestinationPath: ProcessRunner.shippedMNIST)
        let train = try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"), ["train", "--quiet", "--max-steps", "200", "--data-dir", "data/mnist"],
            workingDirectory: URL(fileURLWithPath: directory.path))
        #expect(train.status == 0, "\(train.output)")
        let accuracy = try #require(train.standardOutput.split(separator: "  ").first, "\(train.output)")

        let script = directory.file("snippet.py")
        try pytorchSnippet().write(toFile: script, atomically: true, encoding: .utf8)
        let result = try ProcessRunner.run(
            "/usr/bin/env", [Self.python, script], workingDirectory: URL(fileURLWithPath: directory.path), timeout: 300)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput == "checkpoints/step-000000200.safetensors: \(accuracy)\n", "ours: \(accuracy)\n\(result.output)")
    }
}
