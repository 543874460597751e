import CNN
import Data
import Distributed

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Model weights to classify with, and the dataset they were trained on where the file says.
public struct TrainedModel: Sendable {
    /// The file the weights came from.
    public let path: String
    /// In `ParameterLayout` order.
    public let parameters: [Float]
    /// The checkpoint's dataset; nil for a weights-only file (PyTorch's state_dict), which does
    /// not say.
    public let trainedOn: Dataset?
    /// The checkpoint's classes by label, after its run's `--classes`; nil for a weights-only
    /// file, or a checkpoint written before they were recorded.
    public let classNames: [String]?
    /// The samples of the training file the checkpoint's run trained on, the first of it: those
    /// after them it held out for validation. Nil for a weights-only file.
    public let trainingSamples: Int?

    /// Loads a checkpoint of ours, verified in full (checksum included); the newest checkpoint
    /// in a directory; or any safetensors file holding the model's six tensors.
    public static func load(_ pathOrDirectory: String) throws(TrainingError) -> TrainedModel {
        let path: String
        do { path = try CheckpointDirectory.resolveCheckpoint(pathOrDirectory) } catch { throw .checkpointDirectory(error) }
        let file = try CheckpointFormat.open(path)
        guard file.metadata["format"] == CheckpointFormat.formatName else {
            return TrainedModel(
                path: path, parameters: try CheckpointFormat.modelParameters(of: file), trainedOn: nil, classNames: nil,
                trainingSamples: nil)
        }
        let snapshot = try CheckpointFormat.decode(file)
        return TrainedModel(
            path: path, parameters: snapshot.parameters, trainedOn: try CheckpointFormat.dataset(of: file),
            classNames: try CheckpointFormat.classNames(of: file), trainingSamples: snapshot.trainingSamples)
    }

    /// The samples of a training file of `total` that the checkpoint's run held out for
    /// validation; nil when it held out none or the file does not say.
    public func validationSamples(ofTrainingFile total: Int) -> Range<Int>? {
        guard let trainingSamples, trainingSamples < total else { return nil }
        return trainingSamples ..< total
    }

    /// The dataset to work on: `requested` when given (refused if the checkpoint was trained on
    /// another), else the checkpoint's own, else MNIST.
    public func dataset(requested: Dataset?) throws(TrainingError) -> Dataset {
        if let requested, let trainedOn, requested != trainedOn {
            throw .datasetMismatch(path: path, trainedOn: trainedOn.name, requested: requested.name)
        }
        return requested ?? trainedOn ?? .mnist
    }

    /// `dataset` in `directory`, read as `options` say and, when they keep no classes, with the
    /// checkpoint's classes (those its run kept, relabelled alike); refused when its classes are
    /// not the checkpoint's.
    public func open(
        _ dataset: Dataset, directory: String, options: ImageSetOptions
    ) throws(TrainingError) -> any LabeledImageSet {
        var options = options
        if options.classes == nil, let classNames, classNames != dataset.classNames {
            options.classes = ClassSelection(items: classNames)
        }
        let data = try dataError { () throws(DataError) in try dataset.open(directory: directory, options: options) }
        if let classNames, classNames != data.classNames {
            throw .classesMismatch(path: path, trainedOn: classNames, requested: data.classNames)
        }
        return data
    }
}

extension TrainedModel {
    /// The model of `checkpoint` (read by every rank) and its report on the test set of the
    /// dataset it is used on (`requested`, else its own), in `dataDirectory(dataset)`, read as
    /// `options` say (`open`): every rank of `communicator` scores its slice and gets the whole
    /// report, the same figures as one process computes. Collective: an error on any rank stops
    /// every rank.
    public static func scoreOnTestSet(
        _ checkpoint: String, dataset requested: Dataset?, dataDirectory: (Dataset) -> String,
        options: ImageSetOptions = ImageSetOptions(), communicator: any Communicator
    ) throws(TrainingError) -> (model: TrainedModel, report: ClassificationReport) {
        let (model, testSet) = try communicator.collectively { () throws(TrainingError) in
            let model = try load(checkpoint)
            let dataset = try model.dataset(requested: requested)
            let data = try model.open(dataset, directory: dataDirectory(dataset), options: options)
            try requireModelFits(data)
            return (model, try dataError { () throws(DataError) in try TestSet(of: data) })
        }
        let report = try model.parameters.withUnsafeBufferPointer { parameters throws(TrainingError) in
            try Evaluator(classNames: testSet.data.classNames).evaluate(parameters: parameters, on: testSet, communicator: communicator)
        }
        return (model, report)
    }
}

/// The class probabilities a model gives 28×28 images.
public final class Classifier {
    private let model: Network
    private let inputs: UnsafeMutablePointer<Float>
    private static let pixels = Network.modelDescription.inputSize
    private static let classCount = Network.modelDescription.classCount

    public init(parameters: [Float], batch: Int = 100) {
        model = Network(maxBatch: batch)
        model.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: parameters) }
        inputs = .allocate(capacity: batch * Self.pixels)
    }

    deinit { inputs.deallocate() }

    /// For each image (784 bytes, row-major, 0 for background to 255 for full ink, scaled to
    /// byte/255 as in training), the softmax of the model's logits.
    public func probabilities(of images: [[UInt8]]) -> [[Double]] {
        var result: [[Double]] = []
        result.reserveCapacity(images.count)
        for first in stride(from: 0, to: images.count, by: model.maxBatch) {
            let batch = images[first ..< min(first + model.maxBatch, images.count)]
            for (slot, image) in batch.enumerated() {
                precondition(image.count == Self.pixels, "an image of \(image.count) bytes, not \(Self.pixels)")
                for pixel in 0 ..< Self.pixels { inputs[slot * Self.pixels + pixel] = Float(image[pixel]) / 255 }
            }
            model.forward(images: inputs, count: batch.count)
            for slot in 0 ..< batch.count {
                let logits = model.withUnsafeLogits { $0[slot * Self.classCount ..< (slot + 1) * Self.classCount].map(Double.init) }
                let largest = logits.max()!
                let exponentials = logits.map { exp($0 - largest) }
                let total = exponentials.reduce(0, +)
                result.append(exponentials.map { $0 / total })
            }
        }
        return result
    }
}
