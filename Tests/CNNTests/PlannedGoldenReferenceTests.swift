import CNN
import CNNKernelInterface
import KernelPaths
import Testing

/// `PlannedNetwork` against PyTorch on the golden batch for the presets beyond the seed, on every
/// kernel path this CPU runs: every tensor (its recorded floats, and its norm) within 1e-5
/// relative error. keras-transfer's dropout keeps what `DropoutMask` keeps, in both.
@Suite struct PlannedGoldenReferenceTests {
    let tolerance = 1e-5

    static let presets = ["lenet5", "keras-transfer"]

    @Test(arguments: presets)
    func fixtureDescribesThePresetAsMnistDDPDoes(preset: String) throws {
        let golden = try PlannedGoldenFixture.load(preset)
        #expect(try golden.plan().resolvedSpec.description == golden.canonical)
    }

    @Test(arguments: presets)
    func initializationDrawsTheFixturesStartingParameters(preset: String) throws {
        let golden = try PlannedGoldenFixture.load(preset)
        let network = try golden.network(kernelPath: .active)
        for tensor in network.modelDescription.tensors {
            let reference = try #require(golden.initialParams[tensor.name], "\(tensor.name)")
            #expect(reference.shape == tensor.shape, "\(tensor.name)")
            let drawn = reference.sample(of: network.parameterValues[tensor.range])
            let differing = zip(drawn, reference.data).filter { $0 != $1 }.count
            #expect(drawn.count == reference.data.count && differing == 0,
                    "\(tensor.name): \(differing) of \(reference.data.count) recorded floats differ")
        }
    }

    @Test func dropoutMasksAreTheFixtures() throws {
        let golden = try PlannedGoldenFixture.load("keras-transfer")
        let plan = try golden.plan()
        let dropoutLayers = plan.layers.indices.filter { if case .dropout = plan.layers[$0].kind { true } else { false } }
        #expect(golden.dropoutMasks.map(\.step) == Array(0..<golden.adam.steps.count))
        for stepMasks in golden.dropoutMasks {
            #expect(stepMasks.layers.keys.sorted() == dropoutLayers.map(String.init).sorted(), "step \(stepMasks.step)")
            for layer in dropoutLayers {
                guard case .dropout(let probability) = plan.layers[layer].kind else { continue }
                let mask = golden.dropout(step: stepMasks.step).mask(probability: probability, layer: layer)
                let elements = plan.layers[layer].inputShape.reduce(1, *)
                let samples = try #require(stepMasks.layers[String(layer)])
                #expect(samples.count == golden.batch.count)
                for (sample, hex) in samples.enumerated() {
                    try #require(hex.utf8.count == 2 * ((elements + 7) / 8), "layer \(layer), sample \(sample): \(hex.utf8.count) hex digits")
                    let stream = mask.stream(sample: sample)
                    let keeps = (0..<elements).map { mask.keeps(stream: stream, element: $0) }
                    let differing = zip(keeps, Self.bits(hex: hex, count: elements)).filter { $0 != $1 }.count
                    #expect(differing == 0, "step \(stepMasks.step), layer \(layer), sample \(sample): \(differing) of \(elements) differ")
                }
            }
        }
    }

    @Test(arguments: KernelPath.supported, presets)
    func logitsAndLossMatchPyTorch(kernelPath: KernelPath, preset: String) throws {
        let golden = try PlannedGoldenFixture.load(preset)
        let network = try golden.network(kernelPath: kernelPath)
        let count = golden.batch.count
        let lossSum = network.computeGradients(
            images: golden.images, labels: golden.batch.labels, count: count, gradientScale: 1 / Float(count),
            dropout: golden.dropout(step: 0))
        let logitsError = relativeError(network.logitValues(count: count), golden.logits.data)
        let lossError = abs(lossSum / Double(count) - Double(golden.loss)) / Double(golden.loss)
        print("\(preset), \(kernelPath): relative error logits \(logitsError), loss \(lossError)")
        #expect(logitsError <= tolerance)
        #expect(lossError <= tolerance)
    }

    @Test(arguments: KernelPath.supported, presets)
    func gradientsMatchPyTorch(kernelPath: KernelPath, preset: String) throws {
        let golden = try PlannedGoldenFixture.load(preset)
        let network = try golden.network(kernelPath: kernelPath)
        let count = golden.batch.count
        network.computeGradients(
            images: golden.images, labels: golden.batch.labels, count: count, gradientScale: 1 / Float(count),
            dropout: golden.dropout(step: 0))
        let gradients = network.gradientValues
        for tensor in network.modelDescription.tensors {
            let reference = try #require(golden.grads[tensor.name], "\(tensor.name)")
            let error = reference.relativeErrors(of: gradients[tensor.range])
            print("\(preset), \(kernelPath): relative error gradient \(tensor.name): \(error.floats), norm \(error.norm)")
            #expect(error.floats <= tolerance, "\(tensor.name)")
            #expect(error.norm <= tolerance, "\(tensor.name)'s norm")
        }
    }

    @Test(arguments: KernelPath.supported, presets)
    func adamStepsMatchPyTorch(kernelPath: KernelPath, preset: String) throws {
        let golden = try PlannedGoldenFixture.load(preset)
        let network = try golden.network(kernelPath: kernelPath)
        let count = golden.batch.count
        var adam = Adam(
            parameterCount: network.modelDescription.parameterCount,
            beta1: golden.adam.betas[0], beta2: golden.adam.betas[1], epsilon: golden.adam.eps,
            kernelPath: kernelPath)
        for (index, step) in golden.adam.steps.enumerated() {
            let lossSum = network.computeGradients(
                images: golden.images, labels: golden.batch.labels, count: count, gradientScale: 1 / Float(count),
                dropout: golden.dropout(step: index))
            let lossError = abs(lossSum / Double(count) - Double(step.lossBeforeStep)) / Double(step.lossBeforeStep)
            #expect(lossError <= tolerance, "loss before step \(index + 1)")
            adam.update(network, learningRate: golden.adam.lr)
            let parameters = network.parameterValues
            for tensor in network.modelDescription.tensors {
                let reference = try #require(step.params[tensor.name], "\(tensor.name)")
                let error = reference.relativeErrors(of: parameters[tensor.range])
                print("\(preset), \(kernelPath): relative error after Adam step \(index + 1) \(tensor.name): \(error.floats), norm \(error.norm)")
                #expect(error.floats <= tolerance, "\(tensor.name) after step \(index + 1)")
                #expect(error.norm <= tolerance, "\(tensor.name)'s norm after step \(index + 1)")
            }
        }
    }

    /// `count` bits of `hex` (bytes in order, element e is bit e % 8 of byte e / 8).
    static func bits(hex: String, count: Int) -> [Bool] {
        let digits = Array(hex.utf8)
        let bytes = stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        return (0..<count).map { bytes[$0 / 8] >> ($0 % 8) & 1 == 1 }
    }
}
