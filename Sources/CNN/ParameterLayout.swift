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
/// so that checkpoints and golden fixtures map onto it without reordering.
public enum ParameterLayout {
    public static let conv1Weight = tensor("conv1.weight", [8, 1, 3, 3], fanIn: 9, after: nil)
    public static let conv1Bias = tensor("conv1.bias", [8], fanIn: 9, after: conv1Weight)
    public static let conv2Weight = tensor("conv2.weight", [16, 8, 3, 3], fanIn: 72, after: conv1Bias)
    public static let conv2Bias = tensor("conv2.bias", [16], fanIn: 72, after: conv2Weight)
    public static let fc1Weight = tensor("fc1.weight", [10, 784], fanIn: 784, after: conv2Bias)
    public static let fc1Bias = tensor("fc1.bias", [10], fanIn: 784, after: fc1Weight)

    /// All tensors in `state_dict` order.
    public static let tensors = [conv1Weight, conv1Bias, conv2Weight, conv2Bias, fc1Weight, fc1Bias]

    /// The total number of parameters (9,098).
    public static let count = fc1Bias.range.upperBound

    private static func tensor(
        _ name: String, _ shape: [Int], fanIn: Int, after previous: ParameterTensor?
    ) -> ParameterTensor {
        let start = previous?.range.upperBound ?? 0
        return ParameterTensor(
            name: name, shape: shape, range: start..<start + shape.reduce(1, *), fanIn: fanIn)
    }
}
