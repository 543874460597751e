/// How well a model classifies a labelled set: accuracy, mean loss, and per class the
/// confusion-matrix counts with precision, recall and F1.
public struct ClassificationReport: Sendable, Equatable {
    public let classCount: Int
    /// The set scored, as the report names it: "test", "validation".
    public let setName: String
    /// The name of each class, by label, as reports show them.
    public let classNames: [String]
    /// `confusion[truth][predicted]` counts samples.
    public private(set) var confusion: [[Int]]
    public private(set) var lossSum = 0.0

    /// A report naming each class by its label's number.
    public init(classCount: Int, setName: String) {
        self.init(classNames: (0 ..< classCount).map(String.init), setName: setName)
    }

    public init(classNames: [String], setName: String) {
        self.classNames = classNames
        self.setName = setName
        classCount = classNames.count
        confusion = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// Counts `times` samples of class `truth` predicted as `predicted`.
    public mutating func record(truth: Int, predicted: Int, times: Int = 1) {
        confusion[truth][predicted] += times
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
        let nameWidth = max(5, classNames.map(\.count).max() ?? 0)
        var lines = [pad("class", nameWidth) + "  precision  recall  f1      support"]
        for label in 0..<classCount {
            lines.append(
                pad(classNames[label], nameWidth) + "  " + pad(fixed(precision(label), 4), 9) + "  "
                    + pad(fixed(recall(label), 4), 6) + "  " + pad(fixed(f1(label), 4), 6) + "  "
                    + pad(String(confusion[label].reduce(0, +)), 7))
        }
        lines.append("")
        lines.append("confusion matrix (rows: true class, columns: predicted class)")
        // Columns by number; rows by number and, where the names are more than numbers, name.
        let named = classNames != (0 ..< classCount).map(String.init)
        let rowWidth = named ? 4 + nameWidth : 3
        func rowLabel(_ label: Int) -> String {
            named ? pad(String(label), 2) + "  " + classNames[label] + String(repeating: " ", count: nameWidth - classNames[label].count)
                : pad(String(label), 3)
        }
        lines.append(String(repeating: " ", count: rowWidth + 2) + (0..<classCount).map { pad(String($0), 5) }.joined())
        for label in 0..<classCount {
            lines.append(rowLabel(label) + "  " + confusion[label].map { pad(String($0), 5) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
