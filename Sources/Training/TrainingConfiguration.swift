import CNN
import Data

/// How many samples each rank takes per optimizer step.
public enum BatchSize: Sendable, Equatable {
    /// Every rank takes this many samples per step (PyTorch DDP's convention), so the global
    /// batch grows with the number of ranks: weak scaling.
    case perRank(Int)
    /// The ranks share this many samples per step, the first `global % ranks` ranks taking one
    /// more than the others: strong scaling.
    case global(Int)
    /// The sizes of each rank, as a checkpoint records them.
    case explicit([Int])

    /// Each rank's share for a world of `worldSize` ranks.
    public func perRankSizes(worldSize: Int) -> [Int] {
        switch self {
        case .perRank(let size):
            return Array(repeating: size, count: worldSize)
        case .global(let total):
            return (0..<worldSize).map { total / worldSize + ($0 < total % worldSize ? 1 : 0) }
        case .explicit(let sizes):
            precondition(sizes.count == worldSize, "\(sizes.count) batch sizes for \(worldSize) ranks")
            return sizes
        }
    }
}

/// The largest values a run's options and a checkpoint's metadata may hold. Far beyond any real
/// run, and small enough that no count derived from them overflows an `Int` (epochs × steps per
/// epoch, a step's position scaled to another epoch plan, Adam's step count) or loses exactness
/// in a `Double`.
public enum TrainingLimits {
    public static let maximumEpochs = 1_000_000
    /// Samples in the training set: above the 2^30 bytes the IDX reader accepts in a file.
    public static let maximumTrainingSamples = 1 << 31
    public static let maximumWorldSize = 1 << 20
    /// Optimizer steps in all: at most one per sample and epoch.
    public static let maximumSteps = maximumEpochs * maximumTrainingSamples
    /// Checkpoints kept by `--keep`.
    public static let maximumKept = 1_000_000
}

/// The samples held out of the end of the training file to choose between models, the same on
/// every world size and seed (Keras's `validation_split`).
public enum ValidationSplit: Sendable, Equatable {
    /// A share in (0, 1) of the training file.
    case fraction(Double)
    /// A number of samples.
    case count(Int)

    /// The number of samples held out of `total`: as Keras, the file is cut at ⌊total·(1 − x)⌋.
    public func heldOut(of total: Int) -> Int {
        switch self {
        case .fraction(let share): total - Int(Double(total) * (1 - share))
        case .count(let count): count
        }
    }

    /// The samples held out of a training file of `total`: its last `heldOut(of:)` (all of it
    /// when that is more).
    public func heldOutSamples(ofTrainingFile total: Int) -> Range<Int> {
        max(0, total - heldOut(of: total)) ..< total
    }

    /// Refuses a split that holds out nothing or everything whatever the file.
    public func check() throws(TrainingError) {
        switch self {
        case .fraction(let share) where !(share > 0 && share < 1):
            throw .invalidOption("--validation-split must be a fraction in (0, 1) or a sample count, got \(share)")
        case .count(let count) where count < 1:
            throw .invalidOption("--validation-split must hold out at least 1 sample, got \(count)")
        default: break
        }
    }
}

/// The bounds of the random turn and shift applied to each training image (`--augment`).
public struct Augmentation: Sendable, Equatable {
    public var maxRotationDegrees: Float = 10
    public var maxShift: Float = 2

    public init(maxRotationDegrees: Float = 10, maxShift: Float = 2) {
        self.maxRotationDegrees = maxRotationDegrees
        self.maxShift = maxShift
    }

    /// Refuses bounds beyond those that keep a digit recognisable.
    public func check() throws(TrainingError) {
        // Much beyond 45° a digit starts to read as another (a 6 turned over is a 9).
        guard (0...45).contains(maxRotationDegrees) else {
            throw .invalidOption("--augment-rotation must be between 0 and 45 degrees, got \(maxRotationDegrees)")
        }
        guard (0...8).contains(maxShift) else {
            throw .invalidOption("--augment-shift must be between 0 and 8 pixels, got \(maxShift)")
        }
    }
}

/// Everything that decides what a training run computes and where it writes.
public struct TrainingConfiguration: Sendable, Equatable {
    /// The network, planned on the data's input shape and classes when the run starts; a resumed
    /// run must give the one its checkpoint holds.
    public var model = ModelSpec.seed
    public var epochs = 10
    public var batchSize = BatchSize.perRank(60)
    public var learningRate: Float = 1e-3
    /// How the rate decays after the warm-up.
    public var learningRateDecay = LearningRateDecay.constant
    /// Updates of linear warm-up from 0 to the rate.
    public var warmupSteps = 0
    /// `step` decay: updates between multiplications of the rate by `learningRateGamma`.
    public var learningRateStepEvery = 1000
    public var learningRateGamma: Float = 0.1
    /// The linear scaling rule: the rate times the number of ranks.
    public var scaleLearningRate = false
    /// Parameter tensors (`conv1.weight`) or layers (`conv1`, all its tensors) left untrained.
    public var frozen: [String] = []
    public var seed: UInt64 = 0
    /// What the data is: recorded in checkpoints, which then refuse to continue on another.
    public var dataset = Dataset.mnist
    public var dataDirectory = "data/mnist"
    /// The classes kept (`--classes`), and a folder's channels and image size.
    public var imageOptions = ImageSetOptions()
    public var checkpointDirectory = "checkpoints"
    /// Epochs between checkpoints; a checkpoint is always written when training ends.
    public var checkpointEvery = 1
    /// Seconds after which a checkpoint is written at the next step, on top of the per-epoch
    /// ones, so that a fault loses at most about that much training; nil for none.
    public var checkpointInterval: Int?
    /// A file where rank 0 records the number of steps taken after each step, for a launcher
    /// that restarts failed jobs to count the steps a failure lost; nil for none.
    public var stepReportPath: String?
    /// How many of the newest checkpoints to keep.
    public var keep = 3
    /// A checkpoint file, or a directory whose newest checkpoint to resume from.
    public var resume: String?
    /// Resume from the newest checkpoint in the checkpoint directory when it holds one, and
    /// start fresh when it holds none.
    public var autoResume = false
    /// Delete the checkpoints in the checkpoint directory and start fresh.
    public var overwrite = false
    /// Model weights to start from, with a fresh optimizer: a file, or the newest checkpoint of a directory.
    public var initFrom: String?
    public var shuffle = true
    /// Stop once the optimizer has taken this many steps in all (resumed steps included).
    public var maxSteps: Int?
    /// Epochs between test-set evaluations; the end of training is always evaluated.
    public var evalEvery = 1
    /// The test accuracy, in percent, whose reaching ends training after the evaluation that
    /// reached it (every rank gets that evaluation whole, so all stop together); nil for none.
    public var targetAccuracy: Double?
    /// A JSON-lines file receiving one object per logged step and per epoch.
    public var metricsPath: String?
    /// Where rank 0 writes TensorBoard's event files (`--tensorboard`); nil for none.
    public var tensorBoard: TensorBoardSettings?
    /// Steps between progress records.
    public var logEvery = 100
    public var quiet = false
    /// The last samples of the training file, held out to be evaluated alongside the test set
    /// and to choose `best.safetensors`; nil to train on all of them.
    public var validationSplit: ValidationSplit?
    /// Random turns and shifts of the training images; nil to train on them as they are.
    public var augmentation: Augmentation?
    /// Whether the test set is scored (each evaluation and at the end); a grid search holds it
    /// back until it has chosen its best model.
    public var evaluatesTestSet = true
    /// Steps between checks that every rank holds the same parameters; nil for none.
    public var consistencyCheckEvery: Int?
    /// Seconds without a completed step after which a rank ends the job (0: never).
    public var stallTimeout = TrainingConfiguration.defaultStallTimeout
    public static let defaultStallTimeout = 300
    /// A day: above any gap between steps a run can have, and far from overflowing anything.
    public static let maximumStallTimeout = 86_400

    public init() {}

    /// Refuses options that cannot describe a run, before any work; the same verdict on every rank.
    public func validate(worldSize: Int) throws(TrainingError) {
        func refuse(_ message: String) -> TrainingError { .invalidOption(message) }
        func requireAtMost(_ value: Int, _ limit: Int, _ option: String) throws(TrainingError) {
            guard value <= limit else { throw refuse("\(option) must be at most \(grouped(limit)), got \(value)") }
        }
        guard epochs >= 1 else { throw refuse("--epochs must be at least 1, got \(epochs)") }
        try requireAtMost(epochs, TrainingLimits.maximumEpochs, "--epochs")
        switch batchSize {
        case .perRank(let size):
            guard size >= 1 else { throw refuse("--batch-size must be at least 1, got \(size)") }
        case .global(let size):
            guard size >= worldSize else {
                throw refuse("--global-batch-size \(size) is smaller than the \(worldSize) ranks: every rank needs a sample per step")
            }
        case .explicit(let sizes):
            guard sizes.count == worldSize, sizes.allSatisfy({ $0 >= 1 }) else {
                throw refuse("batch sizes \(sizes) do not give each of the \(worldSize) ranks at least one sample")
            }
        }
        guard learningRate.isFinite, learningRate > 0 else {
            throw refuse("--lr must be a positive finite number, got \(learningRate)")
        }
        guard warmupSteps >= 0 else { throw refuse("--warmup-steps must not be negative, got \(warmupSteps)") }
        try requireAtMost(warmupSteps, TrainingLimits.maximumSteps, "--warmup-steps")
        guard learningRateStepEvery >= 1 else {
            throw refuse("--lr-step-every must be at least 1 update, got \(learningRateStepEvery)")
        }
        try requireAtMost(learningRateStepEvery, TrainingLimits.maximumSteps, "--lr-step-every")
        guard learningRateGamma.isFinite, learningRateGamma > 0 else {
            throw refuse("--lr-gamma must be a positive finite number, got \(learningRateGamma)")
        }
        try validationSplit?.check()
        if let runName = tensorBoard?.runName { try TensorBoardSettings.check(runName: runName) }
        try augmentation?.check()
        guard checkpointEvery >= 1 else { throw refuse("--checkpoint-every must be at least 1 epoch, got \(checkpointEvery)") }
        try requireAtMost(checkpointEvery, TrainingLimits.maximumEpochs, "--checkpoint-every")
        if let checkpointInterval {
            guard checkpointInterval >= 1 else { throw refuse("--checkpoint-interval must be at least 1 second, got \(checkpointInterval)") }
            try requireAtMost(checkpointInterval, Self.maximumStallTimeout, "--checkpoint-interval")
        }
        guard keep >= 1 else { throw refuse("--keep must be at least 1, got \(keep)") }
        try requireAtMost(keep, TrainingLimits.maximumKept, "--keep")
        if let maxSteps {
            guard maxSteps >= 1 else { throw refuse("--max-steps must be at least 1, got \(maxSteps)") }
            try requireAtMost(maxSteps, TrainingLimits.maximumSteps, "--max-steps")
        }
        guard evalEvery >= 1 else { throw refuse("--eval-every must be at least 1 epoch, got \(evalEvery)") }
        try requireAtMost(evalEvery, TrainingLimits.maximumEpochs, "--eval-every")
        if let targetAccuracy {
            guard targetAccuracy > 0 && targetAccuracy <= 100 else {
                throw refuse("--target-accuracy is a test accuracy in percent, above 0 and at most 100, not \(targetAccuracy)")
            }
            guard evaluatesTestSet else { throw refuse("--target-accuracy needs the test set scored") }
        }
        guard logEvery >= 1 else { throw refuse("--log-every must be at least 1 step, got \(logEvery)") }
        try requireAtMost(logEvery, TrainingLimits.maximumSteps, "--log-every")
        if let every = consistencyCheckEvery {
            guard every >= 1 else { throw refuse("--check-consistency must be at least 1 step, got \(every)") }
            try requireAtMost(every, TrainingLimits.maximumSteps, "--check-consistency")
        }
        let starts = [(resume != nil, "--resume"), (autoResume, "--auto-resume"), (overwrite, "--overwrite")]
            .filter(\.0).map(\.1)
        if starts.count > 1 {
            throw refuse("\(starts.joined(separator: " and ")) exclude each other: --resume continues the run in the checkpoint directory, --auto-resume continues it if there is one, --overwrite deletes it")
        }
        guard (0...Self.maximumStallTimeout).contains(stallTimeout) else {
            throw refuse("--stall-timeout must be between 0 (off) and \(Self.maximumStallTimeout) seconds, got \(stallTimeout)")
        }
        if resume != nil && initFrom != nil {
            throw refuse("--resume and --init-from exclude each other: resume continues a run, init-from starts a new one")
        }
    }

    /// Refuses `--freeze` names that are neither a layer nor a tensor of `model`, the network
    /// planned on the data; the same verdict on every rank.
    public func validate(model: ModelPlan) throws(TrainingError) {
        let tensors = model.modelDescription.tensors
        for name in frozen where Self.frozenTensors([name], of: tensors).isEmpty {
            let names = tensors.map(\.name).joined(separator: ", ")
            throw .invalidOption("--freeze \(name): the model has no such layer or tensor (it has \(names))")
        }
    }

    /// Refuses a batch larger than the samples a rank holds (which would only size buffers for
    /// nothing), in a world of no more ranks than samples. The same verdict on every rank, from
    /// the training set's header.
    public func validate(worldSize: Int, trainingSamples: Int) throws(TrainingError) {
        func refuse(_ message: String) -> TrainingError { .invalidOption(message) }
        guard trainingSamples <= TrainingLimits.maximumTrainingSamples else {
            throw refuse("\(grouped(trainingSamples)) training samples are more than the \(grouped(TrainingLimits.maximumTrainingSamples)) a run takes")
        }
        let largestShard = (trainingSamples + worldSize - 1) / worldSize
        switch batchSize {
        case .perRank(let size) where size > largestShard:
            throw refuse("--batch-size \(size) is more than the \(grouped(largestShard)) training samples a rank holds")
        case .global(let size) where size > trainingSamples:
            throw refuse("--global-batch-size \(size) is more than the \(grouped(trainingSamples)) training samples")
        case .explicit(let sizes) where sizes.contains(where: { $0 > largestShard }):
            throw refuse("batch sizes \(sizes) exceed the \(grouped(largestShard)) training samples a rank holds")
        default:
            break
        }
    }

    /// The whole configuration as a JSON object, as checkpoints record it.
    var json: String {
        func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        func optional(_ value: Int?) -> JSONValue { value.map(JSONValue.integer) ?? .null }
        let batch: JSONValue = switch batchSize {
        case .perRank(let size): .object([("per_rank", .integer(size))])
        case .global(let size): .object([("global", .integer(size))])
        case .explicit(let sizes): .object([("explicit", .array(sizes.map(JSONValue.integer)))])
        }
        return JSONValue.object([
            ("model", .string(model.description)), ("epochs", .integer(epochs)), ("batch_size", batch), ("lr", .float(learningRate)),
            ("seed", .string(String(seed))), ("dataset", .string(dataset.name)), ("data_dir", .string(dataDirectory)),
            ("classes", imageOptions.classes.map { .array($0.items.map(JSONValue.string)) } ?? .null),
            ("channels", optional(imageOptions.channels)), ("image_size", optional(imageOptions.imageSize?.description)),
            ("checkpoint_dir", .string(checkpointDirectory)), ("checkpoint_every", .integer(checkpointEvery)),
            ("checkpoint_interval", optional(checkpointInterval)),
            ("keep", .integer(keep)), ("resume", optional(resume)), ("auto_resume", .bool(autoResume)),
            ("overwrite", .bool(overwrite)), ("init_from", optional(initFrom)),
            ("shuffle", .bool(shuffle)), ("max_steps", optional(maxSteps)), ("eval_every", .integer(evalEvery)),
            ("target_accuracy", targetAccuracy.map(JSONValue.number) ?? .null),
            ("metrics", optional(metricsPath)), ("tensorboard", optional(tensorBoard?.directory)),
            ("run_name", optional(tensorBoard?.runName)), ("log_every", .integer(logEvery)), ("quiet", .bool(quiet)),
            ("check_consistency", optional(consistencyCheckEvery)), ("stall_timeout", .integer(stallTimeout)),
            ("lr_schedule", .string(learningRateDecay.rawValue)), ("warmup_steps", .integer(warmupSteps)),
            ("lr_step_every", .integer(learningRateStepEvery)), ("lr_gamma", .float(learningRateGamma)),
            ("scale_lr", .bool(scaleLearningRate)), ("validation_split", validationSplitJSON),
            ("augment", augmentation.map { .object([
                ("rotation_degrees", .float($0.maxRotationDegrees)), ("shift_pixels", .float($0.maxShift)),
            ]) } ?? .null), ("freeze", .array(frozen.map(JSONValue.string))),
        ]).json
    }

    private var validationSplitJSON: JSONValue {
        switch validationSplit {
        case nil: .null
        case .fraction(let share): .number(share)
        case .count(let count): .integer(count)
        }
    }

    /// The tensors of `tensors` that `names` freeze: each name is a tensor's, or a layer's (the
    /// part before the dot).
    static func frozenTensors(_ names: [String], of tensors: [ParameterTensor]) -> [ParameterTensor] {
        tensors.filter { tensor in
            names.contains { $0 == tensor.name || $0 + "." == tensor.name.prefix($0.count + 1) }
        }
    }

    /// The rate of every update of a run whose epochs take `stepsPerEpoch` updates on `worldSize` ranks.
    public func learningRateSchedule(stepsPerEpoch: Int, worldSize: Int) -> LearningRateSchedule {
        LearningRateSchedule(
            base: learningRate * Float(scaleLearningRate ? worldSize : 1), decay: learningRateDecay,
            warmupSteps: warmupSteps, stepEvery: learningRateStepEvery, gamma: learningRateGamma,
            totalSteps: epochs * stepsPerEpoch)
    }
}
