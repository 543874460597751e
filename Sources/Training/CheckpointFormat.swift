import CNN
import Data
import SafeTensors

/// Everything a run needs to continue exactly where another stopped.
public struct TrainingSnapshot: Sendable, Equatable {
    /// The model, in the order of `Network.modelDescription.tensors`.
    public var parameters: [Float]
    public var adamStep: Int
    public var firstMoment: [Float]
    public var secondMoment: [Float]
    public var position: TrainingPosition
    /// The data order the position refers to: the world it was taken in and its seed.
    public var worldSize: Int
    public var batchSizes: [Int]
    public var trainingSamples: Int
    public var seed: UInt64
    public var shuffle: Bool
    /// The run the state belongs to, which a resume continues.
    public var runID: RunID
    /// The best validation accuracy the run has seen so far, the one `best.safetensors` holds.
    public var bestValidationAccuracy: Double?

    public init(
        parameters: [Float], adamStep: Int, firstMoment: [Float], secondMoment: [Float],
        position: TrainingPosition, worldSize: Int, batchSizes: [Int], trainingSamples: Int,
        seed: UInt64, shuffle: Bool, runID: RunID, bestValidationAccuracy: Double? = nil
    ) {
        self.bestValidationAccuracy = bestValidationAccuracy
        self.parameters = parameters
        self.adamStep = adamStep
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.position = position
        self.worldSize = worldSize
        self.batchSizes = batchSizes
        self.trainingSamples = trainingSamples
        self.seed = seed
        self.shuffle = shuffle
        self.runID = runID
    }

    /// The epoch plan the snapshot's position was counted in.
    public var epochPlan: EpochPlan {
        EpochPlan(sampleCount: trainingSamples, worldSize: worldSize, batchSize: .explicit(batchSizes))
    }
}

/// Our checkpoints are safetensors files that any safetensors reader, PyTorch's included, can
/// load: the model under PyTorch's `state_dict` names and shapes, Adam's moments under
/// `optimizer.exp_avg.` and `optimizer.exp_avg_sq.` prefixes, and the rest as string metadata.
public enum CheckpointFormat {
    public static let formatName = "mnist-ddp checkpoint"
    public static let version = "1"
    static let firstMomentPrefix = "optimizer.exp_avg."
    static let secondMomentPrefix = "optimizer.exp_avg_sq."

    /// The file's bytes for `snapshot`, with `configuration` recorded for the reader.
    public static func encode(_ snapshot: TrainingSnapshot, configuration: TrainingConfiguration) -> [UInt8] {
        var tensors: [NamedTensor] = []
        for (prefix, values) in [("", snapshot.parameters), (firstMomentPrefix, snapshot.firstMoment),
                                 (secondMomentPrefix, snapshot.secondMoment)] {
            for tensor in Network.modelDescription.tensors {
                tensors.append(NamedTensor(
                    name: prefix + tensor.name, shape: tensor.shape, floats: Array(values[tensor.range])))
            }
        }
        var metadata = [
            "format": formatName,
            "format_version": version,
            "step": String(snapshot.position.step),
            "epoch": String(snapshot.position.epoch),
            "step_in_epoch": String(snapshot.position.stepInEpoch),
            "adam_step": String(snapshot.adamStep),
            "world_size": String(snapshot.worldSize),
            "batch_sizes": snapshot.batchSizes.map(String.init).joined(separator: ","),
            "training_samples": String(snapshot.trainingSamples),
            "seed": String(snapshot.seed),
            "shuffle": String(snapshot.shuffle),
            "run_id": snapshot.runID.description,
            "config": configuration.json,
            "dataset": configuration.dataset.name,
            "class_names": JSONValue.array(configuration.dataset.classNames.map(JSONValue.string)).json,
            "checksum": checksum(of: snapshot),
        ]
        if let best = snapshot.bestValidationAccuracy { metadata["best_validation_accuracy"] = String(best) }
        return SafeTensorsFile.serialize(tensors, metadata: metadata)
    }

    /// Reads and fully verifies a checkpoint of ours: format, every tensor's shape, the metadata
    /// and the checksum of the tensor data.
    public static func decode(_ file: SafeTensorsFile) throws(TrainingError) -> TrainingSnapshot {
        let source = file.source
        func incompatible(_ reason: String) -> TrainingError { .incompatibleCheckpoint(path: source, reason: reason) }
        guard file.metadata["format"] == formatName else {
            throw incompatible("not an mnist-ddp checkpoint (metadata \"format\" is \(file.metadata["format"].map { "\"\($0)\"" } ?? "missing")); use --init-from for model weights alone")
        }
        guard file.metadata["format_version"] == version else {
            throw incompatible("checkpoint format version \(file.metadata["format_version"] ?? "missing") is not the supported \(version)")
        }
        func integer(_ key: String) throws(TrainingError) -> Int {
            guard let text = file.metadata[key], let value = Int(text), value >= 0 else {
                throw incompatible("metadata \"\(key)\" is \(file.metadata[key].map { "\"\($0)\"" } ?? "missing"), expected a non-negative integer")
            }
            return value
        }
        let batchSizes = (file.metadata["batch_sizes"] ?? "").split(separator: ",").compactMap { Int($0) }
        guard let seedText = file.metadata["seed"], let seed = UInt64(seedText),
              let shuffle = file.metadata["shuffle"].flatMap(Bool.init),
              !batchSizes.isEmpty, batchSizes.allSatisfy({ $0 > 0 })
        else { throw incompatible("metadata \"seed\", \"shuffle\" or \"batch_sizes\" is missing or malformed") }
        let parameters = try tensors(from: file, prefix: "")
        let firstMoment = try tensors(from: file, prefix: firstMomentPrefix)
        let secondMoment = try tensors(from: file, prefix: secondMomentPrefix)
        let fingerprint = tensorFingerprint(parameters, firstMoment, secondMoment)
        let runID: RunID
        if let text = file.metadata["run_id"] {
            guard let id = RunID(text) else {
                throw incompatible("metadata \"run_id\" is \"\(text)\", expected 16 lowercase hexadecimal digits")
            }
            runID = id
        } else {
            // Written before runs had ids: the run goes on under an id its tensors determine,
            // the same on every rank.
            runID = RunID(value: fingerprint)
        }

        var bestValidationAccuracy: Double?
        if let text = file.metadata["best_validation_accuracy"] {
            guard let accuracy = Double(text), (0...1).contains(accuracy) else {
                throw incompatible("metadata \"best_validation_accuracy\" is \"\(text)\", expected a number in [0, 1]")
            }
            bestValidationAccuracy = accuracy
        }
        let snapshot = TrainingSnapshot(
            parameters: parameters,
            adamStep: try integer("adam_step"),
            firstMoment: firstMoment,
            secondMoment: secondMoment,
            position: TrainingPosition(
                step: try integer("step"), epoch: try integer("epoch"), stepInEpoch: try integer("step_in_epoch")),
            worldSize: try integer("world_size"),
            batchSizes: batchSizes,
            trainingSamples: try integer("training_samples"),
            seed: seed,
            shuffle: shuffle,
            runID: runID,
            bestValidationAccuracy: bestValidationAccuracy
        )
        guard snapshot.worldSize == batchSizes.count, snapshot.worldSize >= 1 else {
            throw incompatible("metadata \"world_size\" \(snapshot.worldSize) does not match its \(batchSizes.count) batch sizes")
        }
        let expected = checksum(fingerprint)
        guard file.metadata["checksum"] == expected else {
            throw incompatible("checksum mismatch: metadata says \(file.metadata["checksum"] ?? "nothing"), tensor data gives \(expected); the file is corrupt")
        }
        return snapshot
    }

    /// The run that wrote the checkpoint at `path`; nil when it is not a sound checkpoint of ours.
    public static func runID(ofCheckpointAt path: String) -> RunID? {
        try? decode(open(path)).runID
    }

    /// The dataset a checkpoint of ours was trained on, from its metadata; MNIST for one written
    /// before datasets were recorded.
    public static func dataset(of file: SafeTensorsFile) throws(TrainingError) -> Dataset {
        let name = file.metadata["dataset"] ?? Dataset.mnist.name
        guard let dataset = Dataset.named(name) else {
            throw .incompatibleCheckpoint(
                path: file.source,
                reason: "trained on the unknown dataset \"\(name)\" (known: \(Dataset.all.map(\.name).joined(separator: ", ")))")
        }
        return dataset
    }

    /// Refuses to continue from or score `file` on `dataset` when the checkpoint was trained on
    /// another.
    public static func requireDataset(_ dataset: Dataset, of file: SafeTensorsFile) throws(TrainingError) {
        let trainedOn = try self.dataset(of: file)
        guard trainedOn == dataset else {
            throw .datasetMismatch(path: file.source, trainedOn: trainedOn.name, requested: dataset.name)
        }
    }

    /// The model weights of any safetensors file holding the six tensors under PyTorch's
    /// `state_dict` names and shapes as F32: our checkpoints, or one saved from the tutorial's
    /// PyTorch model with `safetensors.torch.save_file(model.state_dict(), path)`. A checkpoint
    /// of ours is verified in full first, checksum included, as a resume verifies it.
    public static func modelParameters(contentsOf path: String) throws(TrainingError) -> [Float] {
        try modelParameters(of: try open(path))
    }

    /// The model weights of an opened safetensors file, as `modelParameters(contentsOf:)`.
    public static func modelParameters(of file: SafeTensorsFile) throws(TrainingError) -> [Float] {
        if file.metadata["format"] == formatName { return try decode(file).parameters }
        return try tensors(from: file, prefix: "")
    }

    /// The safetensors file at `path`, or the reason it is not one.
    public static func open(_ path: String) throws(TrainingError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(contentsOf: path) } catch { throw .checkpointFile(error) }
    }

    /// A safetensors file received as bytes.
    public static func open(bytes: [UInt8], source: String) throws(TrainingError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(bytes: bytes, source: source) } catch { throw .checkpointFile(error) }
    }

    private static func tensors(from file: SafeTensorsFile, prefix: String) throws(TrainingError) -> [Float] {
        var values = [Float](repeating: 0, count: Network.modelDescription.parameterCount)
        for tensor in Network.modelDescription.tensors {
            do {
                let floats = try file.floats(named: prefix + tensor.name, shape: tensor.shape)
                values.replaceSubrange(tensor.range, with: floats)
            } catch {
                throw .checkpointFile(error)
            }
        }
        return values
    }

    /// The checksum metadata of `snapshot`'s tensors.
    static func checksum(of snapshot: TrainingSnapshot) -> String {
        checksum(tensorFingerprint(snapshot.parameters, snapshot.firstMoment, snapshot.secondMoment))
    }

    /// A fingerprint as checksum metadata, tagged with its algorithm so a later format can change it.
    private static func checksum(_ fingerprint: UInt64) -> String {
        "fnv1a64:" + sixteenHexadecimalDigits(fingerprint)
    }

    /// FNV-1a (64 bit) over the bit patterns of every tensor, in layout order.
    private static func tensorFingerprint(_ parameters: [Float], _ firstMoment: [Float], _ secondMoment: [Float]) -> UInt64 {
        var fingerprint = FloatFingerprint()
        for values in [parameters, firstMoment, secondMoment] {
            fingerprint.add(values)
        }
        return fingerprint.value
    }
}
