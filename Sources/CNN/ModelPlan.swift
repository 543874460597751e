/// Everything that follows from a `ModelSpec` on inputs of one shape with one class count: each
/// layer's name and output shape, the parameter tensors in `state_dict` order with their place in
/// the flat parameter buffer, the activation sizes and the FLOPs. Built once; every size the
/// trainer, checkpoints, summaries and benchmarks use is read from here.
public struct ModelPlan: Sendable, Equatable {
    /// One layer as planned.
    public struct Layer: Sendable, Equatable {
        /// The module attribute name: the one given, or the kind's prefix and its count.
        public let name: String
        public let kind: LayerKind
        /// [channels, height, width] before flatten, [features] after.
        public let inputShape: [Int]
        public let outputShape: [Int]
        /// The layer's tensors (weight, then bias), empty for layers without parameters.
        public let tensors: [ParameterTensor]
        /// Multiply-adds of the forward pass of one sample, counted as 2 FLOPs each.
        public let forwardFLOPs: Int

        public var parameterCount: Int { tensors.reduce(0) { $0 + $1.range.count } }
        public var outputSize: Int { outputShape.reduce(1, *) }
    }

    public let spec: ModelSpec
    public let layers: [Layer]
    /// The shape of one input sample, [channels, height, width].
    public let inputShape: [Int]
    public let classCount: Int

    /// What training, checkpoints and evaluation need of the model.
    public var modelDescription: ModelDescription {
        ModelDescription(tensors: layers.flatMap(\.tensors), inputShape: inputShape, classCount: classCount)
    }

    /// The spec with nothing left to infer: every layer with parameters named and every linear
    /// layer's width given. Its text is what checkpoints record and what PyTorch scripts build, so
    /// a network means the same wherever it is read, whatever the presets become.
    public var resolvedSpec: ModelSpec {
        ModelSpec(layers: zip(spec.layers, layers).map { given, layer in
            switch layer.kind {
            case .linear: LayerSpec(name: layer.name, .linear(outFeatures: layer.outputShape[0]))
            case .convolution: LayerSpec(name: layer.name, layer.kind)
            default: given
            }
        })
    }

    /// Plans are equal when they compute the same network on the same inputs and classes,
    /// whether a width was given or left to the class count (a preset, and the resolved text a
    /// checkpoint records of it, plan alike).
    public static func == (a: ModelPlan, b: ModelPlan) -> Bool {
        a.resolvedSpec == b.resolvedSpec && a.inputShape == b.inputShape && a.classCount == b.classCount
    }

    public var parameterCount: Int { layers.last?.tensors.last?.range.upperBound ?? 0 }
    public var forwardFLOPs: Int { layers.reduce(0) { $0 + $1.forwardFLOPs } }
    /// Multiply-adds of one sample's backward pass through layer `index`, counted as 2 FLOPs each:
    /// the parameters' gradient, and the input's unless the layer is the first (its input is the data).
    public func backwardFLOPs(ofLayerAt index: Int) -> Int {
        (index == 0 ? 1 : 2) * layers[index].forwardFLOPs
    }
    /// FLOPs of one sample's training step, forward and backward.
    public var trainingFLOPs: Int {
        forwardFLOPs + layers.indices.reduce(0) { $0 + backwardFLOPs(ofLayerAt: $1) }
    }
    /// The floats one sample's forward pass writes, over every layer.
    public var activationsPerSample: Int { layers.reduce(0) { $0 + $1.outputSize } }

    /// The most parameters a network may have: 100 million, 1.6 GB with their gradients and
    /// Adam's two moments.
    public static let maxParameters = 100_000_000
    /// The most bytes of activations a rank may need for one batch (forward and backward): 8 GiB.
    public static let maxActivationBytes = 8 << 30
    /// The largest side and channel count an input may have.
    public static let maxInputExtent = 1 << 14

    /// Plans `spec` for inputs of `inputShape` ([channels, height, width]) and `classCount`
    /// classes, refusing a network whose layers do not fit their inputs or that is too large.
    public init(_ spec: ModelSpec, inputShape: [Int], classCount: Int) throws(ModelSpecError) {
        guard !spec.layers.isEmpty else { throw .empty }
        guard inputShape.count == 3, inputShape.allSatisfy({ (1 ... Self.maxInputExtent).contains($0) }) else {
            throw .shape(layer: 0, name: "input", reason: "an input is channels×height×width, each 1 to \(Self.maxInputExtent), not \(Self.shapeText(inputShape))")
        }
        guard (1 ... ModelSpec.maxLayerWidth).contains(classCount) else {
            throw .shape(layer: 0, name: "input", reason: "the data has \(classCount) classes; a network tells 1 to \(ModelSpec.maxLayerWidth) apart")
        }
        self.spec = spec
        self.inputShape = inputShape
        self.classCount = classCount

        var layers: [Layer] = []
        var shape = inputShape
        var counts: [String: Int] = [:]
        var names: Set<String> = []
        var parameterEnd = 0
        for (index, layerSpec) in spec.layers.enumerated() {
            let place = index + 1
            let kind = layerSpec.kind
            counts[kind.namePrefix, default: 0] += 1
            let name = layerSpec.name ?? "\(kind.namePrefix)\(counts[kind.namePrefix]!)"
            func refuse(_ reason: String) -> ModelSpecError { .shape(layer: place, name: name, reason: reason) }
            guard names.insert(name).inserted else { throw refuse("a second layer named '\(name)'") }
            let isLast = place == spec.layers.count

            var output = shape
            var tensors: [ParameterTensor] = []
            var layerFLOPs = 0
            func addTensors(weight: [Int], bias: Int, fanIn: Int) {
                for (suffix, tensorShape) in [("weight", weight), ("bias", [bias])] {
                    let count = tensorShape.reduce(1, *)
                    tensors.append(ParameterTensor(
                        name: "\(name).\(suffix)", shape: tensorShape, range: parameterEnd ..< parameterEnd + count, fanIn: fanIn))
                    parameterEnd += count
                }
            }
            switch kind {
            case .convolution(let out, let kernel, let padding):
                guard shape.count == 3 else {
                    throw refuse("conv needs a channels×height×width input, it receives \(Self.shapeText(shape)) after flatten")
                }
                let (height, width) = (shape[1] + 2 * padding - kernel + 1, shape[2] + 2 * padding - kernel + 1)
                guard height >= 1, width >= 1 else {
                    throw refuse("a \(kernel)×\(kernel) kernel with padding \(padding) is larger than its \(shape[1])×\(shape[2]) input")
                }
                output = [out, height, width]
                let fanIn = shape[0] * kernel * kernel
                try Self.checkParameters(parameterEnd, adding: out * fanIn + out, refuse)
                addTensors(weight: [out, shape[0], kernel, kernel], bias: out, fanIn: fanIn)
                layerFLOPs = 2 * fanIn * out * height * width
            case .relu, .dropout:
                break
            case .maxPool(let size):
                guard shape.count == 3 else { throw refuse("maxpool needs a channels×height×width input, it receives \(Self.shapeText(shape))") }
                guard shape[1] >= size, shape[2] >= size else {
                    throw refuse("a \(size)×\(size) pool does not fit its \(shape[1])×\(shape[2]) input")
                }
                output = [shape[0], shape[1] / size, shape[2] / size]
            case .flatten:
                guard shape.count == 3 else { throw refuse("the input is flat already (\(Self.shapeText(shape)))") }
                output = [shape.reduce(1, *)]
            case .linear(let outFeatures):
                guard shape.count == 1 else {
                    throw refuse("linear needs a flat input (put flatten before it), it receives \(Self.shapeText(shape))")
                }
                guard let out = outFeatures ?? (isLast ? classCount : nil) else {
                    throw refuse("only the last linear layer may leave out its output features")
                }
                output = [out]
                try Self.checkParameters(parameterEnd, adding: out * shape[0] + out, refuse)
                addTensors(weight: [out, shape[0]], bias: out, fanIn: shape[0])
                layerFLOPs = 2 * shape[0] * out
            }
            if isLast {
                guard case .linear = kind else {
                    throw refuse("the last layer must be linear, giving one output per class (\(classCount))")
                }
                guard output == [classCount] else {
                    throw refuse("the last layer gives \(output[0]) outputs, the data has \(classCount) classes")
                }
            }
            layers.append(Layer(
                name: name, kind: kind, inputShape: shape, outputShape: output, tensors: tensors, forwardFLOPs: layerFLOPs))
            shape = output
        }
        self.layers = layers
    }

    /// Refuses a layer that would take the network past `maxParameters`. Sizes are checked before
    /// they are multiplied out further, so nothing overflows: every factor is at most 2^16.
    private static func checkParameters(
        _ before: Int, adding count: Int, _ refuse: (String) -> ModelSpecError
    ) throws(ModelSpecError) {
        guard before + count <= maxParameters else {
            throw refuse("the network would have \(before + count) parameters, more than the \(maxParameters) allowed")
        }
    }

    /// The bytes of one sample's activations in training: the input and every layer's output,
    /// and as much again for their gradients.
    public var activationBytesPerSample: Int { 2 * MemoryLayout<Float>.size * (inputShape.reduce(1, *) + activationsPerSample) }

    /// The bytes of the parameters with their gradients and Adam's two moments.
    public var parameterStateBytes: Int { 4 * MemoryLayout<Float>.size * parameterCount }

    /// Refuses a batch whose activations would need more than `maxActivationBytes`.
    public func check(batch: Int) throws(ModelSpecError) {
        guard batch <= Self.maxActivationBytes / activationBytesPerSample else {
            throw .beyondBound(reason: "a batch of \(batch) needs \(batch) × \(activationBytesPerSample) bytes of activations, more than the \(Self.maxActivationBytes >> 30) GiB allowed")
        }
    }

    public static func shapeText(_ shape: [Int]) -> String {
        shape.map(String.init).joined(separator: "×")
    }
}
