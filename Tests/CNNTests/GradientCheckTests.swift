import CNN
import SeededRandom
import Testing

/// The analytic gradient against finite differences of the summed loss, a handful of coordinates
/// per tensor.
@Suite struct GradientCheckTests {
    @Test(arguments: ParameterLayout.tensors.map(\.name))
    func gradientMatchesFiniteDifferences(tensorName: String) {
        let tensor = ParameterLayout.tensors.first { $0.name == tensorName }!
        let batch = RandomBatch(count: 4, seed: 11)
        let network = SeedCNN(maxBatch: batch.count)
        network.initialize(seed: 3)
        func lossSum() -> Double {
            network.computeGradients(images: batch.images, labels: batch.labels, count: batch.count, gradientScale: 1)
        }
        let centre = lossSum()
        let analytic = network.gradientValues

        var generator = SeededGenerator(seed: 5, stream: [UInt64(tensor.range.lowerBound)])
        let coordinates = (0..<8).map { _ in tensor.range.lowerBound + generator.nextIndex(below: tensor.range.count) }
        // The per-sample losses are float32, so a quotient over this step carries noise of about
        // 1e-3 (a loss quantum of 2.4e-7 over 3e-4); a longer step crosses more kinks.
        let numeric = finiteDifferenceSlopes(
            of: lossSum, at: centre, network: network, coordinates: coordinates, analytic: analytic, step: 3e-4)
        let error = relativeError(coordinates.map { analytic[$0] }, numeric)
        print("finite-difference relative error \(tensor.name): \(error)")
        // Float32 noise and kinks leave up to 1%; a wrong gradient (tap, channel, transpose, scale)
        // is off by order 100%.
        #expect(error <= 2e-2)
    }
}
