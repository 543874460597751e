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
    /// The network, as the checkpoint records it (the seed network for a file that does not say).
    public let model: ModelPlan
    /// In the order of `model`'s tensors.
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

    /// Loads a checkpoint of ours, verified in full (checksum included), with the network it
    /// records (and class names, if it records them, as many as its network's outputs); the
    /// newest checkpoint in a directory; or any safetensors file holding the seed network's six
    /// tensors.
    public static func load(_ pathOrDirectory: String) throws(TrainingError) -> TrainedModel {
        let path: String
        do { path = try CheckpointDirectory.resolveCheckpoint(pathOrDirectory) } catch { throw .checkpointDirectory(error) }
        let file = try CheckpointFormat.open(path)
        guard file.metadata["format"] == CheckpointFormat.formatName else {
            let model = ParameterLayout.seedPlan
            return TrainedModel(
                path: path, model: model, parameters: try CheckpointFormat.weights(of: file, model: model), trainedOn: nil,
                classNames: nil, trainingSamples: nil)
        }
        let snapshot = try CheckpointFormat.decode(file)
        let classNames = try CheckpointFormat.classNames(of: file)
        if let classNames, classNames.count != snapshot.model.classCount {
            throw .incompatibleCheckpoint(
                path: path, reason: "its network tells \(snapshot.model.classCount) classes apart, but it names \(classNames.count)")
        }
        return TrainedModel(
            path: path, model: snapshot.model, parameters: snapshot.parameters, trainedOn: try CheckpointFormat.dataset(of: file),
            classNames: classNames, trainingSamples: snapshot.trainingSamples)
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
    /// not the checkpoint's. An image folder's images are read as the model takes them: in its
    /// input's channels and resized to its input's size, unless `options` say otherwise.
    public func open(
        _ dataset: Dataset, directory: String, options: ImageSetOptions
    ) throws(TrainingError) -> any LabeledImageSet {
        var options = options
        if options.classes == nil, let classNames, classNames != dataset.classNames {
            options.classes = ClassSelection(items: classNames)
        }
        if dataset.isImageFolder {
            let input = model.modelDescription.imageShape
            options.channels = options.channels ?? input.channels
            options.imageSize = options.imageSize ?? ImageSize(rows: input.rows, columns: input.columns)
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
            try requireModelFits(data, model: model.model.modelDescription)
            return (model, try dataError { () throws(DataError) in try TestSet(of: data) })
        }
        return (model, try model.report(on: testSet, classNames: testSet.data.classNames, communicator: communicator))
    }

    /// The model's report on `set`, whose classes are `classNames`: its network built from its
    /// plan, its weights loaded, every rank of `communicator` scoring its slice. Collective.
    /// Refuses a model that tells another number of classes apart than the set has.
    public func report(
        on set: some EvaluationSet, classNames: [String], communicator: any Communicator
    ) throws(TrainingError) -> ClassificationReport {
        guard model.classCount == classNames.count else {
            throw .incompatibleCheckpoint(
                path: path, reason: "its network tells \(model.classCount) classes apart, the \(set.name) set has \(classNames.count)")
        }
        return try parameters.withUnsafeBufferPointer { parameters throws(TrainingError) in
            try Evaluator(model: model, classNames: classNames).evaluate(parameters: parameters, on: set, communicator: communicator)
        }
    }
}

/// The class probabilities a model gives images of its input shape.
public final class Classifier {
    private let model: any TrainableNetwork
    private let inputs: UnsafeMutablePointer<Float>
    private let pixels: Int
    private let classCount: Int

    /// The network planned as `model`, with `parameters` (in the order of its tensors), taking
    /// images `batch` at a time.
    public init(model plan: ModelPlan, parameters: [Float], batch: Int = 100) {
        model = plan.makeNetwork(maxBatch: batch)
        model.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: parameters) }
        pixels = plan.modelDescription.inputSize
        classCount = plan.classCount
        inputs = .allocate(capacity: batch * pixels)
    }

    /// The classifier of a trained model.
    public convenience init(_ trained: TrainedModel, batch: Int = 100) {
        self.init(model: trained.model, parameters: trained.parameters, batch: batch)
    }

    deinit { inputs.deallocate() }

    /// For each image (the model's input size in bytes, 784 for 1×28×28: channel planes, each
    /// row-major, 0 for background to 255 for full ink, scaled to byte/255 as in training), the
    /// softmax of the model's logits.
    public func probabilities(of images: [[UInt8]]) -> [[Double]] {
        var result: [[Double]] = []
        result.reserveCapacity(images.count)
        for first in stride(from: 0, to: images.count, by: model.maxBatch) {
            let batch = images[first ..< min(first + model.maxBatch, images.count)]
            for (slot, image) in batch.enumerated() {
                precondition(image.count == pixels, "an image of \(image.count) bytes, not \(pixels)")
                for pixel in 0 ..< pixels { inputs[slot * pixels + pixel] = Float(image[pixel]) / 255 }
            }
            model.forward(images: inputs, count: batch.count)
            for slot in 0 ..< batch.count {
                let logits = model.withUnsafeLogits { $0[slot * classCount ..< (slot + 1) * classCount].map(Double.init) }
                let largest = logits.max()!
                let exponentials = logits.map { exp($0 - largest) }
                let total = exponentials.reduce(0, +)
                result.append(exponentials.map { $0 / total })
            }
        }
        return result
    }
}
