import ArgumentParser
import Data
import Distributed
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// `mnist-ddp train`: the options, the launch, and the report of one training run.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the CNN: alone, or on every rank of an MPI job.",
        discussion: """
            Under mpirun (or srun, or any PMI launcher) every rank trains on its own shard of the \
            training set and the gradients are averaged over all ranks each step; every rank \
            scores its slice of the test set, and rank 0 reports, checkpoints and logs. Started \
            without a launcher it trains alone, without MPI.

            SIGINT (Ctrl-C), SIGTERM or SIGUSR1 on any rank stops every rank after the same step; \
            rank 0 writes a checkpoint of it and the run exits with status \(StopRequest.exitCode), \
            saying how to resume. A second signal, a second or more later, ends it at once. Errors \
            exit with the statuses `mnist-ddp --help` lists, alike on every rank and from mpirun.
            """
    )

    @Option(help: ArgumentHelp("The network to train: \(ModelOption.syntax). A resumed run must give the network its checkpoint holds.", valueName: "network"))
    var model = "seed"

    @Option(help: "Passes over the training set.")
    var epochs = 10

    @Option(help: "Samples per rank per step (the global batch grows with the ranks).")
    var batchSize = 60

    @Option(help: "Samples per step over all ranks together (at least one per rank), split between them; overrides --batch-size.")
    var globalBatchSize: Int?

    @Option(name: .customLong("lr"), help: "Adam's learning rate (the peak, with a schedule).")
    var learningRate: Float = 1e-3

    @Option(name: .customLong("lr-schedule"), help: ArgumentHelp(
        "How the learning rate decays after the warm-up: constant, cosine (to 0 at the last update of --epochs) or step (× --lr-gamma every --lr-step-every updates).",
        valueName: "schedule"))
    var learningRateDecay = LearningRateDecay.constant

    @Option(help: "Updates of linear warm-up from 0 to --lr: update s of the first N uses lr·s/N.")
    var warmupSteps = 0

    @Option(name: .customLong("lr-step-every"), help: "For --lr-schedule step: updates between multiplications by --lr-gamma.")
    var learningRateStepEvery = 1000

    @Option(name: .customLong("lr-gamma"), help: "For --lr-schedule step: the factor applied every --lr-step-every updates.")
    var learningRateGamma: Float = 0.1

    @Flag(name: .customLong("scale-lr"), help: "Multiply --lr by the number of ranks (the linear scaling rule for large global batches). Off by default.")
    var scaleLearningRate = false

    @Option(help: ArgumentHelp(
        "Layers or parameter tensors of the network to leave as they start (gradients zeroed, skipped by Adam), comma-separated: conv1,conv2 keeps a pretrained feature extractor. None by default.",
        valueName: "names"))
    var freeze: String?

    @Option(help: ArgumentHelp(
        "Hold out the last samples of the training file, a fraction in (0, 1) or a count, to be scored alongside the test set; the best model by their accuracy is kept as best.safetensors. Off by default.",
        valueName: "x"))
    var validationSplit: ValidationSplit?

    @Flag(help: "Turn and shift each training image at random every time it is drawn (never mirrored); validation and test images are left as they are. Off by default.")
    var augment = false

    @OptionGroup var augmentationBounds: AugmentationOptions

    @Option(help: "Seed of the initial parameters and of the data order.")
    var seed: UInt64 = 0

    @OptionGroup var data: DataOptions<DefaultsToMNIST>

    @Option(help: "Where rank 0 writes checkpoints.")
    var checkpointDir = "checkpoints"

    @Option(help: "Epochs between checkpoints; one is always written when training ends.")
    var checkpointEvery = 1

    @Option(help: ArgumentHelp(
        "Also write a checkpoint at the first step after this many seconds since the last, so that a fault loses at most about that much training (default under train.sh --max-restarts: \(Launch.defaultCheckpointInterval)). Off by default.",
        valueName: "seconds"))
    var checkpointInterval: Int?

    @Option(help: "How many of this run's newest checkpoints to keep; other runs' are never removed.")
    var keep = 3

    @Option(help: ArgumentHelp(
        "Resume from a checkpoint file, or from the newest in a directory (alone: in --checkpoint-dir); it must have been trained on the same --dataset.",
        valueName: "path"))
    var resume: String?

    @Flag(help: "Resume from the newest checkpoint in --checkpoint-dir if it holds one, else start fresh (for requeued batch jobs).")
    var autoResume = false

    @Flag(help: "Delete the checkpoints in --checkpoint-dir and start fresh; without it a fresh run refuses a directory that holds checkpoints.")
    var overwrite = false

    @Option(help: ArgumentHelp(
        "Start from the model weights of a safetensors file (ours or PyTorch's state_dict; the newest checkpoint of a directory), with a fresh optimizer: every tensor of the network whose name and shape match one in the file is loaded, the others (a new head) start fresh; rank 0 says which.",
        valueName: "path"))
    var initFrom: String?

    @Flag(help: "Visit the samples in file order every epoch.")
    var noShuffle = false

    @Option(help: "Stop after this many optimizer steps in all (resumed steps included).")
    var maxSteps: Int?

    @Option(help: "Epochs between test-set evaluations; the end of training is always evaluated.")
    var evalEvery = 1

    @Option(help: ArgumentHelp(
        "Stop after the first evaluation (every --eval-every epochs) whose test accuracy reaches this many percent, such as 98.5. Off by default.",
        valueName: "percent"))
    var targetAccuracy: Double?

    @Option(help: ArgumentHelp("Write JSON-lines metrics here: a record per logged step, per epoch, and a summary.", valueName: "file"))
    var metrics: String?

    @OptionGroup var tensorBoard: TensorBoardOptions

    @Option(help: "Steps between progress lines, metrics records and TensorBoard's training scalars.")
    var logEvery = 100

    @Flag(help: "Print only the final summary and errors.")
    var quiet = false

    @Flag(help: "Train alone even when launched by mpirun.")
    var local = false

    @Option(name: .customLong("check-consistency"), help: ArgumentHelp(
        "Every N steps, verify that all ranks hold identical parameters; stop with an error if not.", valueName: "N"))
    var consistencyCheckEvery: Int?

    @Option(help: ArgumentHelp(
        "Under MPI, a rank that sees no step complete for this long ends the job (a stalled rank, a network partition); 0: never; at most 86400.",
        valueName: "seconds"))
    var stallTimeout = TrainingConfiguration.defaultStallTimeout

    func validate() throws {
        _ = try ModelOption.spec(model)
    }

    func trainingConfiguration(environment: [String: String]) throws -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.model = try ModelOption.spec(model)
        configuration.epochs = epochs
        configuration.batchSize = globalBatchSize.map(BatchSize.global) ?? .perRank(batchSize)
        configuration.learningRate = learningRate
        configuration.validationSplit = validationSplit
        configuration.augmentation = augment ? augmentationBounds.augmentation : nil
        configuration.learningRateDecay = learningRateDecay
        configuration.warmupSteps = warmupSteps
        configuration.learningRateStepEvery = learningRateStepEvery
        configuration.learningRateGamma = learningRateGamma
        configuration.scaleLearningRate = scaleLearningRate
        configuration.frozen = freeze.map { $0.split(separator: ",").map(String.init) } ?? []
        configuration.seed = seed
        configuration.dataset = data.dataset ?? .mnist
        configuration.dataDirectory = data.directory(of: configuration.dataset, environment: environment)
        configuration.imageOptions = data.imageOptions
        configuration.checkpointDirectory = checkpointDir
        configuration.checkpointEvery = checkpointEvery
        configuration.keep = keep
        configuration.resume = resume
        configuration.autoResume = autoResume
        configuration.overwrite = overwrite
        configuration.initFrom = initFrom
        configuration.shuffle = !noShuffle
        configuration.maxSteps = maxSteps
        configuration.evalEvery = evalEvery
        configuration.targetAccuracy = targetAccuracy
        configuration.metricsPath = metrics
        configuration.tensorBoard = tensorBoard.settings
        configuration.logEvery = logEvery
        configuration.quiet = quiet
        configuration.consistencyCheckEvery = consistencyCheckEvery
        configuration.stallTimeout = stallTimeout
        configuration.checkpointInterval = checkpointInterval
        configuration.stepReportPath = environment[Launch.stepReportVariable]
        return configuration
    }

    func run() throws {
        let startTime = monotonicSeconds()
        // Whole lines reach mpirun's output forwarding as they are printed.
        setvbuf(stdout, nil, _IOLBF, 0)
        let environment = environmentVariables()
        let mode = LaunchMode.detect(environment: environment, forced: local ? .local : nil)
        let communicatorStart = monotonicSeconds()
        let communicator = try startCommunicator(for: mode)
        defer { (communicator as? MPICommunicator)?.finalize() }
        // After MPI_Init, so that these handlers are ours whatever MPI installs.
        StopRequest.catchSignals()

        let trainer = Trainer(
            configuration: try trainingConfiguration(environment: environment), communicator: communicator,
            startTime: startTime, communicatorStartSeconds: mode == .mpi ? monotonicSeconds() - communicatorStart : 0)
        let summary: TrainingSummary
        do {
            summary = try trainer.run()
        } catch {
            throw reportFailure(error, on: communicator)
        }
        if let stopped = summary.stopped {
            if communicator.isRoot { fputs("mnist-ddp: \(stopped.description)\n", stderr) }
            throw ExitCode(StopRequest.exitCode)
        }
        if communicator.isRoot { print(summary.formatted(verbose: !quiet)) }
    }
}

extension LearningRateDecay: ExpressibleByArgument {}

/// Prints a training error as one line naming the rank and host at fault: on the rank that
/// raised it, or on rank 0 alone when every rank raised it alike. When the other ranks cannot
/// know of it, ends the whole job, since they wait in a collective this rank will never enter.
/// Returns the exit code to leave with, the error's status, which the abort passes to mpirun.
func reportFailure(_ error: TrainingError, on communicator: any Communicator) -> ExitCode {
    let (rank, host, cause) = if case .failedOnRank(let rank, let host, let message, status: _) = error {
        (rank, host, message)
    } else {
        (communicator.rank, hostName(), error.description)
    }
    if !error.isRaisedOnEveryRank || communicator.isRoot {
        let place = communicator.size > 1 ? "rank \(rank) of \(communicator.size) on \(host): " : ""
        fputs("mnist-ddp: error: \(place)\(cause)\n", stderr)
    }
    if !error.isRaisedOnEveryRank && communicator.size > 1 {
        communicator.abort(code: error.exitStatus.rawValue)
    }
    return ExitCode(error.exitStatus.rawValue)
}

/// The communicator of `mode`; MPI that cannot start is a fault, which a restart may outlive.
func startCommunicator(for mode: LaunchMode) throws(Failure) -> any Communicator {
    do {
        return try makeCommunicator(for: mode)
    } catch {
        throw Failure(message: "cannot start MPI: \(error)", status: .fault)
    }
}

/// An error already worded for the user, and the status the process exits with for it.
struct Failure: Error, CustomStringConvertible {
    let message: String
    let status: ExitStatus
    var description: String { message }
}

extension Failure {
    /// A training error in its own words, with its own status.
    init(_ error: TrainingError) {
        self.init(message: error.description, status: error.exitStatus)
    }
}

/// The process environment as a dictionary.
func environmentVariables() -> [String: String] {
    var variables: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return variables
}
