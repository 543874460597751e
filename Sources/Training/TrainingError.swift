import CNN
import Data
import SafeTensors
import TensorBoard

/// Why training or evaluation stopped. Each description is one line naming what is at fault.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case invalidOption(String)
    case data(DataError)
    /// The images in `directory` are not of the shape the model takes.
    case wrongImageSize(directory: String, shape: ImageShape, modelInput: ImageShape)
    /// The data in `directory` has another number of classes than the model has outputs.
    case wrongClassCount(directory: String, classes: Int, modelOutputs: Int)
    /// `--model` (or the seed network, by default) does not fit the data: its input shape or
    /// class count, or its bounds for the batch. Known only once the data's header is read, and
    /// alike on every rank; a usage error (64), since another `--model` runs on this data, so
    /// the healing launcher never retries it.
    case modelDoesNotFit(ModelSpecError, inputShape: [Int], classCount: Int)
    case checkpointFile(SafeTensorsError)
    case checkpointDirectory(CheckpointDirectoryError)
    case checkpointWrite(AtomicWriteError)
    /// A file that is valid safetensors but not a checkpoint or model of ours.
    case incompatibleCheckpoint(path: String, reason: String)
    /// A checkpoint used with another dataset than the one it was trained on.
    case datasetMismatch(path: String, trainedOn: String, requested: String)
    /// A checkpoint used with other classes (`--classes`) than it was trained on.
    case classesMismatch(path: String, trainedOn: [String], requested: [String])
    /// A rank of a job read other data in `location` than rank 0 did: `here` and `rankZero` say
    /// what differs (the image shape, the classes, or the samples of a split).
    case dataDiffersFromRankZero(location: String, here: String, rankZero: String)
    case metricsFile(path: String, reason: String)
    case tensorBoard(EventFileError)
    /// Training blew up at `step`: `symptom` says how (the loss, or the parameters).
    case diverged(step: Int, epoch: Int, symptom: String)
    case parametersDiverged(step: Int)
    /// An error that happened on `rank` (on `host`) and was shared with every rank so all can
    /// stop together, with the exit status it has there, so that every rank exits with it.
    case failedOnRank(Int, host: String, String, status: ExitStatus)

    public var description: String {
        switch self {
        case .invalidOption(let message): message
        case .data(let error): error.description
        case .wrongImageSize(let directory, let shape, let modelInput):
            "\(directory): images are \(shape), the model takes \(modelInput)"
        case .wrongClassCount(let directory, let classes, let modelOutputs):
            "\(directory): \(classes) classes, the model has \(modelOutputs) outputs"
        case .modelDoesNotFit(let error, let inputShape, let classCount):
            "--model: \(error) (the data: \(ModelPlan.shapeText(inputShape)) images, \(classCount) classes)"
        case .checkpointFile(let error): error.description
        case .checkpointDirectory(let error): error.description
        case .checkpointWrite(let error): error.description
        case .incompatibleCheckpoint(let path, let reason): "\(path): \(reason)"
        case .datasetMismatch(let path, let trainedOn, let requested):
            "\(path) was trained on \(trainedOn), not \(requested); give --dataset \(trainedOn) to use it"
        case .classesMismatch(let path, let trainedOn, let requested):
            "\(path) was trained on classes \(trainedOn.joined(separator: ",")), not \(requested.joined(separator: ",")); give --classes \(trainedOn.joined(separator: ",")) to use it"
        case .dataDiffersFromRankZero(let location, let here, let rankZero):
            "\(location) holds \(Self.clipped(here)) here but \(Self.clipped(rankZero)) on rank 0: every rank must read the same data"
        case .metricsFile(let path, let reason): "cannot write metrics file \(path): \(reason)"
        case .tensorBoard(let error): "cannot write TensorBoard events \(error.path): \(error.reason)"
        case .diverged(let step, let epoch, let symptom):
            "training diverged: \(symptom) at step \(step) (epoch \(epoch + 1)); no checkpoint was written for it (try a smaller --lr)"
        case .parametersDiverged(let step):
            "ranks hold different parameters after step \(step): the data-parallel replicas diverged"
        case .failedOnRank(let rank, let host, let message, status: _): "rank \(rank) on \(host): \(message)"
        }
    }

    /// The status the process exits with: whether a restart could outlive the error.
    public var exitStatus: ExitStatus {
        switch self {
        case .invalidOption, .modelDoesNotFit: .usage
        case .data(let error): error.isUsageError ? .usage : .badInput
        case .wrongImageSize, .wrongClassCount, .checkpointFile, .incompatibleCheckpoint, .datasetMismatch, .classesMismatch,
             .dataDiffersFromRankZero: .badInput
        case .checkpointDirectory(let error): error.exitStatus
        case .checkpointWrite, .metricsFile, .tensorBoard: .cannotWrite
        case .diverged: .diverged
        // The replicas ran the same code on the same data: something below them failed.
        case .parametersDiverged: .fault
        case .failedOnRank(_, host: _, _, status: let status): status
        }
    }

    /// `text`, or its start and an ellipsis past 100 characters (a long list of class names).
    private static func clipped(_ text: String) -> String {
        text.count <= 100 ? text : text.prefix(99) + "…"
    }

    /// Whether every rank raises this error at the same point, so all can stop cleanly; any
    /// other error is one rank's alone, and the job must be aborted lest the others wait forever.
    public var isRaisedOnEveryRank: Bool {
        switch self {
        case .invalidOption, .modelDoesNotFit, .diverged, .parametersDiverged, .failedOnRank: true
        default: false
        }
    }
}
