import CNN
import KernelPaths
import Testing

/// `PlannedNetwork` computes any plan as the scalar reference does, and the seed plan as the seed
/// network's own kernels (`SeedCNN`) and PyTorch do.
@Suite struct PlannedNetworkTests {
    let tolerance = 1e-5

    static let seedPlan = ParameterLayout.seedPlan

    @Test func initialisationDrawsTheSeedNetworksParameters() {
        let planned = PlannedNetwork(plan: Self.seedPlan, maxBatch: 1)
        let seed = SeedCNN(maxBatch: 1)
        planned.initialize(seed: 42)
        seed.initialize(seed: 42)
        #expect(planned.parameterValues == seed.parameterValues)
        #expect(planned.modelDescription == SeedCNN.modelDescription)
    }

    @Test(arguments: KernelPath.supported)
    func seedPlanGivesTheSeedNetworksLogitsLossAndGradientsOnMNIST(kernelPath: KernelPath) throws {
        let golden = try GoldenFixture.load()
        let count = golden.batch.count
        let seed = golden.network(maxBatch: count, kernelPath: kernelPath)
        let planned = PlannedNetwork(plan: Self.seedPlan, maxBatch: count, kernelPath: kernelPath)
        planned.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: seed.parameterValues) }

        let scale = 1 / Float(count)
        let seedLoss = seed.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: count, gradientScale: scale)
        let plannedLoss = planned.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: count, gradientScale: scale,
            dropout: DropoutContext(seed: 0, step: 0, firstSample: 0))
        #expect(abs(plannedLoss - seedLoss) <= tolerance * seedLoss)
        #expect(relativeError(planned.logitValues(count: count), seed.logitValues(count: count)) <= tolerance)
        #expect(relativeError(planned.logitValues(count: count), golden.logits.data) <= tolerance)
        for tensor in ParameterLayout.tensors {
            let error = relativeError(
                SeedCNN.slice(planned.gradientValues, tensor), SeedCNN.slice(seed.gradientValues, tensor))
            #expect(error <= tolerance, "\(kernelPath): gradient of \(tensor.name) off by \(error)")
            #expect(relativeError(SeedCNN.slice(planned.gradientValues, tensor), golden.grads[tensor.name]!.data) <= tolerance)
        }
    }

    @Test func seedPlanTakesPyTorchsAdamSteps() throws {
        let golden = try GoldenFixture.load()
        let count = golden.batch.count
        let network = PlannedNetwork(plan: Self.seedPlan, maxBatch: count)
        network.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: GoldenFixture.flatten(golden.initialParams)) }
        var adam = Adam(
            parameterCount: Self.seedPlan.parameterCount,
            beta1: golden.adam.betas[0], beta2: golden.adam.betas[1], epsilon: golden.adam.eps)
        for (index, step) in golden.adam.steps.enumerated() {
            network.computeGradients(
                images: golden.batch.images.data, labels: golden.batch.labels, count: count, gradientScale: 1 / Float(count),
                dropout: DropoutContext(seed: 0, step: index, firstSample: 0))
            adam.update(network, learningRate: golden.adam.lr)
            for tensor in ParameterLayout.tensors {
                let error = relativeError(SeedCNN.slice(network.parameterValues, tensor), step.params[tensor.name]!.data)
                #expect(error <= tolerance, "\(tensor.name) after step \(index + 1)")
            }
        }
    }

    @Test func theSeedPlanRunsOnTheSeedNetworksKernelsAndAnyOtherOnTheGeneralLayers() throws {
        #expect(Self.seedPlan.makeNetwork(maxBatch: 2) is SeedCNN)
        let seedWithFiveClasses = try ModelPlan(.seed, inputShape: [1, 28, 28], classCount: 5)
        #expect(seedWithFiveClasses.makeNetwork(maxBatch: 2) is PlannedNetwork)
        #expect(Self.plans[0].makeNetwork(maxBatch: 2) is PlannedNetwork)
    }

    static let plans = [
        try! ModelPlan(.lenet5, inputShape: [1, 28, 28], classCount: 10),
        try! ModelPlan(.kerasTransfer, inputShape: [1, 28, 28], classCount: 5),
        try! ModelPlan(
            ModelSpec(parsing: "conv(5,7,pad=6) relu maxpool dropout(0.4) conv(3,1) flatten linear(9) relu dropout(0.2) linear"),
            inputShape: [2, 9, 7], classCount: 3),
        // The fusions at the edges: a ReLU first (its backward pass the convolution's, with no input
        // gradient), convolution → ReLU → convolution, ReLU → max-pool, and a flatten first.
        try! ModelPlan(
            ModelSpec(parsing: "relu conv(4,3,pad=1) relu conv(3,2) relu maxpool flatten linear"),
            inputShape: [2, 8, 9], classCount: 4),
        try! ModelPlan(ModelSpec(parsing: "flatten linear(6) relu linear"), inputShape: [1, 5, 4], classCount: 3),
    ]

    @Test(arguments: KernelPath.supported, plans)
    func anyPlanMatchesTheScalarReferenceWithDropout(kernelPath: KernelPath, plan: ModelPlan) {
        let count = 5
        let images = randomFloats(count * plan.modelDescription.inputSize, seed: 21)
        let labels = randomLabels(count, classes: plan.classCount, seed: 22)
        let dropout = DropoutContext(seed: 9, step: 4, firstSample: 120)
        let network = PlannedNetwork(plan: plan, maxBatch: count + 2, kernelPath: kernelPath)
        network.initialize(seed: 23)
        let lossSum = network.computeGradients(
            images: images, labels: labels, count: count, gradientScale: 0.2, dropout: dropout)
        let reference = ScalarReferenceNetwork.pass(
            plan, parameters: network.parameterValues, images: images, labels: labels, count: count, gradientScale: 0.2,
            dropout: dropout)
        #expect(abs(lossSum - reference.lossSum) <= tolerance * reference.lossSum)
        #expect(relativeError(network.logitValues(count: count), reference.logits) <= tolerance)
        for tensor in plan.modelDescription.tensors {
            let error = relativeError(network.gradientValues[tensor.range], reference.gradients[tensor.range])
            #expect(error <= tolerance, "\(kernelPath): gradient of \(tensor.name) off by \(error)")
        }
    }

    /// Transfer learning: with the lower layers frozen, the backward pass stops at the lowest
    /// layer still trained; its gradients and those above are what the whole pass gives, bit for
    /// bit, and the frozen layers' stay zero.
    @Test(arguments: plans)
    func freezingTheLowerLayersLeavesTheirGradientsZeroAndTheOthersAsTheyWere(plan: ModelPlan) {
        let count = 4
        let images = randomFloats(count * plan.modelDescription.inputSize, seed: 41)
        let labels = randomLabels(count, classes: plan.classCount, seed: 42)
        let dropout = DropoutContext(seed: 5, step: 2, firstSample: 8)
        let network = PlannedNetwork(plan: plan, maxBatch: count)
        network.initialize(seed: 43)
        network.computeGradients(images: images, labels: labels, count: count, gradientScale: 0.25, dropout: dropout)
        let whole = network.gradientValues
        let trainedLayers = plan.layers.filter { !$0.tensors.isEmpty }
        for frozenLayers in 1...trainedLayers.count {
            let frozen = trainedLayers.prefix(frozenLayers).flatMap(\.tensors)
            network.freeze(frozen.map(\.range))
            network.computeGradients(images: images, labels: labels, count: count, gradientScale: 0.25, dropout: dropout)
            let gradients = network.gradientValues
            for tensor in plan.modelDescription.tensors {
                let isFrozen = frozen.contains(tensor)
                #expect(
                    gradients[tensor.range] == (isFrozen ? ArraySlice(repeating: 0, count: tensor.range.count) : whole[tensor.range]),
                    "\(frozenLayers) layers frozen: gradient of \(isFrozen ? "frozen" : "trained") \(tensor.name)")
            }
        }
        network.freeze([])
        network.computeGradients(images: images, labels: labels, count: count, gradientScale: 0.25, dropout: dropout)
        #expect(network.gradientValues == whole)
    }

    @Test(arguments: KernelPath.supported)
    func evaluationAndForwardNeverDrop(kernelPath: KernelPath) {
        let plan = Self.plans[1]
        let count = 3
        let images = randomFloats(count * plan.modelDescription.inputSize, seed: 31)
        let labels = randomLabels(count, classes: plan.classCount, seed: 32)
        let network = PlannedNetwork(plan: plan, maxBatch: count, kernelPath: kernelPath)
        network.initialize(seed: 33)
        let reference = ScalarReferenceNetwork.pass(
            plan, parameters: network.parameterValues, images: images, labels: labels, count: count, gradientScale: 1)

        var predictions = [Int32](repeating: -1, count: count)
        let evaluation = network.evaluate(images: images, labels: labels, count: count, predictions: &predictions)
        #expect(abs(evaluation.lossSum - reference.lossSum) <= tolerance * reference.lossSum)
        let logits = network.logitValues(count: count)
        #expect(relativeError(logits, reference.logits) <= tolerance)
        let expectedPredictions = (0..<count).map { sample in
            let row = logits[sample * plan.classCount..<(sample + 1) * plan.classCount]
            return Int32(row.firstIndex(of: row.max()!)! - sample * plan.classCount)
        }
        #expect(predictions == expectedPredictions)
        #expect(evaluation.correctCount == zip(predictions, labels).filter { $0 == $1 }.count)
        network.forward(images: images, count: count)
        #expect(network.logitValues(count: count) == logits)
    }
}
