import CNN
import Data
import Distributed
import Imaging
import TensorBoard

/// Where `--tensorboard` writes, and the HParams session a grid search's configuration records.
public struct TensorBoardSettings: Sendable, Equatable {
    /// TensorBoard's `--logdir`: each run writes into its own directory below it.
    public var directory: String
    /// The run's directory below `directory`; nil for the run's id.
    public var runName: String?
    /// The hyperparameters of this run as a session of a search's HParams experiment; nil for a
    /// run that is no such session.
    public var session: [String: HyperparameterValue]?

    public init(directory: String, runName: String? = nil, session: [String: HyperparameterValue]? = nil) {
        self.directory = directory
        self.runName = runName
        self.session = session
    }

    /// Refuses a run name that is not one directory below `--tensorboard`.
    public static func check(runName: String) throws(TrainingError) {
        guard !runName.isEmpty, !runName.contains("/"), runName != ".", runName != ".." else {
            throw .invalidOption("--run-name must name one directory (no \"/\", not \".\" or \"..\"), got \"\(runName)\"")
        }
    }
}

/// The TensorBoard tags of a run, named once for the writer, the tests and the docs.
public enum TensorBoardTag {
    public static let trainLoss = "train/loss"
    public static let learningRate = "train/learning_rate"
    public static let samplesPerSecond = "train/samples_per_second"
    public static func accuracy(_ set: String) -> String { "\(set)/accuracy" }
    public static func loss(_ set: String) -> String { "\(set)/loss" }
    public static func f1(_ set: String, className: String) -> String { "\(set)/f1/\(className)" }
    public static func predictions(_ set: String) -> String { "\(set)/predictions" }
    public static func confusionMatrix(_ set: String) -> String { "\(set)/confusion_matrix" }
    public static func parameters(_ tensor: String) -> String { "parameters/\(tensor)" }
    /// A part of the time split (`all-reduce` as `time/all_reduce_seconds`, as the metrics file spells it).
    public static func time(_ part: String) -> String { "time/\(part.replacingOccurrences(of: "-", with: "_"))_seconds" }
    public static let wallSeconds = time("wall")
}

/// Rank 0's TensorBoard record of one run (`--tensorboard`): what the metrics file holds and
/// more, as event files TensorBoard reads live. Any write that fails stops the run as a failing
/// metrics file does.
final class TensorBoardLog {
    private let writer: SummaryWriter
    private let classNames: [String]
    /// Whether this run is a session of a search's HParams experiment.
    private let isSession: Bool
    /// The images whose predictions each evaluation draws, and the set they come from.
    private let gridImages: (samples: LabeledImages, setName: String)?
    /// How many images the prediction grid shows.
    static let gridImageCount = 32

    /// Opens a new event file in the run's directory; a resumed run (`startStep` > 0) marks its
    /// restart, so that the steps its predecessor logged after the checkpoint are dropped.
    init(
        settings: TensorBoardSettings, runID: RunID, startStep: Int, classNames: [String],
        gridImages: (samples: LabeledImages, setName: String)?
    ) throws(TrainingError) {
        do throws(EventFileError) {
            writer = try SummaryWriter(
                directory: settings.directory + "/" + (settings.runName ?? runID.description), host: hostName())
            // The checkpoint's own step keeps its records: they describe the state resumed from.
            if startStep > 0 { try writer.restart(atStep: startStep + 1) }
            if let session = settings.session, startStep == 0 { try writer.hyperparameterSessionStart(session) }
        } catch {
            throw .tensorBoard(error)
        }
        self.classNames = classNames
        isSession = settings.session != nil
        self.gridImages = gridImages
    }

    var runDirectory: String { writer.directory }

    /// The run's description, as text: configuration, network (`model`), kernel path, world and hosts.
    func describe(
        configuration: TrainingConfiguration, model: ModelPlan, kernelPath: String, hosts: [String], step: Int
    ) throws(TrainingError) {
        let network = ["`\(model.resolvedSpec.description)`", "", "| tensor | shape | parameters |", "| --- | --- | --- |"]
            + model.modelDescription.tensors.map {
                "| \($0.name) | \($0.shape.map(String.init).joined(separator: "×")) | \(grouped($0.range.count)) |"
            }
            + ["", "\(grouped(model.parameterCount)) parameters in all"]
        let hostList = hosts.enumerated().map { "- rank \($0.offset): \($0.element)" }
        try record { () throws(EventFileError) in
            try writer.text("run/configuration", markdown: "```json\n\(configuration.json)\n```", step: step)
            try writer.text("run/network", markdown: network.joined(separator: "\n"), step: step)
            try writer.text("run/kernel_path", markdown: kernelPath, step: step)
            try writer.text("run/world_size", markdown: String(hosts.count), step: step)
            try writer.text("run/hosts", markdown: hostList.joined(separator: "\n"), step: step)
        }
    }

    /// A logged step, with the values its metrics record holds.
    func step(_ step: Int, loss: Double, learningRate: Float, samplesPerSecond: Double) throws(TrainingError) {
        try record { () throws(EventFileError) in
            try writer.scalars([
                (TensorBoardTag.trainLoss, loss), (TensorBoardTag.learningRate, Double(learningRate)),
                (TensorBoardTag.samplesPerSecond, samplesPerSecond),
            ], step: step)
        }
    }

    /// An evaluation: each set's accuracy, loss and per-class F1, the distributions of `model`'s
    /// `parameters`, and the grid of the model's answers.
    func evaluation(_ evaluations: Evaluations, model: ModelPlan, parameters: [Float], step: Int) throws(TrainingError) {
        let grid = gridImages.map {
            predictionGrid(of: $0.samples, setName: $0.setName, model: model, parameters: parameters, step: step)
        }
        try record { () throws(EventFileError) in
            for report in evaluations.all {
                let name = report.setName
                try writer.scalars(
                    [(TensorBoardTag.accuracy(name), report.accuracy), (TensorBoardTag.loss(name), report.meanLoss)]
                        + report.classNames.indices.map { (TensorBoardTag.f1(name, className: report.classNames[$0]), report.f1($0)) },
                    step: step)
            }
            for tensor in model.modelDescription.tensors {
                try writer.histogram(TensorBoardTag.parameters(tensor.name), values: parameters[tensor.range], step: step)
            }
            if let grid, let name = gridImages?.setName {
                try write(image: grid, tag: TensorBoardTag.predictions(name), step: step)
            }
        }
    }

    /// The end of the run: where the time went, the confusion matrix of the last evaluation,
    /// and for a search's configuration the end of its session.
    func finish(summary: TrainingSummary, step: Int) throws(TrainingError) {
        try record { () throws(EventFileError) in
            try writer.scalars(
                summary.times.parts.map { (TensorBoardTag.time($0.name), $0.seconds) }
                    + [(TensorBoardTag.wallSeconds, summary.wallSeconds)],
                step: step)
            if let report = summary.testReport ?? summary.validationReport {
                let title = "\(report.setName): confusion matrix at step \(step), accuracy \(fixed(report.accuracy * 100, 2)) %"
                let map = ConfusionHeatMap(classNames: report.classNames, counts: report.confusion, title: title).render()
                try write(image: map, tag: TensorBoardTag.confusionMatrix(report.setName), step: step)
            }
            if isSession { try writer.hyperparameterSessionEnd(succeeded: summary.stopped == nil) }
        }
    }

    private func predictionGrid(
        of samples: LabeledImages, setName: String, model: ModelPlan, parameters: [Float], step: Int
    ) -> Bitmap {
        let indices = samples.firstIndex ..< samples.firstIndex + samples.count
        let probabilities = Classifier(model: model, parameters: parameters, batch: samples.count)
            .probabilities(of: indices.map { samples.image(at: $0).samples })
        let classified = zip(indices, probabilities).map { index, classes in
            let best = classes.indices.max { classes[$0] < classes[$1] }!
            return ClassifiedImage(
                image: samples.image(at: index), truth: Int(samples.labels[index - samples.firstIndex]),
                prediction: (best, classes[best]))
        }
        let title = "\(setName) images \(indices.lowerBound)-\(indices.upperBound - 1) at step \(step)"
        return ImageGrid(title: title).render(classified, classNames: classNames)
    }

    private func write(image: Bitmap, tag: String, step: Int) throws(EventFileError) {
        let png: [UInt8]
        do { png = try PNG.encode(image, for: writer.path) } catch {
            throw EventFileError(path: writer.path, reason: "cannot encode \(tag) as PNG: \(error.reason)")
        }
        try writer.image(tag, png: png, width: image.width, height: image.height, channels: image.channels, step: step)
    }

    private func record(_ body: () throws(EventFileError) -> Void) throws(TrainingError) {
        do throws(EventFileError) { try body() } catch { throw .tensorBoard(error) }
    }
}
