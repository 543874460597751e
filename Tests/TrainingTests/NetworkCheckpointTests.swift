import CNN
import Data
import SafeTensors
import Testing
import Training

/// Checkpoints record the network they hold, and rebuild it from what they record: any
/// network, checked as any outside input.
extension CheckpointFormatTests {
    static let lenet5 = try! ModelPlan(.lenet5, inputShape: [1, 28, 28], classCount: 10)

    /// A fresh snapshot of `model`, initialised from seed 3.
    func snapshot(of model: ModelPlan) -> TrainingSnapshot {
        let network = model.makeNetwork(maxBatch: 1)
        network.initialize(seed: 3)
        let zeros = [Float](repeating: 0, count: model.parameterCount)
        return TrainingSnapshot(
            model: model, parameters: network.withUnsafeParameters(Array.init), adamStep: 0, firstMoment: zeros,
            secondMoment: zeros, position: .start, worldSize: 1, batchSizes: [60], trainingSamples: 60_000, seed: 3,
            shuffle: true, runID: RunID("0123456789abcdef")!)
    }

    @Test("a checkpoint records its network as the resolved description and its input as CxHxW")
    func networkIsRecorded() throws {
        let file = try SafeTensorsFile(
            bytes: CheckpointFormat.encode(snapshot(of: Self.lenet5), configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames), source: "test")
        #expect(file.metadata["model"] == "conv1=conv(6,5,pad=2) relu maxpool(2) conv2=conv(16,5,pad=0) relu maxpool(2) flatten fc1=linear(120) relu fc2=linear(84) relu fc3=linear(10)")
        #expect(file.metadata["input_shape"] == "1x28x28")
        #expect(file.entry(named: "fc3.weight")?.shape == [10, 84])
    }

    @Test("a LeNet-5 checkpoint decodes to the same network, parameters and moments")
    func otherNetworkRoundTrips() throws {
        let original = snapshot(of: Self.lenet5)
        let decoded = try decode(CheckpointFormat.encode(original, configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames))
        #expect(decoded == original)
        #expect(decoded.model.layers.map(\.name) == Self.lenet5.layers.map(\.name))
    }

    @Test("a checkpoint written before networks were recorded holds the seed network")
    func unrecordedNetworkIsTheSeed() throws {
        let file = try CheckpointFormat.open(Self.versionOne)
        #expect(file.metadata["model"] == nil)
        #expect(try CheckpointFormat.decode(file).model == ParameterLayout.seedPlan)
    }

    @Test("a seed checkpoint rebuilds the seed's own fast network")
    func seedCheckpointRebuildsSeedCNN() throws {
        let decoded = try decode(CheckpointFormat.encode(snapshot(), configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames))
        #expect(decoded.model.makeNetwork(maxBatch: 1) is SeedCNN)
    }

    /// Hostile or corrupt network metadata, under a valid (version 1) checksum: each refused in
    /// one line naming the key, never a crash or an allocation beyond the file.
    @Test("a network in the metadata that cannot be a checkpoint's is refused in one line", arguments: [
        ("conv(8", "1x28x28", "metadata \"model\" is not a network"),
        ("conv1=conv(8,3,pad=1) relu", "1x28x28", "does not end in a linear layer"),
        ("fc1=linear(10)", "1x28x28", "does not plan on its input 1×28×28"),
        ("conv1=conv(65536,7,pad=0) flatten fc1=linear(10)", "1x28x28", "more than the 100000000 allowed"),
        ("conv1=conv(8,3,pad=1) " + String(repeating: "maxpool(2) ", count: 13) + "flatten fc1=linear(10)", "1x16384x16384", "GiB allowed"),
        (ParameterLayout.seedPlan.resolvedSpec.description, "1x28", "metadata \"input_shape\" is \"1x28\""),
        (ParameterLayout.seedPlan.resolvedSpec.description, "0x28x28", "does not plan on its input"),
        (ModelPlan.kerasTransferText, "1x28x28", "more than the file's"),
        ("conv1=conv(8,3,pad=1) relu maxpool(2) conv2=conv(16,3,pad=1) relu maxpool(2) flatten head=linear(10)", "1x28x28", "head.weight"),
    ])
    func hostileNetworkIsRefused(model: String, inputShape: String, reason: String) throws {
        let bytes = try rewriting(versionOne(snapshot())) {
            $0["model"] = model
            $0["input_shape"] = inputShape
        }
        let refused = refusal(bytes)
        #expect(refused?.contains(reason) == true, "\(refused ?? "accepted")")
        #expect(refused?.contains("\n") == false)
    }
}

extension ModelPlan {
    /// keras-transfer, resolved: far more parameters than a seed checkpoint's file holds.
    static let kerasTransferText = try! ModelPlan(.kerasTransfer, inputShape: [1, 28, 28], classCount: 10).resolvedSpec.description
}

@Suite("Starting a network from another's weights")
struct WeightTransferTests {
    /// The seed network's layers under a 5-class head.
    static let fiveClasses = try! ModelPlan(.seed, inputShape: [1, 28, 28], classCount: 5)

    func seedCheckpoint() -> SafeTensorsFile {
        let tests = CheckpointFormatTests()
        return try! CheckpointFormat.open(
            bytes: CheckpointFormat.encode(tests.snapshot(), configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames), source: "seed.safetensors")
    }

    func fresh(_ model: ModelPlan) -> [Float] {
        let network = model.makeNetwork(maxBatch: 1)
        network.initialize(seed: 11)
        return network.withUnsafeParameters(Array.init)
    }

    @Test("tensors whose name and shape match are loaded; a new head keeps its fresh values, and the line says why")
    func newHeadKeepsFreshValues() throws {
        let model = Self.fiveClasses.modelDescription
        let start = fresh(Self.fiveClasses)
        var parameters = start
        let file = seedCheckpoint()
        let transfer = try CheckpointFormat.transferWeights(from: file, into: &parameters, of: model)
        #expect(transfer.loaded == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"])
        #expect(transfer.summary.contains("fc1.weight [5,784] kept fresh: the file's is [10,784]"), "\(transfer.summary)")
        #expect(transfer.summary.contains("fc1.bias [5] kept fresh: the file's is [10]"), "\(transfer.summary)")
        let source = try CheckpointFormat.decode(file)
        for tensor in model.tensors {
            let expected = tensor.name.hasPrefix("fc1") ? start[tensor.range] : source.parameters[tensor.range]
            #expect(parameters[tensor.range] == expected, "\(tensor.name)")
        }
    }

    @Test("a PyTorch-style file lends the tensors it has by name, whatever else it holds")
    func stateDictLendsByName() throws {
        let weights = [
            NamedTensor(name: "conv1.weight", shape: [8, 1, 3, 3], floats: [Float](repeating: 0.5, count: 72)),
            NamedTensor(name: "classifier.weight", shape: [3, 3], floats: [Float](repeating: 1, count: 9)),
        ]
        let file = try SafeTensorsFile(bytes: SafeTensorsFile.serialize(weights, metadata: ["format": "pt"]), source: "pt")
        var parameters = fresh(ParameterLayout.seedPlan)
        let transfer = try CheckpointFormat.transferWeights(
            from: file, into: &parameters, of: ParameterLayout.seedPlan.modelDescription)
        #expect(transfer.loaded == ["conv1.weight"])
        #expect(parameters[ParameterLayout.conv1Weight.range].allSatisfy { $0 == 0.5 })
        #expect(transfer.keptFresh.first == "conv1.bias [8] kept fresh: the file has no such tensor")
    }

    @Test("a file of which no tensor matches is refused, naming what the network needs")
    func nothingMatchingIsRefused() throws {
        // Not even a bias's width in common with the seed network.
        let kerasTransfer = try ModelPlan(.kerasTransfer, inputShape: [1, 28, 28], classCount: 10)
        var parameters = fresh(kerasTransfer)
        #expect {
            _ = try CheckpointFormat.transferWeights(from: seedCheckpoint(), into: &parameters, of: kerasTransfer.modelDescription)
        } throws: { error in
            let text = (error as? TrainingError)?.description ?? ""
            return text.contains("no tensor of it matches") && text.contains("conv1.weight [32,1,3,3]")
                && (error as? TrainingError)?.exitStatus == .badInput
        }
    }

    @Test("--freeze takes the layer and tensor names of any network, and refuses others naming the ones it has")
    func freezeNamesFollowTheNetwork() throws {
        let lenet5 = try ModelPlan(.lenet5, inputShape: [1, 28, 28], classCount: 10)
        var configuration = TrainingConfiguration()
        configuration.frozen = ["conv1", "fc3.bias"]
        #expect(throws: Never.self) { try configuration.validate(model: lenet5) }
        #expect {
            try configuration.validate(model: ParameterLayout.seedPlan)
        } throws: { error in
            let text = (error as? TrainingError)?.description ?? ""
            return text.contains("--freeze fc3.bias") && text.contains("fc1.weight")
        }
    }
}
