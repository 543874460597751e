import CNN
import Data
import SafeTensors

/// Everything a run needs to continue exactly where another stopped.
public struct TrainingSnapshot: Sendable, Equatable {
    /// The network trained.
    public var model: ModelPlan
    /// Its parameters, in the order of its tensors.
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
        model: ModelPlan, parameters: [Float], adamStep: Int, firstMoment: [Float], secondMoment: [Float],
        position: TrainingPosition, worldSize: Int, batchSizes: [Int], trainingSamples: Int,
        seed: UInt64, shuffle: Bool, runID: RunID, bestValidationAccuracy: Double? = nil
    ) {
        self.bestValidationAccuracy = bestValidationAccuracy
        self.model = model
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
/// The network is metadata `model`, its description with every parameter layer named and every
/// width given (`ModelPlan.resolvedSpec`, which PyTorch scripts build), and `input_shape`, one
/// input as channels×height×width (`1x28x28`); its class count is its last layer's width. A
/// checkpoint without them, written before they were recorded, holds the seed network.
///
/// Version 2 (written since) checksums the metadata as well as the tensors; version 1 files,
/// whose checksum covers the tensors alone, still load. Both have every metadata value checked
/// against the run it describes, so that no file can make training overflow, spin or trap.
public enum CheckpointFormat {
    public static let formatName = "mnist-ddp checkpoint"
    public static let version = "2"
    static let firstMomentPrefix = "optimizer.exp_avg."
    static let secondMomentPrefix = "optimizer.exp_avg_sq."
    static let checksumKey = "checksum"
    static let modelKey = "model"
    static let inputShapeKey = "input_shape"
    static let classNamesKey = "class_names"
    /// Far above the 110 KB of ours and the 32 KB of the model's PyTorch weights, so that no
    /// file can make a reader take memory for nothing.
    public static let maximumFileSize = 64 << 20

    /// The file's bytes for `snapshot`, with `configuration` and the data's `classNames` (after
    /// `--classes`) recorded for the reader.
    public static func encode(_ snapshot: TrainingSnapshot, configuration: TrainingConfiguration, classNames: [String]) -> [UInt8] {
        var tensors: [NamedTensor] = []
        for (prefix, values) in [("", snapshot.parameters), (firstMomentPrefix, snapshot.firstMoment),
                                 (secondMomentPrefix, snapshot.secondMoment)] {
            for tensor in snapshot.model.modelDescription.tensors {
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
            classNamesKey: JSONValue.array(classNames.map(JSONValue.string)).json,
            modelKey: snapshot.model.resolvedSpec.description,
            inputShapeKey: snapshot.model.inputShape.map(String.init).joined(separator: "x"),
        ]
        if let best = snapshot.bestValidationAccuracy { metadata["best_validation_accuracy"] = String(best) }
        // Last, over every other entry: whatever a later change adds above is covered too.
        metadata[checksumKey] = checksum(of: snapshot, metadata: metadata)
        return SafeTensorsFile.serialize(tensors, metadata: metadata)
    }

    /// Reads and fully verifies a checkpoint of ours: format, every tensor's shape, every
    /// metadata value (strictly parsed and checked against the run it describes) and the
    /// checksum.
    public static func decode(_ file: SafeTensorsFile) throws(TrainingError) -> TrainingSnapshot {
        let metadata = file.metadata
        func incompatible(_ reason: String) -> TrainingError { .incompatibleCheckpoint(path: file.source, reason: reason) }
        guard metadata["format"] == formatName else {
            throw incompatible("not an mnist-ddp checkpoint (metadata \"format\" is \(quoted(metadata["format"]))); use --init-from for model weights alone")
        }
        let formatVersion = metadata["format_version"]
        guard formatVersion == "1" || formatVersion == version else {
            throw incompatible("checkpoint format version \(formatVersion ?? "missing") is not one of the supported 1 and \(version)")
        }
        let model = try self.model(of: file)
        let parameters = try tensors(from: file, prefix: "", of: model.modelDescription)
        let firstMoment = try tensors(from: file, prefix: firstMomentPrefix, of: model.modelDescription)
        let secondMoment = try tensors(from: file, prefix: secondMomentPrefix, of: model.modelDescription)
        let fingerprint = tensorFingerprint(parameters, firstMoment, secondMoment)
        let runID: RunID
        if let text = metadata["run_id"] {
            guard let id = RunID(text) else {
                throw incompatible("metadata \"run_id\" is \"\(text)\", expected 16 lowercase hexadecimal digits")
            }
            runID = id
        } else {
            // Written before runs had ids: the run goes on under an id its tensors determine,
            // the same on every rank.
            runID = RunID(value: fingerprint.value)
        }
        var bestValidationAccuracy: Double?
        if let text = metadata["best_validation_accuracy"] {
            guard let accuracy = Double(text), (0...1).contains(accuracy) else {
                throw incompatible("metadata \"best_validation_accuracy\" is \"\(text)\", expected a number in [0, 1]")
            }
            bestValidationAccuracy = accuracy
        }
        let snapshot = TrainingSnapshot(
            model: model,
            parameters: parameters,
            adamStep: try natural(metadata, "adam_step", file.source),
            firstMoment: firstMoment,
            secondMoment: secondMoment,
            position: TrainingPosition(
                step: try natural(metadata, "step", file.source), epoch: try natural(metadata, "epoch", file.source),
                stepInEpoch: try natural(metadata, "step_in_epoch", file.source)),
            worldSize: try natural(metadata, "world_size", file.source),
            batchSizes: try naturals(metadata, "batch_sizes", file.source),
            trainingSamples: try natural(metadata, "training_samples", file.source),
            seed: try parsed(metadata, "seed", file.source, as: "an integer 0...\(UInt64.max)") { strictNatural($0, as: UInt64.self) },
            shuffle: try parsed(metadata, "shuffle", file.source, as: "true or false") { ["true": true, "false": false][$0] },
            runID: runID,
            bestValidationAccuracy: bestValidationAccuracy
        )
        // The checksum first: a corrupt file is reported as corrupt, whatever its values.
        let expected = checksum(fingerprint, metadata: formatVersion == "1" ? nil : metadata)
        guard metadata[checksumKey] == expected else {
            throw incompatible("checksum mismatch: metadata says \(metadata[checksumKey] ?? "nothing"), the file's contents give \(expected); the file is corrupt")
        }
        if let fault = snapshot.inconsistency { throw incompatible(fault) }
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

    /// The classes a checkpoint of ours was trained on, by label (after `--classes`), from its
    /// metadata; nil for one written before they were recorded.
    public static func classNames(of file: SafeTensorsFile) throws(TrainingError) -> [String]? {
        guard let text = file.metadata[classNamesKey] else { return nil }
        guard let names = jsonStringArray(text) else {
            throw .incompatibleCheckpoint(path: file.source, reason: "metadata \"\(classNamesKey)\" is not a JSON array of strings")
        }
        return names
    }

    /// Refuses to continue from `file` on `dataset` and its `classNames` when the checkpoint was
    /// trained on another dataset or other classes.
    public static func requireDataset(_ dataset: Dataset, classNames: [String], of file: SafeTensorsFile) throws(TrainingError) {
        let trainedOn = try self.dataset(of: file)
        guard trainedOn == dataset else {
            throw .datasetMismatch(path: file.source, trainedOn: trainedOn.name, requested: dataset.name)
        }
        if let trainedClasses = try self.classNames(of: file), trainedClasses != classNames {
            throw .classesMismatch(path: file.source, trainedOn: trainedClasses, requested: classNames)
        }
    }

    /// The network of a checkpoint of ours, from its metadata (see `CheckpointFormat`), checked
    /// as any outside input: a description that does not parse, does not plan on its input
    /// shape, or goes beyond the bounds of a network (its parameters, or the activations of an
    /// evaluation's block) is refused in one line.
    static func model(of file: SafeTensorsFile) throws(TrainingError) -> ModelPlan {
        func incompatible(_ reason: String) -> TrainingError { .incompatibleCheckpoint(path: file.source, reason: reason) }
        guard let description = file.metadata[modelKey] else { return ParameterLayout.seedPlan }
        let spec: ModelSpec
        do throws(ModelSpecError) { spec = try ModelSpec(parsing: description) } catch {
            throw incompatible("metadata \"\(modelKey)\" is not a network: \(error)")
        }
        guard case .linear(let classCount?) = spec.layers.last?.kind else {
            throw incompatible("metadata \"\(modelKey)\" does not end in a linear layer of given width, the classes")
        }
        let text = file.metadata[inputShapeKey]
        let dimensions = text?.split(separator: "x", omittingEmptySubsequences: false).map { strictNatural($0, as: Int.self) }
        guard let dimensions, dimensions.count == 3, let height = dimensions[1], let width = dimensions[2],
              let channels = dimensions[0]
        else {
            throw incompatible("metadata \"\(inputShapeKey)\" is \(quoted(text)), expected channels×height×width such as 1x28x28")
        }
        do throws(ModelSpecError) {
            let model = try ModelPlan(spec, inputShape: [channels, height, width], classCount: classCount)
            try model.check(batch: Evaluator.samplesPerBlock)
            return model
        } catch {
            throw incompatible("metadata \"\(modelKey)\" does not plan on its input \(ModelPlan.shapeText([channels, height, width])): \(error)")
        }
    }

    /// Refuses a network whose checkpoints would be larger than a checkpoint may be read: its
    /// parameters and Adam's two moments, and a MiB for the header, within `maximumFileSize`.
    /// So every checkpoint a run writes can be resumed.
    static func requireCheckpointFits(_ model: ModelPlan) throws(ModelSpecError) {
        let bytes = 3 * MemoryLayout<Float>.size * model.parameterCount
        guard bytes <= maximumFileSize - (1 << 20) else {
            throw .beyondBound(reason: "its checkpoints would hold \(grouped(bytes)) bytes of parameters and Adam's moments, more than the \(maximumFileSize >> 20) MiB a checkpoint may have")
        }
    }

    /// Refuses to resume `snapshot` (from `path`) as a run of `model`, the network the options
    /// give on the data, unless the two are the same network: a resume continues the network
    /// the checkpoint holds, and a `--model` that differs is a mistake to point out, not to
    /// override.
    static func requireModel(_ model: ModelPlan, of snapshot: TrainingSnapshot, path: String) throws(TrainingError) {
        guard model != snapshot.model else { return }
        let held = snapshot.model
        throw .invalidOption(
            "\(path) holds the network '\(held.resolvedSpec)' on \(ModelPlan.shapeText(held.inputShape)) inputs, "
                + "not the --model '\(model.resolvedSpec)' on \(ModelPlan.shapeText(model.inputShape)); "
                + "give --model '\(held.resolvedSpec)' to resume it")
    }

    /// The weights of `model` in a safetensors file without our metadata, such as one saved
    /// from PyTorch with `safetensors.torch.save_file(model.state_dict(), path)`: every tensor
    /// under its `state_dict` name and shape, as F32.
    static func weights(of file: SafeTensorsFile, model: ModelPlan) throws(TrainingError) -> [Float] {
        try tensors(from: file, prefix: "", of: model.modelDescription)
    }

    /// The safetensors file at `path` (a regular file of at most `maximumFileSize` bytes), or
    /// the reason it is not one.
    public static func open(_ path: String) throws(TrainingError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(contentsOf: path, maximumSize: maximumFileSize) } catch { throw .checkpointFile(error) }
    }

    /// A safetensors file received as bytes.
    public static func open(bytes: [UInt8], source: String) throws(TrainingError) -> SafeTensorsFile {
        do { return try SafeTensorsFile(bytes: bytes, source: source) } catch { throw .checkpointFile(error) }
    }

    /// The tensors of `model` under `prefix` in `file`, in `model`'s order; refused before
    /// anything is allocated for them when the file is too small to hold them.
    private static func tensors(
        from file: SafeTensorsFile, prefix: String, of model: ModelDescription
    ) throws(TrainingError) -> [Float] {
        guard model.parameterCount <= file.bytes.count / MemoryLayout<Float>.size else {
            throw .incompatibleCheckpoint(
                path: file.source,
                reason: "the network has \(grouped(model.parameterCount)) parameters, more than the file's \(grouped(file.bytes.count)) bytes hold")
        }
        var values = [Float](repeating: 0, count: model.parameterCount)
        for tensor in model.tensors {
            do {
                let floats = try file.floats(named: prefix + tensor.name, shape: tensor.shape)
                values.replaceSubrange(tensor.range, with: floats)
            } catch {
                throw .checkpointFile(error)
            }
        }
        return values
    }

    /// The checksum metadata of `snapshot` with `metadata` (nil: of its tensors alone, as
    /// version 1 has it).
    static func checksum(of snapshot: TrainingSnapshot, metadata: [String: String]?) -> String {
        checksum(tensorFingerprint(snapshot.parameters, snapshot.firstMoment, snapshot.secondMoment), metadata: metadata)
    }

    /// FNV-1a (64 bit) over the bit patterns of every tensor, in layout order, continued (from
    /// version 2) over every metadata entry but the checksum, in key order, each key and value
    /// preceded by its length; tagged with its algorithm so a later format can change it.
    private static func checksum(_ tensors: FloatFingerprint, metadata: [String: String]?) -> String {
        var fingerprint = tensors
        for (key, value) in (metadata ?? [:]).sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) })
        where key != checksumKey {
            fingerprint.add(text: key)
            fingerprint.add(text: value)
        }
        return "fnv1a64:" + sixteenHexadecimalDigits(fingerprint.value)
    }

    /// FNV-1a (64 bit) over the bit patterns of every tensor, in layout order.
    private static func tensorFingerprint(_ parameters: [Float], _ firstMoment: [Float], _ secondMoment: [Float]) -> FloatFingerprint {
        var fingerprint = FloatFingerprint()
        for values in [parameters, firstMoment, secondMoment] {
            fingerprint.add(values)
        }
        return fingerprint
    }

    /// The value of `key` read by `parse`, or an error that names the key, its value and what it
    /// should be.
    private static func parsed<Value>(
        _ metadata: [String: String], _ key: String, _ source: String, as expected: String, _ parse: (String) -> Value?
    ) throws(TrainingError) -> Value {
        guard let text = metadata[key], let value = parse(text) else {
            throw .incompatibleCheckpoint(path: source, reason: "metadata \"\(key)\" is \(quoted(metadata[key])), expected \(expected)")
        }
        return value
    }

    private static func natural(_ metadata: [String: String], _ key: String, _ source: String) throws(TrainingError) -> Int {
        try parsed(metadata, key, source, as: "a non-negative integer") { strictNatural($0, as: Int.self) }
    }

    private static func naturals(_ metadata: [String: String], _ key: String, _ source: String) throws(TrainingError) -> [Int] {
        try parsed(metadata, key, source, as: "non-negative integers separated by commas") { text in
            let values = text.split(separator: ",", omittingEmptySubsequences: false).map { strictNatural($0, as: Int.self) }
            return values.contains(nil) ? nil : values.compactMap { $0 }
        }
    }
}

extension TrainingSnapshot {
    /// Why the snapshot cannot describe a run of ours, or nil: each value within the limits
    /// every run keeps, and the position consistent with the epoch plan it records. So that no
    /// later arithmetic on them can overflow, and resuming cannot spin or trap.
    var inconsistency: String? {
        func metadata(_ key: String, _ value: some BinaryInteger, _ requirement: String) -> String {
            "metadata \"\(key)\" is \(value), \(requirement)"
        }
        guard (1...TrainingLimits.maximumWorldSize).contains(worldSize) else {
            return metadata("world_size", worldSize, "expected 1 to \(TrainingLimits.maximumWorldSize)")
        }
        guard batchSizes.count == worldSize else {
            return "metadata \"world_size\" \(worldSize) does not match its \(batchSizes.count) batch sizes"
        }
        guard (worldSize...TrainingLimits.maximumTrainingSamples).contains(trainingSamples) else {
            return metadata("training_samples", trainingSamples, "expected \(worldSize) (the world size) to \(TrainingLimits.maximumTrainingSamples)")
        }
        if let batch = batchSizes.first(where: { !(1...trainingSamples).contains($0) }) {
            return metadata("batch_sizes", batch, "expected 1 to \(trainingSamples) (the training samples)")
        }
        guard position.epoch <= TrainingLimits.maximumEpochs else {
            return metadata("epoch", position.epoch, "expected at most \(TrainingLimits.maximumEpochs)")
        }
        guard position.step <= TrainingLimits.maximumSteps else {
            return metadata("step", position.step, "expected at most \(TrainingLimits.maximumSteps)")
        }
        guard position.epoch <= position.step else {
            return metadata("epoch", position.epoch, "more than the \(position.step) steps taken")
        }
        let stepsPerEpoch = epochPlan.stepsPerEpoch
        guard position.stepInEpoch < stepsPerEpoch else {
            return metadata("step_in_epoch", position.stepInEpoch, "expected less than the \(stepsPerEpoch) steps of an epoch of the plan it records")
        }
        guard adamStep == position.step else {
            return metadata("adam_step", adamStep, "expected the step, \(position.step)")
        }
        return nil
    }
}

/// `text` as a natural number of type `T` when it is exactly its decimal digits: no sign, no
/// space, no leading zero; nil otherwise, or when it does not fit.
func strictNatural<T: FixedWidthInteger>(_ text: some StringProtocol, as: T.Type) -> T? {
    let digits = text.utf8
    guard let first = digits.first, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
          first != UInt8(ascii: "0") || digits.count == 1
    else { return nil }
    return T(text, radix: 10)
}

private func quoted(_ value: String?) -> String {
    value.map { "\"\($0)\"" } ?? "missing"
}
