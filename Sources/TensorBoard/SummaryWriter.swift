import Foundation
import SwiftProtobuf

/// Writes TensorBoard's summaries of one run into a new event file of the run's directory:
/// scalars, PNG images, histograms, Markdown text, and the HParams plugin's records. Knows
/// nothing of what is being trained.
public final class SummaryWriter {
    private let file: EventFile
    /// The run's directory, as TensorBoard's run list names it below its `--logdir`.
    public let directory: String
    public var path: String { file.path }

    /// Opens a new event file in `directory` (made if missing) and writes its version record.
    public init(directory: String, host: String) throws(EventFileError) {
        self.directory = directory
        file = try EventFile(directory: directory, host: host)
        var version = Tensorboard_Event()
        version.fileVersion = "brain.Event:2"
        try write(version, step: 0)
    }

    /// Marks a restart at `step`: TensorBoard's reader drops the records of `step` and later
    /// that earlier files hold, which a run that went on past its last checkpoint wrote before
    /// it was stopped, so that a resumed run shows each step once.
    public func restart(atStep step: Int) throws(EventFileError) {
        var event = Tensorboard_Event()
        event.sessionLog.status = .start
        try write(event, step: step)
    }

    /// Scalars at `step`, one record for all.
    public func scalars(_ values: [(tag: String, value: Double)], step: Int) throws(EventFileError) {
        try write(values.map { tag, value in
            var entry = Tensorboard_Summary.Value()
            entry.tag = tag
            entry.simpleValue = Float(value)
            return entry
        }, step: step)
    }

    /// A PNG image of `width` × `height` pixels with `channels` colour channels.
    public func image(_ tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int) throws(EventFileError) {
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.image.encodedImageString = Data(png)
        entry.image.width = Int32(width)
        entry.image.height = Int32(height)
        entry.image.colorspace = Int32(channels)
        try write([entry], step: step)
    }

    /// The distribution of `values` in `buckets` buckets of equal width from the least value to
    /// the greatest.
    public func histogram(_ tag: String, values: some Collection<Float>, buckets: Int = 30, step: Int) throws(EventFileError) {
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.histo = Self.histogram(of: values, buckets: buckets)
        try write([entry], step: step)
    }

    /// Markdown shown by the Text tab.
    public func text(_ tag: String, markdown: String, step: Int) throws(EventFileError) {
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.metadata.pluginData.pluginName = "text"
        entry.tensor.dtype = .dtString
        entry.tensor.stringVal = [Data(markdown.utf8)]
        try write([entry], step: step)
    }

    /// The HParams plugin's definition of an experiment: the hyperparameters its sessions vary
    /// and the scalar tags that score them. Written once, in the directory above the sessions'.
    public func hyperparameterExperiment(_ hyperparameters: [Hyperparameter], metrics: [Metric]) throws(EventFileError) {
        var experiment = Tensorboard_Hparams_Experiment()
        experiment.timeCreatedSecs = wallTime()
        experiment.hparamInfos = hyperparameters.map(\.info)
        experiment.metricInfos = metrics.map(\.info)
        var data = Tensorboard_Hparams_HParamsPluginData()
        data.experiment = experiment
        try write(hyperparameterRecord: data, tag: "_hparams_/experiment")
    }

    /// The start of one session of an experiment (this run), with its hyperparameters' values.
    public func hyperparameterSessionStart(_ values: [String: HyperparameterValue]) throws(EventFileError) {
        var start = Tensorboard_Hparams_SessionStartInfo()
        start.startTimeSecs = wallTime()
        start.hparams = values.mapValues(\.protobufValue)
        var data = Tensorboard_Hparams_HParamsPluginData()
        data.sessionStartInfo = start
        try write(hyperparameterRecord: data, tag: "_hparams_/session_start_info")
    }

    /// The end of this run's session: whether it succeeded.
    public func hyperparameterSessionEnd(succeeded: Bool) throws(EventFileError) {
        var end = Tensorboard_Hparams_SessionEndInfo()
        end.status = succeeded ? .success : .failure
        end.endTimeSecs = wallTime()
        var data = Tensorboard_Hparams_HParamsPluginData()
        data.sessionEndInfo = end
        try write(hyperparameterRecord: data, tag: "_hparams_/session_end_info")
    }

    private func write(hyperparameterRecord data: Tensorboard_Hparams_HParamsPluginData, tag: String) throws(EventFileError) {
        var entry = Tensorboard_Summary.Value()
        entry.tag = tag
        entry.metadata.pluginData.pluginName = "hparams"
        entry.metadata.pluginData.content = Self.serialized(data)
        // The empty float tensor the plugin's own writer gives its records.
        entry.tensor.dtype = .dtFloat
        var dimension = Tensorboard_TensorShapeProto.Dim()
        dimension.size = 0
        entry.tensor.tensorShape.dim = [dimension]
        try write([entry], step: 0)
    }

    private func write(_ values: [Tensorboard_Summary.Value], step: Int) throws(EventFileError) {
        var event = Tensorboard_Event()
        event.summary.value = values
        try write(event, step: step)
    }

    private func write(_ event: Tensorboard_Event, step: Int) throws(EventFileError) {
        var event = event
        event.wallTime = wallTime()
        event.step = Int64(step)
        try file.append(Array(Self.serialized(event)))
    }

    /// The wire bytes of a message; ours always serialize (every field is set, none is required).
    private static func serialized(_ message: some SwiftProtobuf.Message) -> Data {
        try! message.serializedBytes()
    }

    static func histogram(of values: some Collection<Float>, buckets: Int) -> Tensorboard_HistogramProto {
        var histogram = Tensorboard_HistogramProto()
        guard let least = values.min(), let greatest = values.max() else { return histogram }
        histogram.min = Double(least)
        histogram.max = Double(greatest)
        histogram.num = Double(values.count)
        histogram.sum = values.reduce(0) { $0 + Double($1) }
        histogram.sumSquares = values.reduce(0) { $0 + Double($1) * Double($1) }
        let width = (Double(greatest) - Double(least)) / Double(buckets)
        guard width > 0 else {
            histogram.bucketLimit = [Double(greatest)]
            histogram.bucket = [Double(values.count)]
            return histogram
        }
        var counts = [Double](repeating: 0, count: buckets)
        for value in values {
            counts[min(Int((Double(value) - Double(least)) / width), buckets - 1)] += 1
        }
        histogram.bucketLimit = (1 ... buckets).map { Double(least) + Double($0) * width }
        histogram.bucket = counts
        return histogram
    }
}

/// A hyperparameter an experiment varies, and the values it takes.
public struct Hyperparameter: Sendable {
    public let name: String
    public let values: [HyperparameterValue]

    public init(name: String, values: [HyperparameterValue]) {
        self.name = name
        self.values = values
    }

    var info: Tensorboard_Hparams_HParamInfo {
        var info = Tensorboard_Hparams_HParamInfo()
        info.name = name
        info.type = switch values.first {
        case .number: .float64
        case .text: .string
        case .boolean: .bool
        case nil: .unset
        }
        info.domainDiscrete.values = values.map(\.protobufValue)
        return info
    }
}

/// One value of a hyperparameter.
public enum HyperparameterValue: Sendable, Equatable {
    case number(Double)
    case text(String)
    case boolean(Bool)

    var protobufValue: Google_Protobuf_Value {
        switch self {
        case .number(let number): Google_Protobuf_Value(numberValue: number)
        case .text(let text): Google_Protobuf_Value(stringValue: text)
        case .boolean(let flag): Google_Protobuf_Value(boolValue: flag)
        }
    }
}

/// A scalar tag that scores an experiment's sessions, as the HParams table shows it.
public struct Metric: Sendable {
    public let tag: String
    public let displayName: String

    public init(tag: String, displayName: String) {
        self.tag = tag
        self.displayName = displayName
    }

    var info: Tensorboard_Hparams_MetricInfo {
        var info = Tensorboard_Hparams_MetricInfo()
        info.name.tag = tag
        info.displayName = displayName
        return info
    }
}
