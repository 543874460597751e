import CNN
import Testing

/// The properties of `computeGradients` that data-parallel training relies on.
@Suite struct GradientIdentityTests {
    let batch = RandomBatch(count: 40, seed: 21)

    func network() -> SeedCNN {
        let network = SeedCNN(maxBatch: batch.count)
        network.initialize(seed: 1)
        return network
    }

    @Test func emptyBatchGivesZeroLossAndOverwritesGradientsWithZero() {
        let network = network()
        network.computeGradients(images: batch.images, labels: batch.labels, count: batch.count, gradientScale: 1)
        #expect(network.gradientValues.contains { $0 != 0 })
        let loss = network.computeGradients(images: batch.images, labels: batch.labels, count: 0, gradientScale: 1)
        #expect(loss == 0)
        #expect(network.gradientValues.allSatisfy { $0 == 0 })
    }

    @Test func gradientScalesLinearlyWithGradientScaleAndLossDoesNot() {
        let network = network()
        let loss = network.computeGradients(
            images: batch.images, labels: batch.labels, count: batch.count, gradientScale: 1.0 / 40)
        let unit = network.gradientValues
        let tripledLoss = network.computeGradients(
            images: batch.images, labels: batch.labels, count: batch.count, gradientScale: 3.0 / 40)
        #expect(tripledLoss == loss)
        #expect(relativeError(network.gradientValues, unit.map { 3 * $0 }) <= 1e-6)
    }

    @Test func gradientsOfTheHalvesOfABatchAddUpToTheBatchsGradient() {
        let network = network()
        let scale: Float = 1.0 / 40
        let wholeLoss = network.computeGradients(
            images: batch.images, labels: batch.labels, count: 40, gradientScale: scale)
        let whole = network.gradientValues
        // 17 + 23 splits the lane blocks of 16 differently from the whole batch.
        let firstLoss = network.computeGradients(
            images: batch.images, labels: batch.labels, count: 17, gradientScale: scale)
        let first = network.gradientValues
        let secondLoss = batch.images.withUnsafeBufferPointer { images in
            batch.labels.withUnsafeBufferPointer { labels in
                network.computeGradients(
                    images: images.baseAddress! + 17 * 784, labels: labels.baseAddress! + 17, count: 23,
                    gradientScale: scale)
            }
        }
        let summed = zip(first, network.gradientValues).map { $0 + $1 }
        #expect(abs(firstLoss + secondLoss - wholeLoss) <= 1e-9 * wholeLoss)
        for tensor in ParameterLayout.tensors {
            #expect(relativeError(summed[tensor.range], whole[tensor.range]) <= 1e-5, "\(tensor.name)")
        }
    }

    @Test func forwardGivesTheLogitsOfTheTrainingPass() {
        let network = network()
        network.computeGradients(images: batch.images, labels: batch.labels, count: batch.count, gradientScale: 1)
        let trainingLogits = network.logitValues(count: 40)
        network.forward(images: batch.images, count: batch.count)
        #expect(network.logitValues(count: 40) == trainingLogits)
    }
}
