import SeededRandom

/// PyTorch's default initialisation of Conv2d and Linear: every weight and bias uniform in
/// ±1/√fanIn (kaiming-uniform with a = √5 gives that bound for weights), drawn tensor after
/// tensor, in the order of `tensors`, from `SeededGenerator(seed:)`.
func initializeLikePyTorch(_ tensors: [ParameterTensor], parameters: UnsafeMutablePointer<Float>, seed: UInt64) {
    var generator = SeededGenerator(seed: seed)
    for tensor in tensors {
        let bound = Float(1 / Double(tensor.fanIn).squareRoot())
        for index in tensor.range {
            parameters[index] = generator.nextFloat(symmetricBound: bound)
        }
    }
}
