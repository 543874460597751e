import CNN
import KernelPaths
import Testing

/// Our network against PyTorch on the golden batch, on every kernel path this CPU runs: every
/// tensor within 1e-5 relative error.
@Suite struct GoldenReferenceTests {
    let golden: GoldenFixture
    let tolerance = 1e-5

    init() throws {
        golden = try GoldenFixture.load()
    }

    @Test(arguments: KernelPath.supported)
    func logitsAndLossMatchPyTorch(kernelPath: KernelPath) {
        let network = golden.network(kernelPath: kernelPath)
        let lossSum = network.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
        let logitsError = relativeError(network.logitValues(count: 8), golden.logits.data)
        let lossError = abs(lossSum / 8 - Double(golden.loss)) / Double(golden.loss)
        print("\(kernelPath): relative error logits \(logitsError), loss \(lossError)")
        #expect(logitsError <= tolerance)
        #expect(lossError <= tolerance)
    }

    @Test(arguments: KernelPath.supported)
    func activationsMatchPyTorch(kernelPath: KernelPath) {
        let network = golden.network(kernelPath: kernelPath)
        let images = golden.batch.images.data
        for sample in 0..<2 {
            let activations = images.withUnsafeBufferPointer {
                network.activations(image: $0.baseAddress! + sample * 784)
            }
            let computed = [
                ("conv1_relu", activations.conv1ReLU), ("pool1", activations.pool1),
                ("conv2_relu", activations.conv2ReLU), ("pool2", activations.pool2),
            ]
            for (name, values) in computed {
                let reference = golden.activations[name]!.data
                let perSample = reference.count / 2
                let error = relativeError(values, reference[sample * perSample..<(sample + 1) * perSample])
                print("\(kernelPath): relative error \(name) sample \(sample): \(error)")
                #expect(error <= tolerance, "\(name), sample \(sample)")
            }
        }
    }

    @Test(arguments: KernelPath.supported)
    func gradientsMatchPyTorch(kernelPath: KernelPath) {
        let network = golden.network(kernelPath: kernelPath)
        network.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
        for tensor in ParameterLayout.tensors {
            let error = relativeError(SeedCNN.slice(network.gradientValues, tensor), golden.grads[tensor.name]!.data)
            print("\(kernelPath): relative error gradient \(tensor.name): \(error)")
            #expect(error <= tolerance, "\(tensor.name)")
        }
    }

    @Test(arguments: KernelPath.supported)
    func adamStepsMatchPyTorch(kernelPath: KernelPath) {
        let network = golden.network(kernelPath: kernelPath)
        var adam = Adam(
            parameterCount: ParameterLayout.count,
            beta1: golden.adam.betas[0], beta2: golden.adam.betas[1], epsilon: golden.adam.eps,
            kernelPath: kernelPath)
        for (index, step) in golden.adam.steps.enumerated() {
            let lossSum = network.computeGradients(
                images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
            let lossError = abs(lossSum / 8 - Double(step.lossBeforeStep)) / Double(step.lossBeforeStep)
            #expect(lossError <= tolerance, "loss before step \(index + 1)")
            adam.update(network, learningRate: golden.adam.lr)
            for tensor in ParameterLayout.tensors {
                let error = relativeError(SeedCNN.slice(network.parameterValues, tensor), step.params[tensor.name]!.data)
                print("\(kernelPath): relative error after Adam step \(index + 1) \(tensor.name): \(error)")
                #expect(error <= tolerance, "\(tensor.name) after step \(index + 1)")
            }
        }
        #expect(adam.step == 3)
    }

    @Test(arguments: KernelPath.supported)
    func evaluationAgreesWithTrainingPassAndArgmax(kernelPath: KernelPath) {
        let network = golden.network(kernelPath: kernelPath)
        var predictions = [Int32](repeating: -1, count: 8)
        let evaluation = network.evaluate(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, predictions: &predictions)
        let expectedPredictions = (0..<8).map { sample in
            let row = golden.logits.data[sample * 10..<(sample + 1) * 10]
            return Int32(row.indices.max { row[$0] < row[$1] }! - sample * 10)
        }
        #expect(predictions == expectedPredictions)
        #expect(evaluation.correctCount == zip(expectedPredictions, golden.batch.labels).filter { $0 == $1 }.count)
        let lossSum = network.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
        #expect(evaluation.lossSum == lossSum)
    }
}
