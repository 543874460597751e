import CNN
import SafeTensors
import Testing
import Training

@Suite("Checkpoint format")
struct CheckpointFormatTests {
    func snapshot() -> TrainingSnapshot {
        let model = SeedCNN(maxBatch: 1)
        model.initialize(seed: 5)
        return TrainingSnapshot(
            parameters: Array(model.parameters), adamStep: 42,
            firstMoment: (0..<ParameterLayout.count).map { Float($0) * 1e-4 },
            secondMoment: (0..<ParameterLayout.count).map { Float($0) * 1e-7 },
            position: TrainingPosition(step: 42, epoch: 1, stepInEpoch: 12),
            worldSize: 3, batchSizes: [60, 60, 60], trainingSamples: 60_000, seed: 9, shuffle: true)
    }

    func decode(_ bytes: [UInt8]) throws -> TrainingSnapshot {
        try CheckpointFormat.decode(CheckpointFormat.open(bytes: bytes, source: "test.safetensors"))
    }

    @Test("a snapshot survives encoding and decoding bit for bit")
    func roundTrip() throws {
        let original = snapshot()
        #expect(try decode(CheckpointFormat.encode(original, configuration: TrainingConfiguration())) == original)
    }

    @Test("the model sits under PyTorch's state_dict names and shapes, Adam's moments under prefixes")
    func tensorNames() throws {
        let file = try SafeTensorsFile(
            bytes: CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration()), source: "test")
        for tensor in ParameterLayout.tensors {
            #expect(file.entry(named: tensor.name)?.shape == tensor.shape)
            #expect(file.entry(named: "optimizer.exp_avg." + tensor.name)?.shape == tensor.shape)
            #expect(file.entry(named: "optimizer.exp_avg_sq." + tensor.name)?.shape == tensor.shape)
        }
        #expect(file.tensors.count == 18)
        for key in ["format_version", "step", "epoch", "seed", "world_size", "config", "checksum"] {
            #expect(file.metadata[key] != nil, "metadata lacks \(key)")
        }
    }

    @Test("a flipped bit in the tensor data is caught by the checksum")
    func corruptionDetected() throws {
        var bytes = CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration())
        bytes[bytes.count - 5] ^= 0x10
        #expect {
            _ = try decode(bytes)
        } throws: { error in
            (error as? TrainingError)?.description.contains("checksum mismatch") == true
        }
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
