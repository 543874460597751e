/// A sequential network as data: its layers in order, each with an optional name. The input
/// shape and the class count are not part of it: they come from the data (`ModelPlan`).
///
/// The text form, one layer after another separated by spaces, commas or new lines:
///
///     conv(8,3,pad=1) relu maxpool(2) conv(16,3,pad=1) relu maxpool(2) flatten linear
///
/// - `conv(OUT,K[,pad=P])`: Conv2d to OUT channels, K×K kernel (1…7), padding P (0…K−1), stride 1.
/// - `relu`; `maxpool(2)` (or `maxpool`): 2×2, stride 2, floor on odd sizes as PyTorch does.
/// - `dropout(P)`: zeroes with probability P (0 ≤ P < 1) in training, inverted scaling.
/// - `flatten`; `linear(OUT)`: fully connected; the last layer's OUT may be left out (the class count).
/// - `NAME=LAYER` names a layer (a Python identifier): its tensors are then `NAME.weight`,
///   `NAME.bias`, as a PyTorch module with that attribute would name them. Unnamed layers count
///   by kind: `conv1`, `conv2`, …, `fc1`, `fc2`, …
/// - `#` starts a comment to the end of the line.
public struct ModelSpec: Sendable, Equatable, CustomStringConvertible {
    public var layers: [LayerSpec]

    public init(layers: [LayerSpec]) {
        self.layers = layers
    }

    /// The canonical text form, which parses back to the same spec.
    public var description: String { layers.map(\.description).joined(separator: " ") }
}

/// One layer of a `ModelSpec`.
public struct LayerSpec: Sendable, Equatable, CustomStringConvertible {
    /// The name given in the description, if any (`ModelPlan` names the others).
    public var name: String?
    public var kind: LayerKind

    public init(name: String? = nil, _ kind: LayerKind) {
        self.name = name
        self.kind = kind
    }

    public var description: String { (name.map { $0 + "=" } ?? "") + kind.description }
}

/// What a layer computes.
public enum LayerKind: Sendable, Equatable, CustomStringConvertible {
    case convolution(outChannels: Int, kernel: Int, padding: Int)
    case relu
    /// A `size`×`size` window with stride `size`.
    case maxPool(size: Int)
    case dropout(probability: Double)
    case flatten
    /// `outFeatures` nil: as many as the data has classes (the last layer only).
    case linear(outFeatures: Int?)

    /// The layer's word in the text form.
    public var keyword: String {
        switch self {
        case .convolution: "conv"
        case .relu: "relu"
        case .maxPool: "maxpool"
        case .dropout: "dropout"
        case .flatten: "flatten"
        case .linear: "linear"
        }
    }

    /// PyTorch's class for the layer, as summaries name it.
    public var pytorchType: String {
        switch self {
        case .convolution: "Conv2d"
        case .relu: "ReLU"
        case .maxPool: "MaxPool2d"
        case .dropout: "Dropout"
        case .flatten: "Flatten"
        case .linear: "Linear"
        }
    }

    /// The prefix of the names that unnamed layers of this kind get, numbered from 1.
    var namePrefix: String {
        switch self {
        case .convolution: "conv"
        case .relu: "relu"
        case .maxPool: "pool"
        case .dropout: "dropout"
        case .flatten: "flatten"
        case .linear: "fc"
        }
    }

    public var description: String {
        switch self {
        case .convolution(let out, let kernel, let padding): "conv(\(out),\(kernel),pad=\(padding))"
        case .relu: "relu"
        case .maxPool(let size): "maxpool(\(size))"
        case .dropout(let probability): "dropout(\(probability))"
        case .flatten: "flatten"
        case .linear(let out): out.map { "linear(\($0))" } ?? "linear"
        }
    }
}

// MARK: - Presets

extension ModelSpec {
    /// The PyTorch tutorial's network, the default: its tensors are named as they always were.
    public static let seed = ModelSpec(layers: [
        LayerSpec(name: "conv1", .convolution(outChannels: 8, kernel: 3, padding: 1)), LayerSpec(.relu),
        LayerSpec(.maxPool(size: 2)),
        LayerSpec(name: "conv2", .convolution(outChannels: 16, kernel: 3, padding: 1)), LayerSpec(.relu),
        LayerSpec(.maxPool(size: 2)), LayerSpec(.flatten), LayerSpec(name: "fc1", .linear(outFeatures: nil)),
    ])

    /// LeNet-5 as PyTorch tutorials write it for 28×28 digits (the first convolution padded by 2).
    public static let lenet5 = ModelSpec(layers: [
        LayerSpec(name: "conv1", .convolution(outChannels: 6, kernel: 5, padding: 2)), LayerSpec(.relu),
        LayerSpec(.maxPool(size: 2)),
        LayerSpec(name: "conv2", .convolution(outChannels: 16, kernel: 5, padding: 0)), LayerSpec(.relu),
        LayerSpec(.maxPool(size: 2)), LayerSpec(.flatten),
        LayerSpec(name: "fc1", .linear(outFeatures: 120)), LayerSpec(.relu),
        LayerSpec(name: "fc2", .linear(outFeatures: 84)), LayerSpec(.relu),
        LayerSpec(name: "fc3", .linear(outFeatures: nil)),
    ])

    /// The network of Keras' `mnist_transfer_cnn` example.
    public static let kerasTransfer = ModelSpec(layers: [
        LayerSpec(name: "conv1", .convolution(outChannels: 32, kernel: 3, padding: 0)), LayerSpec(.relu),
        LayerSpec(name: "conv2", .convolution(outChannels: 32, kernel: 3, padding: 0)), LayerSpec(.relu),
        LayerSpec(.maxPool(size: 2)), LayerSpec(.dropout(probability: 0.25)), LayerSpec(.flatten),
        LayerSpec(name: "fc1", .linear(outFeatures: 128)), LayerSpec(.relu),
        LayerSpec(.dropout(probability: 0.5)), LayerSpec(name: "fc2", .linear(outFeatures: nil)),
    ])

    /// The networks that `--model` knows by name, in the order `--help` lists them.
    public static let presets: KeyValuePairs<String, ModelSpec> = [
        "seed": seed, "lenet5": lenet5, "keras-transfer": kerasTransfer,
    ]

    /// How reports name the network: its preset's name, else its text.
    public var name: String {
        Self.presets.first { $0.value == self }?.key ?? description
    }

    /// The preset called `name`, if there is one.
    public static func preset(named name: String) -> ModelSpec? {
        presets.first { $0.key == name }?.value
    }
}

// MARK: - Parsing

/// Why a network description was refused: one line, naming the layer (by its place and its text)
/// and, for shapes, the shapes at fault.
public enum ModelSpecError: Error, Equatable, CustomStringConvertible {
    /// Text that is not a layer, or a layer written wrong. `layer` is the 1-based place.
    case syntax(layer: Int, text: String, reason: String)
    /// A layer that does not fit the shape it receives, or the network as a whole.
    case shape(layer: Int, name: String, reason: String)
    /// A description with no layers.
    case empty
    /// A description file that cannot be read.
    case unreadable(path: String, reason: String)
    /// More than a stated bound: a description's length or layer count, or a batch's activations.
    case beyondBound(reason: String)

    public var description: String {
        switch self {
        case .syntax(let layer, let text, let reason): "layer \(layer) '\(text)': \(reason)"
        case .shape(let layer, let name, let reason): "layer \(layer) (\(name)): \(reason)"
        case .empty: "the network has no layers"
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .beyondBound(let reason): reason
        }
    }
}

extension ModelSpec {
    /// The longest description read, in bytes, and the most layers: bounds that no sequential
    /// network of this kind needs, so that no description can exhaust memory or time.
    public static let maxDescriptionBytes = 64 * 1024
    public static let maxLayers = 256
    /// The largest number any layer argument may have (channels, features).
    public static let maxLayerWidth = 1 << 16
    /// The kernel sizes a convolution may have.
    public static let kernelSizes = 1 ... 7

    /// Parses a preset's name or a layer list (see `ModelSpec`).
    public init(parsing text: String) throws(ModelSpecError) {
        if let preset = Self.preset(named: text.trimmingWhitespace) {
            self = preset
            return
        }
        guard text.utf8.count <= Self.maxDescriptionBytes else {
            throw .beyondBound(reason: "the network description has \(text.utf8.count) bytes, more than the \(Self.maxDescriptionBytes) read")
        }
        let words = Self.layerWords(of: text)
        guard !words.isEmpty else { throw .empty }
        guard words.count <= Self.maxLayers else {
            throw .beyondBound(reason: "the network has \(words.count) layers, more than the \(Self.maxLayers) allowed")
        }
        var layers: [LayerSpec] = []
        for (index, word) in words.enumerated() {
            layers.append(try LayerSpec(parsing: word, place: index + 1))
        }
        self.init(layers: layers)
    }

    /// The text of each layer: comments dropped, split at spaces, commas and new lines that are
    /// outside parentheses.
    static func layerWords(of text: String) -> [Substring] {
        var words: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let code = line.prefix { $0 != "#" }
            var depth = 0
            var start: Substring.Index?
            for index in code.indices {
                let character = code[index]
                let separates = depth == 0 && (character == " " || character == "," || character == "\t" || character == "\r")
                if separates {
                    if let begun = start { words.append(code[begun ..< index]) }
                    start = nil
                } else {
                    if start == nil { start = index }
                    if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
                }
            }
            if let begun = start { words.append(code[begun...]) }
        }
        return words
    }
}

extension LayerSpec {
    /// One layer's text: `[NAME=]KEYWORD[(ARGUMENTS)]`. `place` (1-based) names it in errors.
    init(parsing word: Substring, place: Int) throws(ModelSpecError) {
        func refuse(_ reason: String) -> ModelSpecError { .syntax(layer: place, text: String(word), reason: reason) }

        var body = word
        if let equals = word.firstIndex(of: "="), !word[..<equals].contains("(") {
            let name = String(word[..<equals])
            guard Self.isIdentifier(name) else {
                throw refuse("'\(name)' is not a layer name (letters, digits and _, not starting with a digit)")
            }
            self.name = name
            body = word[word.index(after: equals)...]
        } else {
            name = nil
        }
        let keyword: Substring
        var arguments: [Substring] = []
        if let open = body.firstIndex(of: "(") {
            guard body.last == ")", body.firstIndex(of: ")") == body.index(before: body.endIndex) else {
                throw refuse("its arguments must end with one ')'")
            }
            keyword = body[..<open]
            let inside = body[body.index(after: open) ..< body.index(before: body.endIndex)]
            arguments = inside.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed() }
                .map { Substring(String($0)) }
            if arguments == [""] { arguments = [] }
        } else {
            keyword = body
        }

        var positional: [Substring] = []
        var named: [(key: Substring, value: Substring)] = []
        for argument in arguments {
            if let equals = argument.firstIndex(of: "=") {
                named.append((argument[..<equals], argument[argument.index(after: equals)...]))
            } else {
                guard named.isEmpty else { throw refuse("'\(argument)' follows a named argument") }
                positional.append(argument)
            }
        }
        func integer(_ text: Substring, _ what: String, in range: ClosedRange<Int>) throws(ModelSpecError) -> Int {
            guard let value = Int(text), range.contains(value) else {
                throw refuse("\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
            }
            return value
        }
        func expect(positional count: ClosedRange<Int>, named keys: [String] = []) throws(ModelSpecError) {
            guard count.contains(positional.count) else {
                let wanted = count.lowerBound == count.upperBound ? "\(count.lowerBound)" : "\(count.lowerBound) to \(count.upperBound)"
                throw refuse("\(keyword) takes \(wanted) argument\(count.upperBound == 1 ? "" : "s"), not \(positional.count)")
            }
            for (key, _) in named where !keys.contains(String(key)) {
                throw refuse("\(keyword) has no argument '\(key)'" + (keys.isEmpty ? "" : " (it has \(keys.joined(separator: ", ")))"))
            }
        }

        switch keyword {
        case "conv":
            try expect(positional: 2 ... 2, named: ["pad"])
            let out = try integer(positional[0], "the output channels", in: 1 ... ModelSpec.maxLayerWidth)
            let kernel = try integer(positional[1], "the kernel size", in: ModelSpec.kernelSizes)
            let padding = try named.first.map { pad throws(ModelSpecError) in
                try integer(pad.value, "the padding of a \(kernel)×\(kernel) kernel", in: 0 ... kernel - 1)
            } ?? 0
            kind = .convolution(outChannels: out, kernel: kernel, padding: padding)
        case "relu":
            try expect(positional: 0 ... 0)
            kind = .relu
        case "maxpool":
            try expect(positional: 0 ... 1)
            if let size = positional.first {
                guard size == "2" else { throw refuse("only 2×2 pooling is supported, not '\(size)'") }
            }
            kind = .maxPool(size: 2)
        case "dropout":
            try expect(positional: 1 ... 1)
            guard let probability = Double(positional[0]), probability >= 0, probability < 1 else {
                throw refuse("the dropout probability must be a number from 0 up to (not including) 1, not '\(positional[0])'")
            }
            kind = .dropout(probability: probability)
        case "flatten":
            try expect(positional: 0 ... 0)
            kind = .flatten
        case "linear":
            try expect(positional: 0 ... 1)
            kind = .linear(outFeatures: try positional.first.map { out throws(ModelSpecError) in
                try integer(out, "the output features", in: 1 ... ModelSpec.maxLayerWidth)
            })
        default:
            throw refuse("unknown layer '\(keyword)' (known: conv, relu, maxpool, dropout, flatten, linear; presets: \(ModelSpec.presets.map(\.key).joined(separator: ", ")))")
        }
    }

    /// Whether `name` can be a PyTorch module attribute: ASCII letters, digits and `_`, not
    /// starting with a digit, at most 64 characters.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64, !(UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(first) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a") ... UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A") ... UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}

extension String {
    /// The text without spaces, tabs and new lines at either end.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start ... last])
    }
}
