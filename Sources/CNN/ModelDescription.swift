/// What training, checkpoints and evaluation need to know of a model, and nothing of how it
/// computes: its parameter tensors, the shape of one input, and how many classes it tells apart.
public struct ModelDescription: Sendable, Equatable {
    /// The parameter tensors in the order of the flat parameter buffer (PyTorch `state_dict` order).
    public let tensors: [ParameterTensor]
    /// One input sample, [channels, height, width].
    public let inputShape: [Int]
    /// The number of outputs (logits), one per class.
    public let classCount: Int

    public init(tensors: [ParameterTensor], inputShape: [Int], classCount: Int) {
        precondition(inputShape.count == 3, "an input is [channels, height, width], not \(inputShape)")
        self.tensors = tensors
        self.inputShape = inputShape
        self.classCount = classCount
    }

    /// The length of the flat parameter buffer.
    public var parameterCount: Int { tensors.last?.range.upperBound ?? 0 }

    /// The floats of one input sample.
    public var inputSize: Int { inputShape.reduce(1, *) }

    /// The tensor named `name` (a `state_dict` key), if the model has one.
    public func tensor(named name: String) -> ParameterTensor? {
        tensors.first { $0.name == name }
    }
}
