import CNN
import SafeTensors

/// What `--init-from` took from a file for a new network: the tensors whose name and shape
/// matched, loaded, and the others, left at their fresh initialisation, each with the reason.
public struct WeightTransfer: Sendable, Equatable {
    /// The file the weights came from.
    public var source: String
    /// The names of the tensors loaded, in the network's order.
    public var loaded: [String] = []
    /// One entry per tensor kept fresh: `fc2.weight [5,128] kept fresh: the checkpoint's is [10,128]`.
    public var keptFresh: [String] = []

    /// The one line rank 0 prints.
    public var summary: String {
        let taken = "--init-from \(source): loaded \(loaded.count) tensor\(loaded.count == 1 ? "" : "s") (\(loaded.joined(separator: ", ")))"
        return keptFresh.isEmpty ? taken : taken + "; " + keptFresh.joined(separator: "; ")
    }
}

extension CheckpointFormat {
    /// Overwrites each tensor of `model` in `parameters` (freshly initialised, in `model`'s
    /// order) with the tensor of the same name and shape in `file`: a checkpoint of ours
    /// (verified in full, as for `--resume`), or any safetensors file of F32 tensors under
    /// PyTorch's `state_dict` names. The tensors without a match keep their values, so a network
    /// with a new head for another class count keeps the feature extractor it is given. Refuses
    /// a file of which no tensor matches: that is another network, not a start for this one.
    public static func transferWeights(
        from file: SafeTensorsFile, into parameters: inout [Float], of model: ModelDescription
    ) throws(TrainingError) -> WeightTransfer {
        precondition(parameters.count == model.parameterCount, "\(parameters.count) parameters for \(model.parameterCount)")
        // The file's tensors by name: a checkpoint's network's, or every tensor of any other file.
        var shapes: [String: [Int]] = [:]
        let checkpoint = file.metadata["format"] == formatName ? try decode(file) : nil
        for (name, shape) in checkpoint?.model.modelDescription.tensors.map({ ($0.name, $0.shape) })
            ?? file.tensors.map({ ($0.name, $0.shape) }) where shapes[name] == nil {
            shapes[name] = shape
        }
        func values(of tensor: ParameterTensor) throws(TrainingError) -> [Float] {
            if let checkpoint, let held = checkpoint.model.modelDescription.tensor(named: tensor.name) {
                return Array(checkpoint.parameters[held.range])
            }
            do { return try file.floats(named: tensor.name, shape: tensor.shape) } catch { throw .checkpointFile(error) }
        }
        var transfer = WeightTransfer(source: file.source)
        for tensor in model.tensors {
            let wanted = "\(tensor.name) \(shapeList(tensor.shape)) kept fresh"
            guard let shape = shapes[tensor.name] else {
                transfer.keptFresh.append("\(wanted): the file has no such tensor")
                continue
            }
            guard shape == tensor.shape else {
                transfer.keptFresh.append("\(wanted): the file's is \(shapeList(shape))")
                continue
            }
            parameters.replaceSubrange(tensor.range, with: try values(of: tensor))
            transfer.loaded.append(tensor.name)
        }
        guard !transfer.loaded.isEmpty else {
            throw .incompatibleCheckpoint(
                path: file.source,
                reason: "no tensor of it matches the network's by name and shape (it needs \(model.tensors.map { "\($0.name) \(shapeList($0.shape))" }.joined(separator: ", ")))")
        }
        return transfer
    }

    /// `[10,128]`, as PyTorch prints a shape.
    private static func shapeList(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ",") + "]"
    }
}
