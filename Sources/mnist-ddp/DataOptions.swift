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

extension ClassSelection: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension ImageSize: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

/// What a command's `--dataset` and `--classes` are when they are not given, said in their help.
protocol DatasetDefault {
    static var help: String { get }
    static var classesDefault: String { get }
    /// An image folder's channels without --channels, and its size without --image-size.
    static var channelsDefault: String { get }
    static var imageSizeDefault: String { get }
    /// The dataset without --dataset (and no image folder in --data-dir); nil when a checkpoint says.
    static var fallback: Dataset? { get }
}

/// `train` and `search`: MNIST.
enum DefaultsToMNIST: DatasetDefault {
    static var help: String {
        "The data: mnist, fashion-mnist (Debian's dataset-fashion-mnist), idx (IDX files of MNIST's names in --data-dir, of any image size, whose classes are 1 + their largest label), or folder (PNG images in --data-dir's train/CLASS/ and test/CLASS/ folders; recognised without this option when --data-dir has a train folder). Default: mnist."
    }
    static var classesDefault: String { "all" }
    static var channelsDefault: String { "the first training image's (grey: 1, colour: 3)" }
    static var imageSizeDefault: String { "the first training image's, which every image must then have" }
    static var fallback: Dataset? { .mnist }
}

/// `evaluate`, `predict` and `show`: the dataset the checkpoint was trained on.
enum DefaultsToCheckpoint: DatasetDefault {
    static var help: String {
        "mnist, fashion-mnist, idx or folder, whose class names to use; refused if the checkpoint was trained on another. Default: the checkpoint's dataset (folder when --data-dir has a train folder; mnist for a weights-only file, or without one)."
    }
    static var classesDefault: String { "the checkpoint's (all for a weights-only file)" }
    static var channelsDefault: String { "the model's input's (without --checkpoint, the first training image's: grey 1, colour 3)" }
    static var imageSizeDefault: String { "the model's input's (without --checkpoint, the first training image's, which every image must then have)" }
    static var fallback: Dataset? { nil }
}

/// `--dataset`, alone where no data is read (`predict` takes only the class names).
struct DatasetOption<Default: DatasetDefault>: ParsableArguments {
    @Option(help: ArgumentHelp(Default.help))
    var dataset: Dataset?
}

/// `--dataset`, `--data-dir` and how to read the images: the data a command reads.
struct DataOptions<Default: DatasetDefault>: ParsableArguments {
    @OptionGroup var named: DatasetOption<Default>

    @Option(help: "Directory of the IDX files (.gz or raw), or of an image folder's train and test folders. Default: the dataset's own (mnist: $\(DataDirectory.environmentVariable), else \(DataDirectory.defaultPath); idx and folder have none).")
    var dataDir: String?

    @Option(help: ArgumentHelp(
        "Keep only these classes, relabelled 0, 1, … in the order given: class names, label numbers or ranges of them (0-4; 5,7,9; Sandal,Sneaker,\"Ankle boot\"). Default: \(Default.classesDefault).",
        valueName: "list"))
    var classes: ClassSelection?

    @Option(help: "An image folder's images as 1 (grey) or 3 (RGB) channels, converted as PIL's convert(\"L\") and convert(\"RGB\") do (alpha dropped). Default: \(Default.channelsDefault).")
    var channels: Int?

    @Option(help: ArgumentHelp(
        "Resize every image of an image folder to rows x columns, by area averaging (each output pixel the mean of the source area it covers, as TensorFlow's resize method \"area\"), each channel apart, rounded to the nearest byte. Default: \(Default.imageSizeDefault).",
        valueName: "HxW"))
    var imageSize: ImageSize?

    /// The dataset given, or the image folder whose layout --data-dir has; nil when neither says.
    var dataset: Dataset? { named.dataset ?? dataDir.flatMap(Dataset.detected(in:)) }

    /// How the images are read.
    var imageOptions: ImageSetOptions { ImageSetOptions(classes: classes, channels: channels, imageSize: imageSize) }

    /// What can be checked without reading a file: image-folder options on IDX data, a dataset
    /// without a place of its own given no directory, and classes a named dataset does not have.
    func validate() throws {
        if let channels, !ImageSetOptions.channelCounts.contains(channels) {
            throw ValidationError("--channels must be 1 (grey) or 3 (RGB), got \(channels)")
        }
        guard let dataset = dataset ?? Default.fallback else { return }
        if dataset.defaultDirectory.isEmpty && dataDir == nil {
            let files = dataset.isImageFolder ? "the folder holding train/ and test/" : "the directory of its IDX files"
            throw ValidationError("--dataset \(dataset.name) needs --data-dir, \(files)")
        }
        if dataset.isImageFolder { return }
        if let option = [(channels != nil, "--channels"), (imageSize != nil, "--image-size")].first(where: \.0)?.1 {
            throw ValidationError("\(option) reads image folders; \(dataset.name)'s IDX files hold single-channel images of the size their headers state")
        }
        // IDX files of any labels have the classes their labels say, known once they are read.
        if let classes, !dataset.classNames.isEmpty {
            do { _ = try classes.labels(among: dataset.classNames, of: dataset.name) } catch { throw ValidationError(error.description) }
        }
    }

    /// The directory of `dataset`'s files: --data-dir, else its own.
    func directory(of dataset: Dataset, environment: [String: String] = environmentVariables()) -> String {
        dataset.directory(option: dataDir, environment: environment)
    }
}

/// Saved weights and the dataset to use them on: `requested` if given (refused when the
/// checkpoint was trained on another), else the checkpoint's. A model of an image folder takes
/// its classes from the checkpoint; any other is refused where its network tells another number
/// of classes apart than its checkpoint's classes (a weights-only file: the dataset's, where it
/// names them).
func loadModel(_ checkpoint: String, dataset requested: Dataset?) throws -> (TrainedModel, Dataset) {
    do throws(TrainingError) {
        let model = try TrainedModel.load(checkpoint)
        let dataset = try model.dataset(requested: requested)
        guard !dataset.isImageFolder else { return (model, dataset) }
        // None for a weights-only file on data whose files name the classes: told once they are read.
        let classes = (model.classNames ?? dataset.classNames).count
        guard classes == 0 || model.model.classCount == classes else {
            let takes = "its network takes \(model.model.inputShape.map(String.init).joined(separator: "x")) images of \(model.model.classCount) classes"
            throw .incompatibleCheckpoint(path: model.path, reason: "\(takes), not \(dataset.name)'s \(classes) classes")
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
