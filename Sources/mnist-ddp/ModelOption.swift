import ArgumentParser
import CNN

/// `--model`, as `train` (one network) and `search` (several, separated by `;`) take it: parsed
/// in `validate()`, so that a bad description is one line, with the usage status, before any
/// MPI work.
enum ModelOption {
    /// What a network may be, for the options' help.
    static let syntax = "a preset (\(ModelSpec.presets.map(\.key).joined(separator: ", "))), a layer list such as 'conv(8,3,pad=1) relu maxpool(2) flatten linear', or @FILE holding one; mnist-ddp model --help gives the syntax"

    /// The network of `text`, or a usage error naming the layer at fault.
    static func spec(_ text: String) throws -> ModelSpec {
        do throws(ModelSpecError) {
            return try ModelSpec(argument: text)
        } catch {
            throw ValidationError("--model: \(error)")
        }
    }

    /// The networks of `text`, separated by `;`.
    static func specs(_ text: String) throws -> [ModelSpec] {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.allSatisfy(\.isWhitespace) }) else {
            throw ValidationError("--model \(text): expected networks separated by ';', one of them is empty")
        }
        return try parts.map { try spec(String($0)) }
    }
}
