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

/// What a command's `--dataset` is when it is not given, said in its help.
protocol DatasetDefault {
    static var help: String { get }
}

/// `train` and `search`: MNIST.
enum DefaultsToMNIST: DatasetDefault {
    static var help: String {
        "The data: mnist, or fashion-mnist (Debian's dataset-fashion-mnist). Default: mnist."
    }
}

/// `evaluate`, `predict` and `show`: the dataset the checkpoint was trained on.
enum DefaultsToCheckpoint: DatasetDefault {
    static var help: String {
        "mnist or fashion-mnist, whose class names to use; refused if the checkpoint was trained on another. Default: the checkpoint's dataset (mnist for a weights-only file, or without one)."
    }
}

/// `--dataset`, alone where no data is read (`predict` takes only the class names).
struct DatasetOption<Default: DatasetDefault>: ParsableArguments {
    @Option(help: ArgumentHelp(Default.help))
    var dataset: Dataset?
}

/// `--dataset` and `--data-dir`: the IDX files a command reads.
struct DataOptions<Default: DatasetDefault>: ParsableArguments {
    @OptionGroup var named: DatasetOption<Default>

    @Option(help: "Directory of the IDX files (.gz or raw). Default: the dataset's own (mnist: $\(DataDirectory.environmentVariable), else \(DataDirectory.defaultPath)).")
    var dataDir: String?

    /// The dataset given, if any.
    var dataset: Dataset? { named.dataset }

    /// The directory of `dataset`'s files: --data-dir, else its own.
    func directory(of dataset: Dataset, environment: [String: String] = environmentVariables()) -> String {
        dataset.directory(option: dataDir, environment: environment)
    }
}

/// Saved weights and the dataset to use them on: `requested` if given (refused when the
/// checkpoint was trained on another), else the checkpoint's. Refuses a network that does not
/// take the MNIST-style 1×28×28 images `predict` and `show` prepare, or that tells another
/// number of classes apart than the dataset has.
func loadModel(_ checkpoint: String, dataset requested: Dataset?) throws -> (TrainedModel, Dataset) {
    do throws(TrainingError) {
        let model = try TrainedModel.load(checkpoint)
        let dataset = try model.dataset(requested: requested)
        let side = MNISTPreprocessing.side
        guard model.model.inputShape == [1, side, side], model.model.classCount == dataset.classNames.count else {
            throw .incompatibleCheckpoint(
                path: model.path,
                reason: "its network takes \(model.model.inputShape.map(String.init).joined(separator: "x")) images of \(model.model.classCount) classes, not the 1x\(side)x\(side) images of \(dataset.name)'s \(dataset.classNames.count) classes")
        }
        return (model, dataset)
    } catch {
        throw Failure(error)
    }
}

/// Writes `bitmap` as a PNG file, atomically: a reader never sees half of it.
func writePNG(_ bitmap: Bitmap, to path: String) throws(Failure) {
    let bytes: [UInt8]
    do { bytes = try PNG.encode(bitmap, for: path) } catch { throw Failure(message: error.description, status: .cannotWrite) }
    do { try writeAtomically(bytes, to: path) } catch { throw Failure(message: error.description, status: .cannotWrite) }
}
