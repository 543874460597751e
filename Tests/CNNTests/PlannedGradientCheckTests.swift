import CNN
import Testing

/// `PlannedNetwork`'s analytic gradient against finite differences of the summed loss, for a small
/// network through every layer kind (dropout with a fixed mask), every coordinate of every tensor.
@Suite struct PlannedGradientCheckTests {
    static let plan = try! ModelPlan(
        ModelSpec(parsing: "conv(3,3,pad=1) relu maxpool dropout(0.3) conv(4,2) relu flatten linear(6) relu dropout(0.2) linear"),
        inputShape: [2, 7, 9], classCount: 4)

    @Test(arguments: plan.modelDescription.tensors.map(\.name))
    func gradientMatchesFiniteDifferences(tensorName: String) {
        let plan = Self.plan
        let tensor = plan.modelDescription.tensor(named: tensorName)!
        let count = 3
        let images = randomFloats(count * plan.modelDescription.inputSize, seed: 41)
        let labels = randomLabels(count, classes: plan.classCount, seed: 42)
        let dropout = DropoutContext(seed: 43, step: 1, firstSample: 0)
        let network = PlannedNetwork(plan: plan, maxBatch: count)
        network.initialize(seed: 44)
        func lossSum() -> Double {
            network.computeGradients(images: images, labels: labels, count: count, gradientScale: 1, dropout: dropout)
        }
        let centre = lossSum()
        let analytic = network.gradientValues
        // As in GradientCheckTests: float32 losses over this step carry about 1e-3 of noise.
        let numeric = finiteDifferenceSlopes(
            of: lossSum, at: centre, network: network, coordinates: Array(tensor.range), analytic: analytic, step: 3e-4)
        let error = relativeError(Array(analytic[tensor.range]), numeric)
        print("finite-difference relative error \(tensor.name): \(error)")
        #expect(error <= 2e-2)
    }
}
