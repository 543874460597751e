import CNN
import Data
import SafeTensors
import Testing
import TestSupport
import Training

@Suite("Checkpoint format")
struct CheckpointFormatTests {
    func snapshot() -> TrainingSnapshot {
        let model = SeedCNN(maxBatch: 1)
        model.initialize(seed: 5)
        return TrainingSnapshot(
            model: ParameterLayout.seedPlan, parameters: model.withUnsafeParameters(Array.init), adamStep: 42,
            firstMoment: (0..<ParameterLayout.count).map { Float($0) * 1e-4 },
            secondMoment: (0..<ParameterLayout.count).map { Float($0) * 1e-7 },
            position: TrainingPosition(step: 42, epoch: 1, stepInEpoch: 12),
            worldSize: 3, batchSizes: [60, 60, 60], trainingSamples: 60_000, seed: 9, shuffle: true,
            runID: RunID("0123456789abcdef")!)
    }

    func decode(_ bytes: [UInt8]) throws -> TrainingSnapshot {
        try CheckpointFormat.decode(CheckpointFormat.open(bytes: bytes, source: "test.safetensors"))
    }

    @Test("a snapshot survives encoding and decoding bit for bit")
    func roundTrip() throws {
        let original = snapshot()
        #expect(try decode(CheckpointFormat.encode(original, configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames)) == original)
    }

    @Test("the model sits under PyTorch's state_dict names and shapes, Adam's moments under prefixes")
    func tensorNames() throws {
        let file = try SafeTensorsFile(
            bytes: CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames), source: "test")
        for tensor in ParameterLayout.tensors {
            #expect(file.entry(named: tensor.name)?.shape == tensor.shape)
            #expect(file.entry(named: "optimizer.exp_avg." + tensor.name)?.shape == tensor.shape)
            #expect(file.entry(named: "optimizer.exp_avg_sq." + tensor.name)?.shape == tensor.shape)
        }
        #expect(file.tensors.count == 18)
        for key in ["format_version", "step", "epoch", "seed", "world_size", "run_id", "config", "checksum"] {
            #expect(file.metadata[key] != nil, "metadata lacks \(key)")
        }
    }

    @Test("a flipped bit in the tensor data is caught by the checksum")
    func corruptionDetected() throws {
        var bytes = CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames)
        bytes[bytes.count - 5] ^= 0x10
        #expect {
            _ = try decode(bytes)
        } throws: { error in
            (error as? TrainingError)?.description.contains("checksum mismatch") == true
        }
    }

    @Test("the classes a run kept are recorded by name, in label order, and read back")
    func classNamesRecorded() throws {
        let names = ["Sandal", "T-shirt/top", "Ankle \"boot\""]
        let file = try CheckpointFormat.open(
            bytes: CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration(), classNames: names), source: "test")
        #expect(try CheckpointFormat.classNames(of: file) == names)
    }

    @Test("a checkpoint naming another number of classes than its network tells apart is refused when loaded")
    func classNamesCountMatchesTheNetwork() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.writeFile(
            CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration(), classNames: ["a", "b", "c"]),
            named: "three.safetensors")
        #expect(throws: TrainingError.incompatibleCheckpoint(path: path, reason: "its network tells 10 classes apart, but it names 3")) {
            try TrainedModel.load(path)
        }
    }

    @Test("recorded class names that are not a JSON array of strings are refused", arguments: ["[1,2]", "[\"a\"", "\"a\"", ""])
    func malformedClassNames(value: String) throws {
        let bytes = try encoded(snapshot()) { $0["class_names"] = value }
        #expect(throws: TrainingError.incompatibleCheckpoint(
            path: "test", reason: "metadata \"class_names\" is not a JSON array of strings")) {
            try CheckpointFormat.classNames(of: CheckpointFormat.open(bytes: bytes, source: "test"))
        }
    }

    @Test("the dataset a run read is recorded by name and read back", arguments: Dataset.all)
    func datasetRecorded(dataset: Dataset) throws {
        var configuration = TrainingConfiguration()
        configuration.dataset = dataset
        let file = try CheckpointFormat.open(
            bytes: CheckpointFormat.encode(snapshot(), configuration: configuration, classNames: ["0", "1", "2"]), source: "test")
        #expect(try CheckpointFormat.dataset(of: file) == dataset)
    }

    @Test("a recorded dataset we do not know is refused in one line naming it and those we know")
    func unknownDataset() throws {
        let bytes = try encoded(snapshot()) { $0["dataset"] = "emnist" }
        #expect(throws: TrainingError.incompatibleCheckpoint(
            path: "test", reason: "trained on the unknown dataset \"emnist\" (known: mnist, fashion-mnist, idx, folder)")) {
            try CheckpointFormat.dataset(of: CheckpointFormat.open(bytes: bytes, source: "test"))
        }
    }

    /// `original` encoded, with its metadata changed by `edit`.
    func encoded(_ original: TrainingSnapshot, editingMetadata edit: (inout [String: String]) -> Void) throws -> [UInt8] {
        try rewriting(CheckpointFormat.encode(original, configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames), editingMetadata: edit)
    }

    /// The safetensors file `bytes` with its metadata changed by `edit` and its tensors as they were.
    func rewriting(_ bytes: [UInt8], editingMetadata edit: (inout [String: String]) -> Void) throws -> [UInt8] {
        let file = try SafeTensorsFile(bytes: bytes, source: "test")
        var metadata = file.metadata
        edit(&metadata)
        let tensors = try file.tensors.map { NamedTensor(name: $0.name, shape: $0.shape, floats: try file.floats(named: $0.name)) }
        return SafeTensorsFile.serialize(tensors, metadata: metadata)
    }

    /// `original` as format version 1 wrote it: no run id, and a checksum of the tensors alone
    /// (FNV-1a over the little-endian bytes of every float, in layout order).
    func versionOne(_ original: TrainingSnapshot) throws -> [UInt8] {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in original.parameters + original.firstMoment + original.secondMoment {
            for shift in stride(from: 0, to: 32, by: 8) {
                hash = (hash ^ UInt64(value.bitPattern >> UInt32(shift) & 0xFF)) &* 0x0000_0100_0000_01B3
            }
        }
        let hex = String(hash, radix: 16)
        return try encoded(original) {
            $0["run_id"] = nil
            $0["format_version"] = "1"
            $0["checksum"] = "fnv1a64:" + String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    @Test("the run id is recorded and read back")
    func runIDRecorded() throws {
        let bytes = try encoded(snapshot()) { _ in }
        #expect(try SafeTensorsFile(bytes: bytes, source: "test").metadata["run_id"] == "0123456789abcdef")
        #expect(try decode(bytes).runID == RunID("0123456789abcdef"))
    }

    @Test("a malformed run id is refused, naming it", arguments: ["", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdefa", "0123456789abcdeg", "-123456789abcdef"])
    func malformedRunID(text: String) throws {
        let bytes = try encoded(snapshot()) { $0["run_id"] = text }
        #expect {
            _ = try decode(bytes)
        } throws: { error in
            (error as? TrainingError)?.description.contains("metadata \"run_id\" is \"\(text)\"") == true
        }
    }

    @Test("a checkpoint from before run ids (format version 1) loads, under an id its tensors determine")
    func checkpointWithoutRunID() throws {
        let original = snapshot()
        var other = original
        other.parameters[0] += 1
        let first = try decode(versionOne(original))
        #expect(first.parameters == original.parameters)
        #expect(try decode(versionOne(original)).runID == first.runID)
        #expect(try decode(versionOne(other)).runID != first.runID)
    }

    @Test("run ids are 16 hexadecimal digits from the system's random source, a new one each time")
    func randomRunIDs() {
        let ids = (0..<100).map { _ in RunID.random() }
        #expect(Set(ids).count == 100)
        #expect(ids.allSatisfy { RunID($0.description) == $0 && $0.description.count == 16 })
    }

    @Test("model weights alone are refused as a checkpoint to resume, with the reason")
    func weightsAloneAreNotACheckpoint() throws {
        let weights = ParameterLayout.tensors.map {
            NamedTensor(name: $0.name, shape: $0.shape, floats: [Float](repeating: 0.5, count: $0.range.count))
        }
        let bytes = SafeTensorsFile.serialize(weights, metadata: ["format": "pt"])
        #expect {
            _ = try decode(bytes)
        } throws: { error in
            (error as? TrainingError)?.description.contains("not an mnist-ddp checkpoint") == true
        }
    }
}
