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
            training set and the gradients are averaged over all ranks each step; rank 0 evaluates, \
            checkpoints and logs. Started without a launcher it trains alone, without MPI.
            """
    )

    @Option(help: "Passes over the training set.")
    var epochs = 10

    @Option(help: "Samples per rank per step (the global batch grows with the ranks).")
    var batchSize = 60

    @Option(help: "Samples per step over all ranks together, split between them; overrides --batch-size.")
    var globalBatchSize: Int?

    @Option(name: .customLong("lr"), help: "Adam's learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Seed of the initial parameters and of the data order.")
    var seed: UInt64 = 0

    @Option(help: "Directory of the MNIST IDX files (.gz or raw). Default: $\(DataDirectory.environmentVariable), else \(DataDirectory.defaultPath).")
    var dataDir: String?

    @Option(help: "Where rank 0 writes checkpoints.")
    var checkpointDir = "checkpoints"

    @Option(help: "Epochs between checkpoints; one is always written when training ends.")
    var checkpointEvery = 1

    @Option(help: "How many of this run's newest checkpoints to keep; other runs' are never removed.")
    var keep = 3

    @Option(help: ArgumentHelp(
        "Resume from a checkpoint file, or from the newest in a directory (alone: in --checkpoint-dir).",
        valueName: "path"))
    var resume: String?

    @Flag(help: "Resume from the newest checkpoint in --checkpoint-dir if it holds one, else start fresh (for requeued batch jobs).")
    var autoResume = false

    @Flag(help: "Delete the checkpoints in --checkpoint-dir and start fresh; without it a fresh run refuses a directory that holds checkpoints.")
    var overwrite = false

    @Option(help: ArgumentHelp(
        "Start from the model weights of a safetensors file (ours or PyTorch's state_dict), with a fresh optimizer.",
        valueName: "path"))
    var initFrom: String?

    @Flag(help: "Visit the samples in file order every epoch.")
    var noShuffle = false

    @Option(help: "Stop after this many optimizer steps in all (resumed steps included).")
    var maxSteps: Int?

    @Option(help: "Epochs between test-set evaluations; the end of training is always evaluated.")
    var evalEvery = 1

    @Option(help: ArgumentHelp("Write JSON-lines metrics here: a record per logged step, per epoch, and a summary.", valueName: "file"))
    var metrics: String?

    @Option(help: "Steps between progress lines and metrics records.")
    var logEvery = 100

    @Flag(help: "Print only the final summary and errors.")
    var quiet = false

    @Flag(help: "Train alone even when launched by mpirun.")
    var local = false

    @Option(name: .customLong("check-consistency"), help: ArgumentHelp(
        "Every N steps, verify that all ranks hold identical parameters; stop with an error if not.", valueName: "N"))
    var consistencyCheckEvery: Int?

    func trainingConfiguration(environment: [String: String]) -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = globalBatchSize.map(BatchSize.global) ?? .perRank(batchSize)
        configuration.learningRate = learningRate
        configuration.seed = seed
        configuration.dataDirectory = DataDirectory.resolve(option: dataDir, environment: environment)
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
        configuration.metricsPath = metrics
        configuration.logEvery = logEvery
        configuration.quiet = quiet
        configuration.consistencyCheckEvery = consistencyCheckEvery
        return configuration
    }

    func run() throws {
        let startTime = monotonicSeconds()
        // Whole lines reach mpirun's output forwarding as they are printed.
        setvbuf(stdout, nil, _IOLBF, 0)
        let environment = environmentVariables()
        let mode = LaunchMode.detect(environment: environment, forced: local ? .local : nil)
        let communicator: any Communicator
        let communicatorStart = monotonicSeconds()
        do {
            communicator = try makeCommunicator(for: mode)
        } catch {
            throw Failure(message: "cannot start MPI: \(error)")
        }
        defer { (communicator as? MPICommunicator)?.finalize() }

        let trainer = Trainer(
            configuration: trainingConfiguration(environment: environment), communicator: communicator,
            startTime: startTime, communicatorStartSeconds: mode == .mpi ? monotonicSeconds() - communicatorStart : 0)
        do {
            let summary = try trainer.run()
            if communicator.isRoot { print(summary.formatted(verbose: !quiet)) }
        } catch {
            let rank = if case .failedOnRank(let rank, _) = error { rank } else { communicator.rank }
            let cause = if case .failedOnRank(_, let message) = error { message } else { error.description }
            if !error.isRaisedOnEveryRank || communicator.isRoot {
                let place = communicator.size > 1 ? "rank \(rank) of \(communicator.size): " : ""
                fputs("mnist-ddp: error: \(place)\(cause)\n", stderr)
            }
            if !error.isRaisedOnEveryRank && communicator.size > 1 {
                // The other ranks are waiting in a collective this one will never enter.
                communicator.abort(code: 1)
            }
            throw ExitCode.failure
        }
    }
}

/// An error already worded for the user.
struct Failure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
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
