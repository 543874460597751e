import CNN
import CNNKernelInterface
import KernelPaths
import Testing

/// Every layer kernel of every kernel path this CPU runs computes what its scalar reference
/// computes, on awkward shapes: odd sides, 1×1 and 7×7 kernels, padding 0 and kernel−1, channel
/// and feature counts that are not multiples of any lane width.
@Suite struct LayerKernelTests {
    /// Float sums in another order differ by a few units in the last place of the largest terms.
    let tolerance = 1e-5
    let count = 3

    static let convolutions = [
        ConvolutionShape(inputChannels: 1, height: 5, width: 7, outputChannels: 3, kernel: 1, padding: 0),
        ConvolutionShape(inputChannels: 3, height: 9, width: 11, outputChannels: 5, kernel: 7, padding: 6),
        ConvolutionShape(inputChannels: 4, height: 7, width: 7, outputChannels: 6, kernel: 7, padding: 0),
        ConvolutionShape(inputChannels: 2, height: 13, width: 6, outputChannels: 9, kernel: 3, padding: 0),
        ConvolutionShape(inputChannels: 5, height: 8, width: 17, outputChannels: 4, kernel: 5, padding: 4),
        ConvolutionShape(inputChannels: 3, height: 28, width: 28, outputChannels: 32, kernel: 3, padding: 1),
        // The register tile's edges: output counts of 1, 10 and 33 (a tile and a partial one on
        // every path), taps that are not a multiple of three (2, 125), a 1×1 plane, pads 1 to
        // kernel−1 with rows that do not fill a vector, and the presets' second convolutions.
        ConvolutionShape(inputChannels: 7, height: 5, width: 3, outputChannels: 1, kernel: 3, padding: 2),
        ConvolutionShape(inputChannels: 2, height: 3, width: 4, outputChannels: 10, kernel: 1, padding: 0),
        ConvolutionShape(inputChannels: 3, height: 1, width: 1, outputChannels: 9, kernel: 1, padding: 0),
        ConvolutionShape(inputChannels: 5, height: 6, width: 5, outputChannels: 9, kernel: 5, padding: 1),
        ConvolutionShape(inputChannels: 5, height: 7, width: 9, outputChannels: 33, kernel: 7, padding: 3),
        ConvolutionShape(inputChannels: 6, height: 14, width: 14, outputChannels: 16, kernel: 5, padding: 0),
        ConvolutionShape(inputChannels: 32, height: 26, width: 26, outputChannels: 32, kernel: 3, padding: 0),
    ]

    @Test(arguments: KernelPath.supported, convolutions)
    func convolutionMatchesTheReference(kernelPath: KernelPath, shape: ConvolutionShape) {
        expectConvolutionMatchesTheReference(kernelPath, shape, count: count, seed: 1, inputGradient: true)
    }

    /// The forward pass with and without a ReLU after it, and the backward pass: the parameter
    /// gradients, and with `inputGradient` the input's, with and without a ReLU before it.
    func expectConvolutionMatchesTheReference(
        _ kernelPath: KernelPath, _ shape: ConvolutionShape, count: Int, seed: UInt64, inputGradient withInputGradient: Bool
    ) {
        let kernels = kernelPath.layerKernels
        let input = randomFloats(count * shape.input.size, seed: seed)
        let weight = randomFloats(shape.weightCount, seed: seed + 1)
        let bias = randomFloats(shape.outputChannels, seed: seed + 2)
        let outputGradient = randomFloats(count * shape.output.size, seed: seed + 3)
        var scratch = [Float](repeating: .nan, count: kernels.convolutionScratchCount(shape))

        var output = [Float](repeating: .nan, count: count * shape.output.size)
        kernels.convolutionForward(
            shape, input: input, weight: weight, bias: bias, output: &output, count: count, rectified: false,
            scratch: &scratch)
        let expected = ScalarReferenceLayers.convolutionForward(shape, input: input, weight: weight, bias: bias, count: count)
        #expect(relativeError(output, expected) <= tolerance)
        // With a ReLU after it: exactly the ReLU of what it gives without.
        var rectifiedOutput = [Float](repeating: .nan, count: output.count)
        kernels.convolutionForward(
            shape, input: input, weight: weight, bias: bias, output: &rectifiedOutput, count: count, rectified: true,
            scratch: &scratch)
        #expect(rectifiedOutput == ScalarReferenceLayers.reluForward(output))

        var inputGradient = [Float](repeating: .nan, count: input.count)
        // The parameter gradients are added to what is there.
        var weightGradient = [Float](repeating: 1, count: weight.count)
        var biasGradient = [Float](repeating: 1, count: bias.count)
        func backward(inputGradient target: UnsafeMutablePointer<Float>?) {
            kernels.convolutionBackward(
                shape, input: input, weight: weight, outputGradient: outputGradient, inputGradient: target,
                rectifiedInput: false, weightGradient: &weightGradient, biasGradient: &biasGradient, count: count,
                scratch: &scratch)
        }
        // Without an input gradient (a first layer), only the parameters' are computed.
        if withInputGradient { backward(inputGradient: &inputGradient) } else { backward(inputGradient: nil) }
        let reference = ScalarReferenceLayers.convolutionBackward(
            shape, input: input, weight: weight, outputGradient: outputGradient, count: count)
        #expect(relativeError(weightGradient, reference.weight.map { $0 + 1 }) <= tolerance)
        #expect(relativeError(biasGradient, reference.bias.map { $0 + 1 }) <= tolerance)
        guard withInputGradient else { return }
        #expect(relativeError(inputGradient, reference.input) <= tolerance)

        // After a ReLU (whose output the input is), that ReLU's input gradient: exactly the ReLU's
        // backward pass of what it gives without.
        var rectifiedGradient = [Float](repeating: .nan, count: input.count)
        kernels.convolutionBackward(
            shape, input: input, weight: weight, outputGradient: outputGradient, inputGradient: &rectifiedGradient,
            rectifiedInput: true, weightGradient: &weightGradient, biasGradient: &biasGradient, count: count,
            scratch: &scratch)
        #expect(rectifiedGradient == ScalarReferenceLayers.reluBackward(output: input, outputGradient: inputGradient))
    }

    /// One input channel (a first layer): kernels 1 to 7, every padding, 1, 6 and 32 outputs and
    /// counts between, odd planes; the smallest planes are narrower than a register tile.
    static let singleInputConvolutions = [
        ConvolutionShape(inputChannels: 1, height: 9, width: 11, outputChannels: 1, kernel: 1, padding: 0),
        ConvolutionShape(inputChannels: 1, height: 28, width: 28, outputChannels: 32, kernel: 3, padding: 0),
        ConvolutionShape(inputChannels: 1, height: 17, width: 13, outputChannels: 6, kernel: 3, padding: 1),
        ConvolutionShape(inputChannels: 1, height: 13, width: 15, outputChannels: 7, kernel: 3, padding: 2),
        ConvolutionShape(inputChannels: 1, height: 28, width: 28, outputChannels: 6, kernel: 5, padding: 2),
        ConvolutionShape(inputChannels: 1, height: 21, width: 19, outputChannels: 1, kernel: 5, padding: 0),
        ConvolutionShape(inputChannels: 1, height: 9, width: 9, outputChannels: 32, kernel: 5, padding: 4),
        ConvolutionShape(inputChannels: 1, height: 11, width: 10, outputChannels: 11, kernel: 5, padding: 3),
        ConvolutionShape(inputChannels: 1, height: 19, width: 23, outputChannels: 5, kernel: 7, padding: 3),
        ConvolutionShape(inputChannels: 1, height: 10, width: 11, outputChannels: 13, kernel: 7, padding: 6),
        ConvolutionShape(inputChannels: 1, height: 12, width: 12, outputChannels: 6, kernel: 7, padding: 0),
        ConvolutionShape(inputChannels: 1, height: 5, width: 5, outputChannels: 3, kernel: 5, padding: 1),
    ]

    /// A first layer's passes (no input gradient), on the shapes above.
    @Test(arguments: KernelPath.supported, singleInputConvolutions)
    func singleInputConvolutionMatchesTheReference(kernelPath: KernelPath, shape: ConvolutionShape) {
        expectConvolutionMatchesTheReference(kernelPath, shape, count: 5, seed: 21, inputGradient: false)
    }

    /// Widths from a single window to more than a vector of 16 windows, with a run after the last
    /// whole vector (13, 17) or none (16), odd sides, a plane too short or too narrow for a window.
    static let poolings = [
        PlanesShape(channels: 3, height: 5, width: 7), PlanesShape(channels: 2, height: 2, width: 3),
        PlanesShape(channels: 2, height: 28, width: 28), PlanesShape(channels: 2, height: 7, width: 26),
        PlanesShape(channels: 3, height: 24, width: 24), PlanesShape(channels: 3, height: 14, width: 14),
        PlanesShape(channels: 2, height: 13, width: 13), PlanesShape(channels: 3, height: 10, width: 10),
        PlanesShape(channels: 2, height: 5, width: 5), PlanesShape(channels: 2, height: 3, width: 2),
        PlanesShape(channels: 1, height: 3, width: 33), PlanesShape(channels: 1, height: 4, width: 34),
        PlanesShape(channels: 2, height: 6, width: 9), PlanesShape(channels: 1, height: 1, width: 6),
        PlanesShape(channels: 1, height: 4, width: 1),
    ]

    @Test(arguments: KernelPath.supported, poolings)
    func maxPoolMatchesTheReferenceWithTiesGoingToTheFirstMaximum(kernelPath: KernelPath, shape: PlanesShape) {
        let kernels = kernelPath.layerKernels
        let outputGradient = randomFloats(count * shape.pooled.size, seed: 6)
        // Values from {−1, 0, 1}, where most windows hold ties, and values without ties.
        let random = randomFloats(count * shape.size, seed: 5)
        for input in [random.map { ($0 * 1.5).rounded() }, random] {
            var output = [Float](repeating: .nan, count: count * shape.pooled.size)
            kernels.maxPoolForward(shape, input: input, output: &output, count: count)
            #expect(output == ScalarReferenceLayers.maxPoolForward(shape, input: input, count: count).output)

            var inputGradient = [Float](repeating: .nan, count: input.count)
            kernels.maxPoolBackward(
                shape, input: input, output: output, outputGradient: outputGradient, inputGradient: &inputGradient,
                count: count, rectified: false)
            let expected = ScalarReferenceLayers.maxPoolBackward(shape, input: input, outputGradient: outputGradient, count: count)
            #expect(inputGradient == expected)

            // With `rectified`, also zero where the maximum is not positive, on negative inputs as well.
            inputGradient = [Float](repeating: .nan, count: input.count)
            kernels.maxPoolBackward(
                shape, input: input, output: output, outputGradient: outputGradient, inputGradient: &inputGradient,
                count: count, rectified: true)
            #expect(inputGradient == ScalarReferenceLayers.reluBackward(output: input, outputGradient: expected))

            // Pooling a ReLU's output, the ReLU's backward pass too.
            let rectifiedInput = ScalarReferenceLayers.reluForward(input)
            var rectifiedOutput = [Float](repeating: .nan, count: output.count)
            kernels.maxPoolForward(shape, input: rectifiedInput, output: &rectifiedOutput, count: count)
            inputGradient = [Float](repeating: .nan, count: input.count)
            kernels.maxPoolBackward(
                shape, input: rectifiedInput, output: rectifiedOutput, outputGradient: outputGradient,
                inputGradient: &inputGradient, count: count, rectified: true)
            #expect(inputGradient == ScalarReferenceLayers.reluBackward(
                output: rectifiedInput,
                outputGradient: ScalarReferenceLayers.maxPoolBackward(
                    shape, input: rectifiedInput, outputGradient: outputGradient, count: count)))
        }
    }

    @Test(arguments: KernelPath.supported)
    func reluMatchesTheReference(kernelPath: KernelPath) {
        let kernels = kernelPath.layerKernels
        let input = randomFloats(37, seed: 7) + [0]
        let outputGradient = randomFloats(input.count, seed: 8)
        var output = [Float](repeating: .nan, count: input.count)
        kernels.reluForward(input: input, output: &output, elements: input.count)
        #expect(output == ScalarReferenceLayers.reluForward(input))
        var inputGradient = [Float](repeating: .nan, count: input.count)
        kernels.reluBackward(output: output, outputGradient: outputGradient, inputGradient: &inputGradient, elements: input.count)
        #expect(inputGradient == ScalarReferenceLayers.reluBackward(output: output, outputGradient: outputGradient))
    }

    @Test(arguments: KernelPath.supported)
    func dropoutMatchesTheReference(kernelPath: KernelPath) {
        let kernels = kernelPath.layerKernels
        let mask = DropoutMask(probability: 0.3, seed: 9, layer: 2, step: 5, firstSample: 11)
        let sampleSize = 23
        let values = randomFloats(count * sampleSize, seed: 10)
        var output = [Float](repeating: .nan, count: values.count)
        kernels.dropoutForward(mask, input: values, output: &output, sampleSize: sampleSize, count: count)
        let expected = ScalarReferenceLayers.dropout(mask, values, sampleSize: sampleSize)
        #expect(output == expected)
        var inputGradient = [Float](repeating: .nan, count: values.count)
        kernels.dropoutBackward(mask, outputGradient: values, inputGradient: &inputGradient, sampleSize: sampleSize, count: count)
        #expect(inputGradient == expected)
    }

    /// Sizes below a vector, between vectors and past one chunk of the forward pass (1024 inputs),
    /// each with sample counts that fill a register tile and that leave a short last one.
    @Test(arguments: KernelPath.supported, [(37, 7, 6), (3, 1, 6), (64, 10, 6), (4608, 5, 6), (2100, 9, 13), (120, 84, 7), (400, 6, 1)])
    func linearMatchesTheReference(kernelPath: KernelPath, sizes: (inputs: Int, outputs: Int, count: Int)) {
        let kernels = kernelPath.layerKernels
        let (inputs, outputs, count) = sizes
        let input = randomFloats(count * inputs, seed: 11)
        let weight = randomFloats(outputs * inputs, seed: 12)
        let bias = randomFloats(outputs, seed: 13)
        let outputGradient = randomFloats(count * outputs, seed: 14)
        var output = [Float](repeating: .nan, count: count * outputs)
        kernels.linearForward(
            inputs: inputs, outputs: outputs, input: input, weight: weight, bias: bias, output: &output, count: count)
        let expected = ScalarReferenceLayers.linearForward(
            inputs: inputs, outputs: outputs, input: input, weight: weight, bias: bias, count: count)
        #expect(relativeError(output, expected) <= tolerance)

        var inputGradient = [Float](repeating: .nan, count: input.count)
        var weightGradient = [Float](repeating: 1, count: weight.count)
        var biasGradient = [Float](repeating: 1, count: bias.count)
        kernels.linearBackward(
            inputs: inputs, outputs: outputs, input: input, weight: weight, outputGradient: outputGradient,
            inputGradient: &inputGradient, weightGradient: &weightGradient, biasGradient: &biasGradient, count: count)
        let reference = ScalarReferenceLayers.linearBackward(
            inputs: inputs, outputs: outputs, input: input, weight: weight, outputGradient: outputGradient, count: count)
        #expect(relativeError(inputGradient, reference.input) <= tolerance)
        #expect(relativeError(weightGradient, reference.weight.map { $0 + 1 }) <= tolerance)
        #expect(relativeError(biasGradient, reference.bias.map { $0 + 1 }) <= tolerance)
    }

    @Test(arguments: KernelPath.supported)
    func softmaxCrossEntropyMatchesTheReference(kernelPath: KernelPath) {
        let kernels = kernelPath.layerKernels
        let (classes, count) = (5, 7)
        // Ties in the first row: the prediction is the first largest logit.
        let logits = [2, 0, 2, 1, -1] + randomFloats((count - 1) * classes, seed: 15).map { $0 * 8 }
        let labels = randomLabels(count, classes: classes, seed: 16)
        var gradient = [Float](repeating: .nan, count: logits.count)
        var predictions = [Int32](repeating: -1, count: count)
        let lossSum = kernels.softmaxCrossEntropy(
            classes: classes, logits: logits, labels: labels, count: count, logitGradient: &gradient,
            gradientScale: 0.25, predictions: &predictions)
        let reference = ScalarReferenceLayers.softmaxCrossEntropy(
            classes: classes, logits: logits, labels: labels, count: count, gradientScale: 0.25)
        #expect(abs(lossSum - reference.lossSum) <= tolerance * reference.lossSum)
        #expect(relativeError(gradient, reference.logitGradient) <= tolerance)
        #expect(predictions == reference.predictions)
        #expect(predictions[0] == 0)
    }

    /// Parameter counts with a tail shorter than every path's vector, and none.
    @Test(arguments: KernelPath.supported, [1, 3, 16, 37, 100])
    func adamMatchesTheReferenceToTheBit(kernelPath: KernelPath, count: Int) {
        let coefficients = AdamCoefficients(stepSize: 1.2e-3, secondCorrectionRoot: 0.0547, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        let gradients = randomFloats(count, seed: 17)
        var parameters = randomFloats(count, seed: 18)
        var firstMoment = randomFloats(count, seed: 19).map { $0 * 0.1 }
        // Some second moments zero, where the update is m / ε.
        var secondMoment = randomFloats(count, seed: 20).map { $0 < -0.5 ? 0 : abs($0) * 0.01 }
        var expected = (parameters, firstMoment, secondMoment)
        ScalarReferenceLayers.adamUpdate(
            coefficients, parameters: &expected.0, gradients: gradients, firstMoment: &expected.1, secondMoment: &expected.2)
        kernelPath.layerKernels.adamUpdate(
            coefficients, parameters: &parameters, gradients: gradients, firstMoment: &firstMoment,
            secondMoment: &secondMoment, count: count)
        #expect(parameters.map(\.bitPattern) == expected.0.map(\.bitPattern))
        #expect(firstMoment.map(\.bitPattern) == expected.1.map(\.bitPattern))
        #expect(secondMoment.map(\.bitPattern) == expected.2.map(\.bitPattern))
    }
}
