import CNNKernelInterface

/// Any plan's network pass through `ScalarReferenceLayers`: the reference `PlannedNetwork` is
/// tested against.
public enum ScalarReferenceNetwork {
    public struct Pass {
        /// Σᵢ lossᵢ.
        public let lossSum: Double
        /// [count][classCount]
        public let logits: [Float]
        /// gradientScale · Σᵢ ∂lossᵢ/∂θ in the plan's parameter layout.
        public let gradients: [Float]
    }

    /// Forward, loss and backward of `count` samples; dropout as `dropout` says, none if nil.
    /// images: [count][inputSize]; parameters: [plan.parameterCount].
    public static func pass(
        _ plan: ModelPlan, parameters: [Float], images: [Float], labels: [Int32], count: Int, gradientScale: Float,
        dropout: DropoutContext? = nil
    ) -> Pass {
        func tensor(_ layer: ModelPlan.Layer, _ index: Int) -> [Float] { Array(parameters[layer.tensors[index].range]) }
        // activations[l] is layer l's input; activations[layers.count] the logits.
        var activations = [images]
        for (index, layer) in plan.layers.enumerated() {
            let input = activations[index]
            let inputSize = layer.inputShape.reduce(1, *)
            let output: [Float]
            switch layer.kind {
            case .convolution:
                output = ScalarReferenceLayers.convolutionForward(
                    layer.convolutionShape!, input: input, weight: tensor(layer, 0), bias: tensor(layer, 1), count: count)
            case .relu:
                output = ScalarReferenceLayers.reluForward(input)
            case .maxPool:
                output = ScalarReferenceLayers.maxPoolForward(layer.inputPlanes!, input: input, count: count).output
            case .dropout(let probability):
                output = dropout.map {
                    ScalarReferenceLayers.dropout($0.mask(probability: probability, layer: index), input, sampleSize: inputSize)
                } ?? input
            case .flatten:
                output = input
            case .linear:
                output = ScalarReferenceLayers.linearForward(
                    inputs: inputSize, outputs: layer.outputSize, input: input, weight: tensor(layer, 0),
                    bias: tensor(layer, 1), count: count)
            }
            activations.append(output)
        }
        let logits = activations[plan.layers.count]
        let loss = ScalarReferenceLayers.softmaxCrossEntropy(
            classes: plan.classCount, logits: logits, labels: labels, count: count, gradientScale: gradientScale)

        var gradients = [Float](repeating: 0, count: plan.parameterCount)
        var gradient = loss.logitGradient
        for (index, layer) in plan.layers.enumerated().reversed() {
            let input = activations[index]
            let inputSize = layer.inputShape.reduce(1, *)
            switch layer.kind {
            case .convolution:
                let backward = ScalarReferenceLayers.convolutionBackward(
                    layer.convolutionShape!, input: input, weight: tensor(layer, 0), outputGradient: gradient, count: count)
                gradients.replaceSubrange(layer.tensors[0].range, with: backward.weight)
                gradients.replaceSubrange(layer.tensors[1].range, with: backward.bias)
                gradient = backward.input
            case .relu:
                gradient = ScalarReferenceLayers.reluBackward(output: activations[index + 1], outputGradient: gradient)
            case .maxPool:
                gradient = ScalarReferenceLayers.maxPoolBackward(
                    layer.inputPlanes!, input: input, outputGradient: gradient, count: count)
            case .dropout(let probability):
                gradient = dropout.map {
                    ScalarReferenceLayers.dropout($0.mask(probability: probability, layer: index), gradient, sampleSize: inputSize)
                } ?? gradient
            case .flatten:
                break
            case .linear:
                let backward = ScalarReferenceLayers.linearBackward(
                    inputs: inputSize, outputs: layer.outputSize, input: input, weight: tensor(layer, 0),
                    outputGradient: gradient, count: count)
                gradients.replaceSubrange(layer.tensors[0].range, with: backward.weight)
                gradients.replaceSubrange(layer.tensors[1].range, with: backward.bias)
                gradient = backward.input
            }
        }
        return Pass(lossSum: loss.lossSum, logits: logits, gradients: gradients)
    }
}
