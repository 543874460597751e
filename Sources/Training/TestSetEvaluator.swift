import CNN
import Data

/// Scores a model on the MNIST test set, streamed from its files a batch at a time, so rank 0
/// never holds the 7.8 MB of test images beside its shard of the training set.
public final class TestSetEvaluator {
    public let directory: String
    private let batch: Int
    private let images: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<Int32>
    private let predictions: UnsafeMutablePointer<Int32>

    /// An evaluator reading the test set in `directory`, `batch` images at a time (at most the
    /// model's `maxBatch`).
    public init(directory: String, batch: Int) {
        self.directory = directory
        self.batch = batch
        let pixels = SeedCNN.imageSide * SeedCNN.imageSide
        images = .allocate(capacity: batch * pixels)
        labels = .allocate(capacity: batch)
        predictions = .allocate(capacity: batch)
    }

    deinit {
        images.deallocate()
        labels.deallocate()
        predictions.deallocate()
    }

    /// Accuracy, mean loss and per-class figures of `model` on every test sample.
    public func evaluate(_ model: SeedCNN) throws(TrainingError) -> ClassificationReport {
        precondition(model.maxBatch >= batch, "the model takes \(model.maxBatch) samples at once, not \(batch)")
        var report = ClassificationReport(classCount: SeedCNN.classCount)
        var wrongSize: (rows: Int, columns: Int)?
        try dataError { () throws(IDXError) in
            try MNISTDataset.stream(.test, from: directory, batchSize: batch) { samples in
                guard samples.rows == SeedCNN.imageSide && samples.columns == SeedCNN.imageSide else {
                    wrongSize = (samples.rows, samples.columns)
                    return
                }
                samples.fillBatch(images: images, labels: labels, positions: 0 ..< samples.count)
                let evaluation = model.evaluate(
                    images: images, labels: labels, count: samples.count, predictions: predictions)
                report.addLoss(evaluation.lossSum)
                for index in 0 ..< samples.count {
                    report.record(truth: Int(labels[index]), predicted: Int(predictions[index]))
                }
            }
        }
        if let wrongSize {
            throw .wrongImageSize(directory: directory, rows: wrongSize.rows, columns: wrongSize.columns)
        }
        return report
    }
}
