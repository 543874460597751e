import CNNKernelInterface

/// One named tensor of the flat parameter buffer: its PyTorch `state_dict` name, its shape, and
/// the floats it occupies.
public struct ParameterTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let range: Range<Int>

    /// The number of inputs each output of this tensor's layer sums over; PyTorch's default
    /// initialisation draws weights and biases uniformly in ±1/√fanIn.
    public let fanIn: Int
}

/// The seed CNN's parameters as one contiguous buffer, in PyTorch `state_dict` order and layout,
/// so that checkpoints and golden fixtures map onto it without reordering: the tensors of
/// `ModelSpec.seed` planned on the kernels' 1×28×28 images and 10 classes.
public enum ParameterLayout {
    /// The seed network as planned. Its description is a constant that plans on these shapes,
    /// which the model-spec tests check.
    public static let seedPlan = try! ModelPlan(
        .seed, inputShape: [1, NetworkShape.imageSide, NetworkShape.imageSide], classCount: NetworkShape.classCount)

    /// All tensors in `state_dict` order.
    public static let tensors = seedPlan.modelDescription.tensors

    public static let conv1Weight = tensors[0]
    public static let conv1Bias = tensors[1]
    public static let conv2Weight = tensors[2]
    public static let conv2Bias = tensors[3]
    public static let fc1Weight = tensors[4]
    public static let fc1Bias = tensors[5]

    /// The total number of parameters (9,098).
    public static let count = seedPlan.parameterCount
}
