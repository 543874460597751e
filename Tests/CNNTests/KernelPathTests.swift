import CNN
import KernelPaths
import Testing

/// Every kernel path this CPU runs computes what the scalar reference computes, for batches that
/// fill lane blocks of 4, 8 and 16 exactly and partly.
@Suite struct KernelPathTests {
    /// Float sums in another order differ by a few units in the last place of the largest terms.
    let tolerance = 1e-5

    @Test(arguments: KernelPath.supported, [1, 7, 16, 60, 61])
    func pathMatchesTheScalarReference(kernelPath: KernelPath, batchSize: Int) {
        let batch = RandomBatch(count: batchSize, seed: UInt64(100 + batchSize))
        let network = SeedCNN(maxBatch: batchSize, kernelPath: kernelPath)
        network.initialize(seed: UInt64(batchSize))
        let scale = 1 / Float(batchSize)
        let lossSum = network.computeGradients(
            images: batch.images, labels: batch.labels, count: batchSize, gradientScale: scale)
        let reference = ScalarReferenceNetwork.pass(
            ParameterLayout.seedPlan, parameters: network.parameterValues, images: batch.images, labels: batch.labels,
            count: batchSize, gradientScale: scale)

        #expect(abs(lossSum - reference.lossSum) <= tolerance * reference.lossSum)
        #expect(relativeError(network.logitValues(count: batchSize), reference.logits) <= tolerance)
        for tensor in ParameterLayout.tensors {
            let error = relativeError(
                SeedCNN.slice(network.gradientValues, tensor), SeedCNN.slice(reference.gradients, tensor))
            #expect(error <= tolerance, "\(kernelPath), batch \(batchSize): gradient of \(tensor.name) off by \(error)")
        }
    }

    @Test(arguments: KernelPath.supported)
    func evaluationAndForwardGiveTheTrainingPassLogits(kernelPath: KernelPath) {
        let batch = RandomBatch(count: 61, seed: 7)
        let network = SeedCNN(maxBatch: 61, kernelPath: kernelPath)
        network.initialize(seed: 7)
        let lossSum = network.computeGradients(images: batch.images, labels: batch.labels, count: 61, gradientScale: 1)
        let trainingLogits = network.logitValues(count: 61)
        #expect(network.evaluate(images: batch.images, labels: batch.labels, count: 61).lossSum == lossSum)
        #expect(network.logitValues(count: 61) == trainingLogits)
        network.forward(images: batch.images, count: 61)
        #expect(network.logitValues(count: 61) == trainingLogits)
    }

    @Test func theBaselineIsAlwaysSupportedAndTheFastestComesFirst() {
        let supported = KernelPath.supported
        #expect(supported.last == .baseline)
        #expect(supported == KernelPath.allCases.reversed().filter(\.isSupported))
    }

    @Test func withNothingForcedTheFastestSupportedPathIsSelected() throws {
        #expect(try KernelPath.selected(forced: nil) == KernelPath.supported[0])
        #expect(try KernelPath.selected(forced: "") == KernelPath.supported[0])
    }

    @Test(arguments: KernelPath.supported)
    func aSupportedPathCanBeForced(kernelPath: KernelPath) throws {
        #expect(try KernelPath.selected(forced: kernelPath.rawValue) == kernelPath)
        #expect(SeedCNN(maxBatch: 1, kernelPath: kernelPath).kernelPath == kernelPath)
    }

    @Test func forcingAnUnknownPathIsAnErrorThatNamesTheKnownOnes() {
        #expect(throws: KernelSelectionError.unknown("avx1024")) { try KernelPath.selected(forced: "avx1024") }
        let message = KernelSelectionError.unknown("avx1024").description
        #expect(message.contains("MNIST_DDP_KERNELS=avx1024") && message.contains("baseline"), "\(message)")
    }

    @Test func forcingAnUnsupportedPathIsAnErrorThatNamesTheSupportedOnes() {
        for path in KernelPath.allCases where !path.isSupported {
            #expect(throws: KernelSelectionError.unsupported(path)) { try KernelPath.selected(forced: path.rawValue) }
        }
        let message = KernelSelectionError.unsupported(.baseline).description
        #expect(message.contains("not supported by this CPU") && message.contains("it runs: "), "\(message)")
    }
}
