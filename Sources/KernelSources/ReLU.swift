import CNNKernelInterface

// ReLU over any number of floats; the loops are simple enough for the compiler to vectorize.

extension BatchLayerKernels {
    /// out = max(in, 0)                                     in, out: [elements]
    public static func reluForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, elements: Int) {
        for index in 0..<elements {
            output[index] = input[index] > 0 ? input[index] : 0
        }
    }

    /// din = dout where out > 0, else 0 (out > 0 exactly where in > 0)   [elements]
    public static func reluBackward(
        output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        elements: Int
    ) {
        for index in 0..<elements {
            inputGradient[index] = output[index] > 0 ? outputGradient[index] : 0
        }
    }
}
