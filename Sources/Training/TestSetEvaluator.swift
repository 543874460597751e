import CNN
import Data

/// Scores a model on a labelled set, in batches of the model's own size, into a report.
public final class TestSetEvaluator {
    public let samples: LabeledImages
    private let images: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<Int32>
    private let predictions: UnsafeMutablePointer<Int32>
    private let batch: Int

    public init(samples: LabeledImages, batch: Int) {
        self.samples = samples
        self.batch = batch
        images = .allocate(capacity: batch * samples.pixelsPerImage)
        labels = .allocate(capacity: batch)
        predictions = .allocate(capacity: batch)
    }

    deinit {
        images.deallocate()
        labels.deallocate()
        predictions.deallocate()
    }

    /// Accuracy, mean loss and per-class figures of `model` on every sample held.
    public func evaluate(_ model: SeedCNN) -> ClassificationReport {
        precondition(model.maxBatch >= batch, "the model takes \(model.maxBatch) samples at once, not \(batch)")
        var report = ClassificationReport(classCount: SeedCNN.classCount)
        var first = 0
        while first < samples.count {
            let count = min(batch, samples.count - first)
            samples.fillBatch(images: images, labels: labels, positions: first..<first + count)
            let evaluation = model.evaluate(images: images, labels: labels, count: count, predictions: predictions)
            report.addLoss(evaluation.lossSum)
            for index in 0..<count {
                report.record(truth: Int(labels[index]), predicted: Int(predictions[index]))
            }
            first += count
        }
        return report
    }
}
