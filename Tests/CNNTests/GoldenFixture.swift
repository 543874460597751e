import CNN
import Foundation
import KernelPaths
import Testing

/// The PyTorch reference for the seed CNN (Fixtures/seed_cnn_golden.json): one batch of 8 MNIST
/// training images, the initial parameters, and what PyTorch computed from them.
struct GoldenFixture: Decodable {
    struct Tensor: Decodable {
        let shape: [Int]
        let data: [Float]
    }

    struct Batch: Decodable {
        let count: Int
        let labels: [Int32]
        let images: Tensor
    }

    let batch: Batch
    let initialParams: [String: Tensor]
    let logits: Tensor
    let loss: Float
    let activations: [String: Tensor]
    let grads: [String: Tensor]
    let adam: GoldenAdamRun<Tensor>

    enum CodingKeys: String, CodingKey {
        case batch
        case initialParams = "initial_params"
        case logits, loss, activations, grads, adam
    }

    static func load() throws -> GoldenFixture {
        let url = try #require(
            Bundle.module.url(forResource: "seed_cnn_golden", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(GoldenFixture.self, from: Data(contentsOf: url))
    }

    /// A state_dict as one flat buffer in `ParameterLayout` order.
    static func flatten(_ stateDict: [String: Tensor]) -> [Float] {
        ParameterLayout.tensors.flatMap { tensor in
            let value = stateDict[tensor.name]!
            precondition(value.shape == tensor.shape, "\(tensor.name) has shape \(value.shape)")
            return value.data
        }
    }

    /// A network holding the golden initial parameters, running on `kernelPath`.
    func network(maxBatch: Int = 8, kernelPath: KernelPath = .active) -> SeedCNN {
        let network = SeedCNN(maxBatch: maxBatch, kernelPath: kernelPath)
        network.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: Self.flatten(initialParams)) }
        return network
    }
}

/// The Adam steps PyTorch took in a golden fixture, from its initial parameters on the fixture's
/// batch: the loss before each step and the parameters after it, as `Tensor`s of the fixture's kind.
struct GoldenAdamRun<Tensor: Decodable>: Decodable {
    struct Step: Decodable {
        let lossBeforeStep: Float
        let params: [String: Tensor]

        enum CodingKeys: String, CodingKey {
            case lossBeforeStep = "loss_before_step"
            case params
        }
    }

    let lr: Float
    let betas: [Float]
    let eps: Float
    let steps: [Step]
}

/// ‖actual − expected‖ / ‖expected‖, accumulated in Double.
func relativeError<A: Collection<Float>, E: Collection<Float>>(_ actual: A, _ expected: E) -> Double {
    precondition(actual.count == expected.count, "comparing \(actual.count) values with \(expected.count)")
    var difference = 0.0
    var reference = 0.0
    for (a, e) in zip(actual, expected) {
        difference += (Double(a) - Double(e)) * (Double(a) - Double(e))
        reference += Double(e) * Double(e)
    }
    return (difference / reference).squareRoot()
}

extension TrainableNetwork {
    /// A copy of the parameters.
    var parameterValues: [Float] { withUnsafeParameters(Array.init) }

    /// A copy of the gradient of the last `computeGradients`.
    var gradientValues: [Float] { withUnsafeGradients(Array.init) }

    /// A copy of the logits of the first `count` samples of the last pass.
    func logitValues(count: Int) -> [Float] { withUnsafeLogits { Array($0[0..<count * modelDescription.classCount]) } }

    /// The floats of `tensor` in `values` (laid out as `ParameterLayout`).
    static func slice(_ values: [Float], _ tensor: ParameterTensor) -> [Float] {
        Array(values[tensor.range])
    }
}
