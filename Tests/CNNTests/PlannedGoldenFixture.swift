import CNN
import CNNKernelInterface
import Foundation
import KernelPaths
import Testing

/// The PyTorch reference for a preset beyond the seed (Fixtures/lenet5_golden.json,
/// keras_transfer_golden.json, written by `scripts/make_golden_fixture.py --model NAME`): one
/// batch of 8 MNIST training images, parameters from `initialize(seed:)`, and what PyTorch
/// computed from them with dropout keeping what `DropoutMask` keeps. A tensor of more than 4,096
/// floats is recorded as every `stride`-th float and its whole L2 norm.
struct PlannedGoldenFixture: Decodable {
    /// A tensor, or every `stride`-th float of it.
    struct SampledTensor: Decodable {
        let shape: [Int]
        let stride: Int
        /// The whole tensor's L2 norm.
        let norm: Double
        let data: [Float]
    }

    struct Batch: Decodable {
        let count: Int
        let labels: [Int32]
        /// [count][784] bytes; the network sees byte/255.
        let pixels: [UInt8]
    }

    /// The masks of one step: per dropout layer (its 0-based place, as text), per sample, the
    /// kept elements as bits (element e is bit e % 8 of byte e / 8), in hexadecimal.
    struct StepMasks: Decodable {
        let step: Int
        let layers: [String: [String]]
    }

    let model: String
    let canonical: String
    let inputShape: [Int]
    let classes: Int
    let seed: UInt64
    let batch: Batch
    let initialParams: [String: SampledTensor]
    let logits: GoldenFixture.Tensor
    let loss: Float
    let grads: [String: SampledTensor]
    let adam: GoldenAdamRun<SampledTensor>
    let dropoutMasks: [StepMasks]

    enum CodingKeys: String, CodingKey {
        case model, canonical, classes, seed, batch, logits, loss, grads, adam
        case inputShape = "input_shape"
        case initialParams = "initial_params"
        case dropoutMasks = "dropout_masks"
    }

    /// The fixture of the preset `model`.
    static func load(_ model: String) throws -> PlannedGoldenFixture {
        let name = model.replacingOccurrences(of: "-", with: "_") + "_golden"
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(PlannedGoldenFixture.self, from: Data(contentsOf: url))
    }

    /// The preset planned for the fixture's input and classes.
    func plan() throws -> ModelPlan {
        let spec = try #require(ModelSpec.preset(named: model))
        return try ModelPlan(spec, inputShape: inputShape, classCount: classes)
    }

    /// The batch as the network sees it.
    var images: [Float] { batch.pixels.map { Float($0) / 255 } }

    /// The dropout context of the `step`-th pass (0 for the gradients, 0, 1, 2 for the Adam steps).
    func dropout(step: Int) -> DropoutContext { DropoutContext(seed: seed, step: step, firstSample: 0) }

    /// A network of the fixture's preset on `kernelPath`, holding `initialize(seed:)`'s
    /// parameters, which the fixture's PyTorch model started from.
    func network(kernelPath: KernelPath) throws -> PlannedNetwork {
        let network = PlannedNetwork(plan: try plan(), maxBatch: batch.count, kernelPath: kernelPath)
        network.initialize(seed: seed)
        return network
    }
}

extension PlannedGoldenFixture.SampledTensor {
    /// The floats of `values` (the whole tensor) that the fixture recorded.
    func sample<C: RandomAccessCollection<Float>>(of values: C) -> [Float] where C.Index == Int {
        precondition(values.count == shape.reduce(1, *), "a tensor of \(values.count) floats for shape \(shape)")
        return Swift.stride(from: 0, to: values.count, by: stride).map { values[values.startIndex + $0] }
    }

    /// `values`' relative errors against the recorded floats and against the whole tensor's norm.
    func relativeErrors(of values: ArraySlice<Float>) -> (floats: Double, norm: Double) {
        let norm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        return (relativeError(sample(of: values), data), abs(norm - self.norm) / self.norm)
    }
}
