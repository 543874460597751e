import ArgumentParser
import CNN
import RegularFile
import Training

/// `mnist-ddp model`: plans a network description and prints its summary.
struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a network's layers, output shapes, parameters and memory, as Keras' summary() does.",
        discussion: """
            A network is a preset's name (\(ModelSpec.presets.map(\.key).joined(separator: ", "))), a layer \
            list, or @FILE holding a layer list. Layers, separated by spaces, commas or new lines:
              conv(OUT,K[,pad=P])  Conv2d to OUT channels, K×K kernel (K 1-7), padding P (0 to K-1), stride 1
              relu                 ReLU
              maxpool(2)           2×2 max pooling, stride 2 (floor on odd sizes)
              dropout(P)           dropout with probability P in training (0 ≤ P < 1)
              flatten              channels×height×width to one vector
              linear[(OUT)]        fully connected; the last layer's OUT is the class count if left out
            NAME=LAYER names a layer (a Python identifier): its tensors are NAME.weight and NAME.bias, \
            as in a PyTorch module with that attribute. Unnamed layers are numbered by kind: conv1, \
            conv2, …, fc1, fc2, …; # starts a comment. The seed network is
              conv(8,3,pad=1) relu maxpool(2) conv(16,3,pad=1) relu maxpool(2) flatten linear
            A network may have at most \(grouped(ModelPlan.maxParameters)) parameters and need at most \
            \(ModelPlan.maxActivationBytes >> 30) GiB of activations for a batch.
            """
    )

    @Argument(help: ArgumentHelp("The network: a preset, a layer list, or @FILE.", valueName: "network"))
    var network: String = "seed"

    @Option(help: ArgumentHelp("The shape of one input, channels×height×width.", valueName: "CxHxW"))
    var input: InputShape = InputShape(dimensions: [1, 28, 28])

    @Option(help: "The number of classes the last layer tells apart.")
    var classes: Int = 10

    @Option(help: "The batch a rank trains on, for the memory it needs.")
    var batch: Int = 60

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, not \(batch)") }
        _ = try plan()
    }

    @Flag(help: "Print only the resolved layer list (every layer named, every width given), as checkpoints record it.")
    var canonical = false

    func run() throws {
        let plan = try plan()
        print(canonical ? plan.resolvedSpec.description : plan.summary(batch: batch))
    }

    /// The network planned for the input and classes given; a bad description is one line.
    func plan() throws -> ModelPlan {
        do throws(ModelSpecError) {
            let plan = try ModelPlan(try ModelSpec(argument: network), inputShape: input.dimensions, classCount: classes)
            try plan.check(batch: batch)
            return plan
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// `CxHxW` (`1x28x28`, or with `×`).
struct InputShape: ExpressibleByArgument {
    let dimensions: [Int]

    init(dimensions: [Int]) {
        self.dimensions = dimensions
    }

    init?(argument: String) {
        let parts = argument.split(whereSeparator: { $0 == "x" || $0 == "×" })
        guard parts.count == 3 else { return nil }
        let dimensions = parts.compactMap { Int($0) }
        guard dimensions.count == 3 else { return nil }
        self.dimensions = dimensions
    }

    var defaultValueDescription: String { dimensions.map(String.init).joined(separator: "x") }
}

extension ModelSpec {
    /// `--model`'s value: a preset, a layer list, or `@FILE` (a regular file of at most
    /// `maxDescriptionBytes`) holding a layer list.
    init(argument: String) throws(ModelSpecError) {
        guard argument.hasPrefix("@") else {
            try self.init(parsing: argument)
            return
        }
        try self.init(parsing: try Self.description(inFile: String(argument.dropFirst())))
    }

    /// The text of the description file at `path`, refused if it is not a regular file of UTF-8
    /// text within `maxDescriptionBytes`.
    private static func description(inFile path: String) throws(ModelSpecError) -> String {
        let file: RegularFile
        do throws(RegularFileError) {
            file = try RegularFile(openingForReading: path)
        } catch {
            throw .unreadable(path: path, reason: error.description)
        }
        guard file.size <= maxDescriptionBytes else {
            throw .unreadable(path: path, reason: "\(file.size) bytes, more than the \(maxDescriptionBytes) a network description may have")
        }
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: file.size, alignment: 1)
        defer { bytes.deallocate() }
        let count: Int
        do throws(RegularFileError) {
            count = try file.read(into: bytes)
        } catch {
            throw .unreadable(path: path, reason: error.description)
        }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw .unreadable(path: path, reason: "not UTF-8 text")
        }
        return text
    }
}
