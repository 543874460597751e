import Foundation
import SafeTensors
import TestSupport
import Testing

// These tests check files against the reference implementation, Hugging Face's `safetensors`
// Python package (`pip install safetensors numpy`). They require it: a missing package fails
// them with that instruction rather than skipping them silently.

/// Why a Python script failed; names the missing package when the import failed.
private struct PythonFailure: Error, CustomStringConvertible {
    let status: Int32
    let stderr: String

    var description: String {
        stderr.contains("ModuleNotFoundError")
            ? "python3 with the safetensors and numpy packages is required: pip install safetensors numpy\n\(stderr)"
            : "python3 exited with status \(status):\n\(stderr)"
    }
}

/// Runs `script` with `python3 -c`, passing `arguments`; returns its standard output.
private func runPython(_ script: String, arguments: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let stdout = output.fileHandleForReading.readDataToEndOfFile()
    let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw PythonFailure(status: process.terminationStatus, stderr: stderr)
    }
    return String(decoding: stdout, as: UTF8.self)
}

@Test(.startsProcesses, .tags(.processes)) func referenceWriterProducesTheSameBytesAsOurs() throws {
    // The reference orders tensors by alignment, then name; here both orders agree (I64 "a"
    // before F32 "b"), and one metadata key leaves no ordering choice, so the bytes must match.
    let script = """
        import sys, numpy as np
        from safetensors.numpy import save
        data = save({"b": np.array([1.0, -2.0], dtype=np.float32), "a": np.array(7, dtype=np.int64)},
                    metadata={"format": "pt"})
        sys.stdout.write(data.hex())
        """
    let ours = SafeTensorsFile.serialize(
        [NamedTensor(name: "b", shape: [2], floats: [1, -2]), NamedTensor(name: "a", shape: [], int64s: [7])],
        metadata: ["format": "pt"])
    let reference = try runPython(script)
    #expect(reference == ours.map { String(format: "%02x", $0) }.joined())
}

@Test(.startsProcesses, .tags(.processes)) func referenceReaderLoadsOurFile() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("ours.safetensors")
    let weights = (0..<12).map { Float($0) / 8 - 0.75 }
    let bytes = SafeTensorsFile.serialize(
        [
            NamedTensor(name: "fc.weight", shape: [3, 4], floats: weights),
            NamedTensor(name: "fc.bias", shape: [3], floats: [0.5, -1e-7, 3e38]),
            NamedTensor(name: "step", shape: [], int64s: [1000]),
        ],
        metadata: ["epoch": "2", "note": "quote \" and é"])
    try Data(bytes).write(to: URL(fileURLWithPath: path))

    let script = """
        import sys, json
        from safetensors import safe_open
        from safetensors.numpy import load_file
        tensors = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="np") as f:
            metadata = f.metadata()
        print(json.dumps({
            "metadata": metadata,
            "tensors": {name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.flatten().tolist()}
                        for name, t in tensors.items()},
        }))
        """
    let output = try runPython(script, arguments: [path])
    struct Loaded: Decodable {
        struct Tensor: Decodable, Equatable {
            let dtype: String
            let shape: [Int]
            let values: [Double]
        }
        let metadata: [String: String]
        let tensors: [String: Tensor]
    }
    let loaded = try JSONDecoder().decode(Loaded.self, from: Data(output.utf8))
    #expect(loaded.metadata == ["epoch": "2", "note": "quote \" and é"])
    #expect(loaded.tensors == [
        "fc.weight": .init(dtype: "float32", shape: [3, 4], values: weights.map(Double.init)),
        "fc.bias": .init(dtype: "float32", shape: [3], values: [0.5, -1e-7, 3e38].map { Double(Float($0)) }),
        "step": .init(dtype: "int64", shape: [], values: [1000]),
    ])
}

@Test(.startsProcesses, .tags(.processes)) func ourReaderLoadsTheReferenceWritersFile() throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    let path = directory.file("reference.safetensors")
    let script = """
        import sys, numpy as np
        from safetensors.numpy import save_file
        save_file({
            "conv.weight": (np.arange(24, dtype=np.float32) / 4 - 3).reshape(2, 1, 3, 4),
            "conv.bias": np.array([0.1, -0.2], dtype=np.float32),
            "counts": np.array([[1, -2], [3, 2**40]], dtype=np.int64),
            "mask": np.array([True, False, True]),
            "half": np.zeros(5, dtype=np.float16),
        }, sys.argv[1], metadata={"epoch": "3", "format": "np"})
        """
    _ = try runPython(script, arguments: [path])

    let file = try SafeTensorsFile(contentsOf: path)
    #expect(file.metadata == ["epoch": "3", "format": "np"])
    #expect(Set(file.tensors.map(\.name)) == ["conv.weight", "conv.bias", "counts", "mask", "half"])
    #expect(try file.floats(named: "conv.weight", shape: [2, 1, 3, 4]) == (0..<24).map { Float($0) / 4 - 3 })
    #expect(try file.floats(named: "conv.bias", shape: [2]) == [0.1, -0.2])
    #expect(try file.int64s(named: "counts", shape: [2, 2]) == [1, -2, 3, 1 << 40])
    let mask = try #require(file.entry(named: "mask"))
    #expect(mask.dtype == .bool && mask.shape == [3])
    #expect(Array(file.data(of: mask)) == [1, 0, 1])
    let half = try #require(file.entry(named: "half"))
    #expect(half.dtype == .f16 && half.shape == [5])
}
