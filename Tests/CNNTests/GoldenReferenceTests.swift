import CNN
import Testing

/// Our network against PyTorch on the golden batch: every tensor within 1e-5 relative error.
@Suite struct GoldenReferenceTests {
    let golden: GoldenFixture
    let tolerance = 1e-5

    init() throws {
        golden = try GoldenFixture.load()
    }

    @Test func logitsAndLossMatchPyTorch() {
        let network = golden.network()
        let lossSum = network.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
        let logitsError = relativeError(network.logits[0..<80], golden.logits.data)
        let lossError = abs(lossSum / 8 - Double(golden.loss)) / Double(golden.loss)
        print("relative error logits \(logitsError), loss \(lossError)")
        #expect(logitsError <= tolerance)
        #expect(lossError <= tolerance)
    }

    @Test func activationsMatchPyTorch() {
        let network = golden.network()
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
                print("relative error \(name) sample \(sample): \(error)")
                #expect(error <= tolerance, "\(name), sample \(sample)")
            }
        }
    }

    @Test func gradientsMatchPyTorch() {
        let network = golden.network()
        network.computeGradients(
            images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
        for tensor in ParameterLayout.tensors {
            let error = relativeError(SeedCNN.slice(network.gradients, tensor), golden.grads[tensor.name]!.data)
            print("relative error gradient \(tensor.name): \(error)")
            #expect(error <= tolerance, "\(tensor.name)")
        }
    }

    @Test func adamStepsMatchPyTorch() {
        let network = golden.network()
        var adam = Adam(
            parameterCount: ParameterLayout.count, learningRate: golden.adam.lr,
            beta1: golden.adam.betas[0], beta2: golden.adam.betas[1], epsilon: golden.adam.eps)
        for (index, step) in golden.adam.steps.enumerated() {
            let lossSum = network.computeGradients(
                images: golden.batch.images.data, labels: golden.batch.labels, count: 8, gradientScale: 1.0 / 8)
            let lossError = abs(lossSum / 8 - Double(step.lossBeforeStep)) / Double(step.lossBeforeStep)
            #expect(lossError <= tolerance, "loss before step \(index + 1)")
            adam.update(parameters: network.parameters, gradients: UnsafeBufferPointer(network.gradients))
            for tensor in ParameterLayout.tensors {
                let error = relativeError(SeedCNN.slice(network.parameters, tensor), step.params[tensor.name]!.data)
                print("relative error after Adam step \(index + 1) \(tensor.name): \(error)")
                #expect(error <= tolerance, "\(tensor.name) after step \(index + 1)")
            }
        }
        #expect(adam.step == 3)
    }

    @Test func evaluationAgreesWithTrainingPassAndArgmax() {
        let network = golden.network()
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
