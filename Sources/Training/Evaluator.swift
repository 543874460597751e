import CNN
import Data

/// A labelled set a model is scored on, read a batch at a time.
public protocol EvaluationSet {
    /// How reports call the set: "test", "validation".
    var name: String { get }
    /// Where the set comes from (its directory), for errors.
    var location: String { get }
    /// Passes every sample to `body` in order, at most `batchSize` at a time: samples `positions`
    /// of `samples`.
    func forEachBatch(of batchSize: Int, _ body: (_ samples: LabeledImages, _ positions: Range<Int>) -> Void) throws(IDXError)
}

/// The MNIST test set, streamed from its files a batch at a time, so rank 0 never holds the
/// 7.8 MB of test images beside its shard of the training set.
public struct MNISTTestSet: EvaluationSet {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var name: String { "test" }
    public var location: String { directory }

    public func forEachBatch(of batchSize: Int, _ body: (LabeledImages, Range<Int>) -> Void) throws(IDXError) {
        try MNISTDataset.stream(.test, from: directory, batchSize: batchSize) { body($0, 0 ..< $0.count) }
    }
}

/// Samples already in memory, such as the validation split held out of the training set.
public struct HeldOutSet: EvaluationSet {
    public let samples: LabeledImages
    public let name: String
    public let location: String

    public init(_ samples: LabeledImages, name: String, location: String) {
        self.samples = samples
        self.name = name
        self.location = location
    }

    public func forEachBatch(of batchSize: Int, _ body: (LabeledImages, Range<Int>) -> Void) {
        for start in stride(from: 0, to: samples.count, by: batchSize) {
            body(samples, start ..< min(start + batchSize, samples.count))
        }
    }
}

/// Scores a model on any labelled set, `batch` samples at a time, with buffers allocated once.
/// Images go in as they are: no training-time transform ever touches them.
public final class Evaluator {
    public let model: ModelDescription
    /// How reports name each class.
    public let classNames: [String]
    private let batch: Int
    private let images: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<Int32>
    private let predictions: UnsafeMutablePointer<Int32>

    /// An evaluator for models described by `model`, `batch` images at a time (at most the
    /// network's `maxBatch`), naming the classes `classNames` (by default their numbers).
    public init(model: ModelDescription, batch: Int, classNames: [String]? = nil) {
        self.model = model
        self.classNames = classNames ?? (0 ..< model.classCount).map(String.init)
        self.batch = batch
        images = .allocate(capacity: batch * model.inputSize)
        labels = .allocate(capacity: batch)
        predictions = .allocate(capacity: batch)
    }

    deinit {
        images.deallocate()
        labels.deallocate()
        predictions.deallocate()
    }

    /// Accuracy, mean loss and per-class figures of `network` on every sample of `set`.
    public func evaluate(_ network: Network, on set: some EvaluationSet) throws(TrainingError) -> ClassificationReport {
        precondition(network.maxBatch >= batch, "the network takes \(network.maxBatch) samples at once, not \(batch)")
        var report = ClassificationReport(classNames: classNames, setName: set.name)
        var wrongSize: (rows: Int, columns: Int)?
        try dataError { () throws(IDXError) in
            try set.forEachBatch(of: batch) { samples, positions in
                guard samples.rows == model.inputShape[1] && samples.columns == model.inputShape[2] else {
                    wrongSize = (samples.rows, samples.columns)
                    return
                }
                samples.fillBatch(images: images, labels: labels, positions: positions)
                let evaluation = network.evaluate(
                    images: images, labels: labels, count: positions.count, predictions: predictions)
                report.addLoss(evaluation.lossSum)
                for index in 0 ..< positions.count {
                    report.record(truth: Int(labels[index]), predicted: Int(predictions[index]))
                }
            }
        }
        if let wrongSize {
            throw .wrongImageSize(directory: set.location, rows: wrongSize.rows, columns: wrongSize.columns)
        }
        return report
    }
}
