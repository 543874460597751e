import CNN
import Testing

@Suite struct InitializationTests {
    @Test func everyTensorIsUniformWithinPyTorchsFanInBound() {
        let network = SeedCNN(maxBatch: 1)
        network.initialize(seed: 42)
        for tensor in ParameterLayout.tensors {
            let values = SeedCNN.slice(network.parameterValues, tensor)
            let bound = Float(1 / Double(tensor.fanIn).squareRoot())
            #expect(values.allSatisfy { abs($0) <= bound }, "\(tensor.name) outside ±\(bound)")
            // A uniform draw of ≥ 8 values spans well over a third of the range on each side.
            #expect(values.max()! > bound / 3 && values.min()! < -bound / 3, "\(tensor.name) not spread")
        }
    }

    @Test func fanInsAreThoseOfPyTorchsLayers() {
        #expect(ParameterLayout.tensors.map(\.fanIn) == [9, 9, 72, 72, 784, 784])
        #expect(ParameterLayout.count == 9_098)
    }

    @Test func sameSeedGivesSameParametersAndOtherSeedsDiffer() {
        let first = SeedCNN(maxBatch: 1)
        let again = SeedCNN(maxBatch: 1)
        let other = SeedCNN(maxBatch: 1)
        first.initialize(seed: 7)
        again.initialize(seed: 7)
        other.initialize(seed: 8)
        #expect(first.parameterValues == again.parameterValues)
        for tensor in ParameterLayout.tensors {
            #expect(
                SeedCNN.slice(first.parameterValues, tensor) != SeedCNN.slice(other.parameterValues, tensor),
                "\(tensor.name) equal for seeds 7 and 8")
        }
    }
}
