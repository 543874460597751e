import ArgumentParser
import Data
import Imaging
import Training

extension Dataset: ExpressibleByArgument {
    public init?(argument: String) {
        guard let dataset = Dataset.named(argument) else { return nil }
        self = dataset
    }

    public static var allValueStrings: [String] { all.map(\.name) }
}

/// Saved weights and the dataset to use them on: `requested` if given (refused when the
/// checkpoint was trained on another), else the checkpoint's.
func loadModel(_ checkpoint: String, dataset requested: Dataset?) throws -> (TrainedModel, Dataset) {
    do {
        let model = try TrainedModel.load(checkpoint)
        return (model, try model.dataset(requested: requested))
    } catch {
        throw Failure(message: error.description)
    }
}

/// Writes `bitmap` as a PNG file, atomically: a reader never sees half of it.
func writePNG(_ bitmap: Bitmap, to path: String) throws(Failure) {
    let bytes: [UInt8]
    do { bytes = try PNG.encode(bitmap, for: path) } catch { throw Failure(message: error.description) }
    do { try writeAtomically(bytes, to: path) } catch { throw Failure(message: error.description) }
}
