/// How well a model classifies a labelled set: accuracy, mean loss, and per class the
/// confusion-matrix counts with precision, recall and F1.
public struct ClassificationReport: Sendable, Equatable {
    public let classCount: Int
    /// The set scored, as the report names it: "test", "validation".
    public let setName: String
    /// `confusion[truth][predicted]` counts samples.
    public private(set) var confusion: [[Int]]
    public private(set) var lossSum = 0.0

    public init(classCount: Int, setName: String) {
        self.classCount = classCount
        self.setName = setName
        confusion = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    public mutating func record(truth: Int, predicted: Int) {
        confusion[truth][predicted] += 1
    }

    public mutating func addLoss(_ loss: Double) {
        lossSum += loss
    }

    public var sampleCount: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correctCount: Int { (0..<classCount).reduce(0) { $0 + confusion[$1][$1] } }
    public var accuracy: Double { sampleCount == 0 ? 0 : Double(correctCount) / Double(sampleCount) }
    public var meanLoss: Double { sampleCount == 0 ? 0 : lossSum / Double(sampleCount) }

    /// Of the samples predicted as `label`, the share that are `label`.
    public func precision(_ label: Int) -> Double {
        let predicted = (0..<classCount).reduce(0) { $0 + confusion[$1][label] }
        return predicted == 0 ? 0 : Double(confusion[label][label]) / Double(predicted)
    }

    /// Of the samples that are `label`, the share predicted as `label`.
    public func recall(_ label: Int) -> Double {
        let actual = confusion[label].reduce(0, +)
        return actual == 0 ? 0 : Double(confusion[label][label]) / Double(actual)
    }

    public func f1(_ label: Int) -> Double {
        let p = precision(label), r = recall(label)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Accuracy and loss in one line.
    public var summaryLine: String {
        "\(setName) accuracy \(fixed(accuracy * 100, 2))%  \(setName) loss \(fixed(meanLoss, 4))  (\(grouped(sampleCount)) images)"
    }

    /// The per-class table and the confusion matrix, as printed at the end of training.
    public var formatted: String {
        var lines = ["class  precision  recall  f1      support"]
        for label in 0..<classCount {
            lines.append(
                pad(String(label), 5) + "  " + pad(fixed(precision(label), 4), 9) + "  "
                    + pad(fixed(recall(label), 4), 6) + "  " + pad(fixed(f1(label), 4), 6) + "  "
                    + pad(String(confusion[label].reduce(0, +)), 7))
        }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted class)")
        lines.append("     " + (0..<classCount).map { pad(String($0), 5) }.joined())
        for label in 0..<classCount {
            lines.append(pad(String(label), 3) + "  " + confusion[label].map { pad(String($0), 5) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
