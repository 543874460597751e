import CNN
import Data
import Distributed

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Data-parallel training: every rank computes the gradient of its own batch, one all-reduce sums
/// them into the exact mean over the global batch, and every rank takes the same Adam step, so
/// parameters stay identical everywhere. Every rank scores its slice of the evaluation sets;
/// rank 0 alone checkpoints and reports.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let communicator: any Communicator
    private let startTime: Double
    private let communicatorStartSeconds: Double
    private var isRoot: Bool { communicator.rank == 0 }

    /// - Parameters:
    ///   - startTime: `monotonicSeconds()` at process start, so the wall time reported includes
    ///     start-up.
    ///   - communicatorStartSeconds: how long starting the communicator (MPI_Init) took.
    public init(
        configuration: TrainingConfiguration, communicator: any Communicator, startTime: Double? = nil,
        communicatorStartSeconds: Double = 0
    ) {
        self.configuration = configuration
        self.communicator = communicator
        self.startTime = startTime ?? monotonicSeconds()
        self.communicatorStartSeconds = communicatorStartSeconds
    }

    public func run() throws(TrainingError) -> TrainingSummary {
        let worldSize = communicator.size
        try configuration.validate(worldSize: worldSize)
        let watchdog = startWatchdog()
        defer { watchdog?.stop() }
        let (data, validation, testSamples) = try openData()
        try agreeOnData(data, validation: validation, testSamples: testSamples)
        let trainingSamples = validation.lowerBound
        let plan = EpochPlan(sampleCount: trainingSamples, worldSize: worldSize, batchSize: configuration.batchSize)
        let model = try planModel(for: data, largestBatch: plan.largestBatch)
        watchdog?.progress()
        let (start, output) = try agreeOnStart(plan: plan, data: data, validation: validation, model: model)
        // Every rank enters these broadcasts alike: the option is the same everywhere.
        let hosts = configuration.tensorBoard == nil ? [] : hostNames()
        watchdog?.progress()
        let (shard, validationSet, testSet) = try loadData(plan: plan, data: data, validation: validation)
        watchdog?.progress()
        let loop = TrainingLoop(
            configuration: configuration, communicator: communicator, model: model, plan: plan, start: start,
            shard: shard, validationSet: validationSet, testSet: testSet, output: output, watchdog: watchdog)
        try loop.describeRun(hosts: hosts)
        try loop.trainUntilDone()
        return try loop.finish(startTime: startTime, communicatorStartSeconds: communicatorStartSeconds)
    }

    /// The stall watchdog of an MPI job (`--stall-timeout`, 0 for none). A process alone has no
    /// peer to wait for, and one suspended on purpose (Ctrl-Z) must not be killed when resumed.
    private func startWatchdog() -> StallWatchdog? {
        guard communicator.size > 1, configuration.stallTimeout > 0 else { return nil }
        let communicator = communicator
        return StallWatchdog(
            timeout: Double(configuration.stallTimeout), rank: communicator.rank, host: hostName(),
            abort: { communicator.abort(code: $0) })
    }

    /// The data, opened by every rank (headers, labels, a folder's listing), and the samples of
    /// its training split held out for validation (empty without a split), after those trained
    /// on, and the number of its test samples. Refuses a world with more ranks than samples to train on, and a batch larger than a
    /// rank's share of them.
    private func openData() throws(TrainingError) -> (data: any LabeledImageSet, validation: Range<Int>, testSamples: Int) {
        try communicator.collectively { () throws(TrainingError) in
            let data = try dataError { () throws(DataError) in
                try configuration.dataset.open(directory: configuration.dataDirectory, options: configuration.imageOptions)
            }
            let total = try dataError { () throws(DataError) in try data.sampleCount(of: .train) }
            let heldOut = configuration.validationSplit?.heldOutSamples(ofTrainingFile: total) ?? total ..< total
            let count = heldOut.lowerBound
            guard communicator.size <= count else {
                let held = heldOut.isEmpty ? "" : " (\(heldOut.count) of \(total) held out by --validation-split)"
                throw .invalidOption("\(communicator.size) ranks for \(count) training samples\(held): every rank needs at least one")
            }
            // After the training split and the options: a test split that cannot be read is refused here.
            let testSamples = try dataError { () throws(DataError) in try data.sampleCount(of: .test) }
            if configuration.augmentation != nil && data.shape.channels != 1 {
                throw .invalidOption("--augment turns and shifts single-channel images; \(data.location) has \(data.shape.channels) channels")
            }
            try configuration.validate(worldSize: communicator.size, trainingSamples: count)
            return (data, heldOut, testSamples)
        }
    }

    /// Refuses a run whose ranks read different data (another `--data-dir` on some node, another
    /// version of its files), which would plan different networks or split different samples:
    /// every rank compares what it read with what rank 0 read, in one broadcast.
    private func agreeOnData(_ data: any LabeledImageSet, validation: Range<Int>, testSamples: Int) throws(TrainingError) {
        guard communicator.size > 1 else { return }
        let mine = [
            "\(data.shape) images", "\(data.classNames.count) classes",
            "classes named \(data.classNames.joined(separator: ","))",
            "\(validation.upperBound) training samples", "\(validation.count) held out for validation",
            "\(testSamples) test samples",
        ]
        let rootFacts = communicator.broadcast(bytes: isRoot ? Array(mine.joined(separator: "\n").utf8) : [], root: 0)
        let theirs = String(decoding: rootFacts, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        try communicator.collectively { () throws(TrainingError) in
            guard let (here, there) = zip(mine, theirs).first(where: { $0 != $1 }) else { return }
            throw .dataDiffersFromRankZero(location: data.location, here: here, rankZero: String(there))
        }
    }

    /// The network the run trains: `configuration.model` planned on one input of `data`'s image
    /// shape and on its classes; the one place a run's input shape and class count are decided.
    /// Every rank plans alike, and refuses alike a network that does not fit the data, a batch of
    /// `largestBatch` (nor the evaluation's blocks) or a checkpoint, and `--freeze` names the
    /// network lacks.
    private func planModel(for data: any LabeledImageSet, largestBatch: Int) throws(TrainingError) -> ModelPlan {
        try communicator.collectively { () throws(TrainingError) in
            let inputShape = data.shape.dimensions
            let classCount = data.classNames.count
            let model: ModelPlan
            do throws(ModelSpecError) {
                model = try ModelPlan(configuration.model, inputShape: inputShape, classCount: classCount)
                try model.check(batch: max(largestBatch, Evaluator.samplesPerBlock))
                try CheckpointFormat.requireCheckpointFits(model)
            } catch {
                throw .modelDoesNotFit(error, inputShape: inputShape, classCount: classCount)
            }
            try configuration.validate(model: model)
            return model
        }
    }

    /// Every rank's host name, by rank: one broadcast from each rank in turn.
    private func hostNames() -> [String] {
        let mine = Array(hostName().utf8)
        return (0 ..< communicator.size).map { root in
            String(decoding: communicator.broadcast(bytes: communicator.rank == root ? mine : [], root: root), as: UTF8.self)
        }
    }

    /// Rank 0 checks everything it can before any rank trains (the checkpoint directory, the
    /// checkpoint or weights to start from, the metrics file, the TensorBoard directory) and
    /// sends the starting state to all: only rank 0 reads a checkpoint, so nodes need no shared disk.
    private func agreeOnStart(
        plan: EpochPlan, data: any LabeledImageSet, validation: Range<Int>, model: ModelPlan
    ) throws(TrainingError) -> (TrainingSnapshot, RunOutput) {
        let trainingSamples = validation.lowerBound
        var output = RunOutput(
            // Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's own output
            // goes to a file, so only a process alone can tell that a person is watching.
            reporter: ProgressReporter(
                quiet: configuration.quiet || !isRoot, logEvery: configuration.logEvery,
                interactive: communicator.size == 1 && isatty(STDOUT_FILENO) != 0))
        var startBytes: [UInt8] = []
        try communicator.collectively { () throws(TrainingError) in
            guard isRoot else { return }
            let directory: CheckpointDirectory
            do throws(CheckpointDirectoryError) {
                directory = try CheckpointDirectory(creatingIfNeeded: configuration.checkpointDirectory)
                output.directoryLock = try directory.lockForThisRun()
            } catch {
                throw .checkpointDirectory(error)
            }
            let start = try startingState(
                in: directory, plan: plan, trainingSamples: trainingSamples, model: model, classNames: data.classNames,
                reporter: output.reporter)
            try prepare(directory, for: start.snapshot, holdingLock: output.directoryLock != nil)
            output.checkpoints = directory
            output.metrics = try configuration.metricsPath.map { path throws(TrainingError) in try MetricsLog(path: path) }
            output.tensorBoard = try configuration.tensorBoard.map { settings throws(TrainingError) in
                try TensorBoardLog(
                    settings: settings, runID: start.snapshot.runID, startStep: start.snapshot.position.step,
                    classNames: data.classNames, gridImages: try gridImages(of: data, validation: validation))
            }
            startBytes = start.bytes
        }
        let received = communicator.broadcast(bytes: startBytes, root: 0)
        let start = try CheckpointFormat.decode(
            CheckpointFormat.open(bytes: received, source: "checkpoint received from rank 0"))
        return (start, output)
    }

    /// The checkpoint a run resumes, if any: `--resume`'s, or with `--auto-resume` the newest in
    /// the directory when it holds one. A fresh run into a directory that holds checkpoints (or
    /// a best model) needs `--overwrite`, lest it mix its checkpoints with another run's.
    private func checkpointToResume(in directory: CheckpointDirectory) throws(TrainingError) -> String? {
        do throws(CheckpointDirectoryError) {
            if let resume = configuration.resume {
                return try CheckpointDirectory.resolveCheckpoint(resume.isEmpty ? directory.path : resume)
            }
            if configuration.overwrite { return nil }
            let newest = try directory.newest()
            if configuration.autoResume { return newest?.path }
            if let held = newest?.path ?? directory.bestModel() {
                throw .holdsCheckpoints(directory: directory.path, newest: held)
            }
            return nil
        } catch {
            throw .checkpointDirectory(error)
        }
    }

    /// Readies the directory for the run that starts from `start`, once nothing can refuse it any
    /// more: `--overwrite` deletes the checkpoints there, and the temporary files of interrupted
    /// writes go. A resumed run refuses to train on over another run's checkpoint of a later step.
    private func prepare(
        _ directory: CheckpointDirectory, for start: TrainingSnapshot, holdingLock: Bool
    ) throws(TrainingError) {
        do throws(CheckpointDirectoryError) {
            if configuration.overwrite {
                try directory.removeAllCheckpoints()
            } else if let ahead = try directory.checkpoints().first(where: {
                $0.step > start.position.step && CheckpointFormat.runID(ofCheckpointAt: $0.path) != start.runID
            }) {
                throw .otherRunAhead(checkpoint: ahead.path, resumedStep: start.position.step)
            }
            try directory.removeStaleTemporaryFiles(holdingLock: holdingLock)
        } catch {
            throw .checkpointDirectory(error)
        }
    }

    /// The first images of the set each evaluation scores (the test set, else the validation
    /// samples), whose predictions TensorBoard shows.
    private func gridImages(
        of data: any LabeledImageSet, validation: Range<Int>
    ) throws(TrainingError) -> (samples: LabeledImages, setName: String)? {
        try dataError { () throws(DataError) in
            if configuration.evaluatesTestSet {
                let count = min(TensorBoardLog.gridImageCount, try data.sampleCount(of: .test))
                return (try data.load(.test, samples: 0 ..< count), "test")
            }
            guard !validation.isEmpty else { return nil }
            let end = min(validation.lowerBound + TensorBoardLog.gridImageCount, validation.upperBound)
            return (try data.load(.train, samples: validation.lowerBound ..< end), "validation")
        }
    }

    /// Each rank's shard of the training set, and its slice of the `validation` samples held
    /// out after it and of the test set, which it scores at each evaluation. Every rank reads the
    /// test set through once, so that a broken test file stops the run before the first step
    /// rather than at the first evaluation; it streams its slice again at each evaluation rather
    /// than hold it.
    private func loadData(
        plan: EpochPlan, data: any LabeledImageSet, validation: Range<Int>
    ) throws(TrainingError) -> (shard: LabeledImages, validation: HeldOutSet?, test: TestSet) {
        try communicator.collectively { () throws(TrainingError) in
            try dataError { () throws(DataError) in
                let shard = try data.load(.train, samples: plan.shards[communicator.rank])
                let test = try TestSet(of: data)
                let testSlice = Evaluator.slice(ofSetOf: test.sampleCount, rank: communicator.rank, worldSize: communicator.size)
                try data.stream(.test, samples: testSlice, batchSize: Evaluator.samplesPerBlock) { _ in }
                guard !validation.isEmpty else { return (shard, nil, test) }
                let slice = Evaluator.slice(ofSetOf: validation.count, rank: communicator.rank, worldSize: communicator.size)
                let held = try data.load(.train, samples: validation.lowerBound + slice.lowerBound ..< validation.lowerBound + slice.upperBound)
                return (shard, HeldOutSet(held, slice: slice, of: validation.count, name: "validation", location: data.location), test)
            }
        }
    }

    /// The state a run starts from, and the checkpoint bytes for rank 0 to broadcast: the
    /// checkpoint to resume (which must hold `model`), or fresh parameters (seeded, and with
    /// `--init-from` another model's weights where they fit) and a fresh optimizer under a new
    /// run id, telling `reporter` which tensors `--init-from` gave.
    private func startingState(
        in directory: CheckpointDirectory, plan: EpochPlan, trainingSamples: Int, model: ModelPlan,
        classNames: [String], reporter: ProgressReporter
    ) throws(TrainingError) -> (snapshot: TrainingSnapshot, bytes: [UInt8]) {
        if let path = try checkpointToResume(in: directory) {
            let file = try CheckpointFormat.open(path)
            // Decoded here too, so that a corrupt file stops the run before any rank trains.
            let snapshot = try CheckpointFormat.decode(file)
            try CheckpointFormat.requireDataset(configuration.dataset, classNames: classNames, of: file)
            try CheckpointFormat.requireModel(model, of: snapshot, path: path)
            return (snapshot, file.bytes)
        }
        let network = model.makeNetwork(maxBatch: 1)
        network.initialize(seed: configuration.seed)
        var parameters = network.withUnsafeParameters(Array.init)
        if let initFrom = configuration.initFrom {
            let path: String
            do { path = try CheckpointDirectory.resolveCheckpoint(initFrom) } catch { throw .checkpointDirectory(error) }
            let transfer = try CheckpointFormat.transferWeights(
                from: CheckpointFormat.open(path), into: &parameters, of: model.modelDescription)
            reporter.note(transfer.summary)
        }
        let zeros = [Float](repeating: 0, count: model.parameterCount)
        let snapshot = TrainingSnapshot(
            model: model, parameters: parameters, adamStep: 0, firstMoment: zeros, secondMoment: zeros, position: .start,
            worldSize: plan.batchSizes.count, batchSizes: plan.batchSizes, trainingSamples: trainingSamples,
            seed: configuration.seed, shuffle: configuration.shuffle, runID: .random())
        return (snapshot, CheckpointFormat.encode(snapshot, configuration: configuration, classNames: classNames))
    }
}

/// Refuses `data` unless its images are of the shape `model` takes and its classes as many as
/// the model's outputs, before any image is read or any buffer sized for one: for training, and
/// for scoring or showing a model's predictions.
public func requireModelFits(_ data: any LabeledImageSet, model: ModelDescription) throws(TrainingError) {
    guard data.shape.dimensions == model.inputShape else {
        throw .wrongImageSize(directory: data.location, shape: data.shape, modelInput: model.imageShape)
    }
    guard data.classNames.count == model.classCount else {
        throw .wrongClassCount(directory: data.location, classes: data.classNames.count, modelOutputs: model.classCount)
    }
}

/// Runs a data-layer call, carrying its error as a training error.
public func dataError<Result>(_ body: () throws(DataError) -> Result) throws(TrainingError) -> Result {
    do { return try body() } catch { throw .data(error) }
}

extension ModelDescription {
    /// The shape of one input, as images are described.
    public var imageShape: ImageShape {
        ImageShape(channels: inputShape[0], rows: inputShape[1], columns: inputShape[2])
    }
}
