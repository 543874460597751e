import CNN
import Data
import Distributed

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished run reports.
public struct TrainingSummary: Sendable {
    /// The test-set evaluation of the final model (rank 0 only).
    public var testReport: ClassificationReport?
    public var steps: Int
    /// Samples trained on by all ranks together in this run.
    public var samples: Int
    /// From the start of the process (or of `Trainer.run`) to the end of the final evaluation.
    public var wallSeconds: Double
    /// Seconds in training steps proper, on rank 0.
    public var trainingSeconds: Double
    public var times: TimeBreakdown
    /// The largest peak resident set over all ranks.
    public var peakResidentBytes: Int
    public var worldSize: Int
    /// The checkpoint written last, on rank 0.
    public var checkpointPath: String?
    /// From the start of the process to the first training step, on rank 0.
    public var startupSeconds: Double
    /// The part of `startupSeconds` spent starting MPI (0 alone).
    public var communicatorStartSeconds: Double

    /// Samples per second through the training steps, evaluation and checkpoints excluded.
    public var samplesPerSecond: Double { trainingSeconds > 0 ? Double(samples) / trainingSeconds : 0 }
}

/// Data-parallel training: every rank computes the gradient of its own batch, one all-reduce sums
/// them into the exact mean over the global batch, and every rank takes the same Adam step, so
/// parameters stay identical everywhere. Rank 0 alone evaluates, checkpoints and reports.
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
        let rank = communicator.rank
        let worldSize = communicator.size
        try configuration.validate(worldSize: worldSize)
        // Under mpirun a rank's stdout is a pseudo-terminal even when mpirun's own output goes to
        // a file, so only a process alone can tell that a person is watching.
        let reporter = ProgressReporter(
            quiet: configuration.quiet || !isRoot, logEvery: configuration.logEvery,
            interactive: worldSize == 1 && isatty(STDOUT_FILENO) != 0)

        // Rank 0 checks everything it can before any rank trains: the data, the checkpoint
        // directory, the metrics file, and the checkpoint or weights to start from.
        let trainingSamples = try communicator.collectively { () throws(TrainingError) in
            let count = try dataError { () throws(IDXError) in
                try MNISTDataset.sampleCount(of: .train, in: configuration.dataDirectory)
            }
            guard worldSize <= count else {
                throw .invalidOption("\(worldSize) ranks for \(count) training samples: every rank needs at least one")
            }
            return count
        }
        let plan = EpochPlan(sampleCount: trainingSamples, worldSize: worldSize, batchSize: configuration.batchSize)
        var checkpoints: CheckpointDirectory?
        var metrics: MetricsLog?
        var startBytes: [UInt8] = []
        try communicator.collectively { () throws(TrainingError) in
            guard isRoot else { return }
            do throws(CheckpointDirectoryError) {
                checkpoints = try CheckpointDirectory(creatingIfNeeded: configuration.checkpointDirectory)
            } catch {
                throw .checkpointDirectory(error)
            }
            metrics = try configuration.metricsPath.map { path throws(TrainingError) in try MetricsLog(path: path) }
            startBytes = try initialCheckpointBytes(plan: plan, trainingSamples: trainingSamples)
        }
        // Only rank 0 reads a checkpoint; the others receive it, so nodes need no shared disk.
        let startBytesEverywhere = communicator.broadcast(bytes: startBytes, root: 0)
        let start = try CheckpointFormat.decode(
            CheckpointFormat.open(bytes: startBytesEverywhere, source: "checkpoint received from rank 0"))

        let (shard, testSet) = try communicator.collectively { () throws(TrainingError) in
            try dataError { () throws(IDXError) in
                let shard = try MNISTDataset.load(.train, from: configuration.dataDirectory, samples: plan.shards[rank])
                let test = isRoot ? try MNISTDataset.load(.test, from: configuration.dataDirectory) : nil
                return (shard, test)
            }
        }
        try communicator.collectively { () throws(TrainingError) in
            for images in [shard, testSet].compactMap({ $0 })
            where images.rows != SeedCNN.imageSide || images.columns != SeedCNN.imageSide {
                throw .invalidOption("\(configuration.dataDirectory): images are \(images.rows)×\(images.columns), the model takes \(SeedCNN.imageSide)×\(SeedCNN.imageSide)")
            }
        }

        let model = SeedCNN(maxBatch: max(plan.largestBatch, 1))
        _ = model.parameters.update(fromContentsOf: start.parameters)
        var optimizer = Adam(parameterCount: ParameterLayout.count, learningRate: configuration.learningRate)
        optimizer.step = start.adamStep
        optimizer.firstMoment = start.firstMoment
        optimizer.secondMoment = start.secondMoment
        var position = start.position.mapped(from: start.epochPlan, to: plan)
        // A resumed run keeps the data order it started with.
        let seed = start.seed
        let shuffle = start.shuffle
        let evaluator = testSet.map { TestSetEvaluator(samples: $0, batch: model.maxBatch) }
        if position.step > 0 {
            reporter.note("resuming at step \(position.step): epoch \(position.epoch + 1), step \(position.stepInEpoch + 1) of \(plan.stepsPerEpoch)")
        }
        reporter.note("training on \(grouped(trainingSamples)) samples, \(worldSize) rank\(worldSize == 1 ? "" : "s"), batch \(plan.batchSizes[0])\(worldSize > 1 ? " per rank" : ""), \(plan.stepsPerEpoch) steps per epoch, \(configuration.epochs) epochs")

        let images = UnsafeMutablePointer<Float>.allocate(capacity: model.maxBatch * shard.pixelsPerImage)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: model.maxBatch)
        defer {
            images.deallocate()
            labels.deallocate()
        }

        var times = TimeBreakdown()
        let firstStepTime = monotonicSeconds()
        var samplesTrained = 0
        var lastCheckpointStep = position.step
        var lastCheckpointPath: String?
        var lastReport: (step: Int, report: ClassificationReport)?
        let maxSteps = configuration.maxSteps ?? Int.max

        func saveCheckpoint() throws(TrainingError) {
            guard isRoot, let checkpoints else { return }
            let began = monotonicSeconds()
            let snapshot = TrainingSnapshot(
                parameters: Array(model.parameters), adamStep: optimizer.step,
                firstMoment: optimizer.firstMoment, secondMoment: optimizer.secondMoment,
                position: position, worldSize: worldSize, batchSizes: plan.batchSizes,
                trainingSamples: trainingSamples, seed: seed, shuffle: shuffle)
            let bytes = CheckpointFormat.encode(snapshot, configuration: configuration)
            let path = checkpoints.checkpointPath(forStep: position.step)
            do {
                try writeAtomically(bytes, to: path)
            } catch {
                throw .checkpointWrite(error)
            }
            lastCheckpointPath = path
            do {
                try checkpoints.prune(keepingNewest: configuration.keep)
            } catch {
                throw .checkpointDirectory(error)
            }
            lastCheckpointStep = position.step
            times.checkpoint += monotonicSeconds() - began
        }

        func evaluate() -> ClassificationReport? {
            guard let evaluator else { return nil }
            let began = monotonicSeconds()
            let report = evaluator.evaluate(model)
            times.evaluation += monotonicSeconds() - began
            lastReport = (position.step, report)
            return report
        }

        while position.epoch < configuration.epochs && position.step < maxSteps {
            let epochStart = monotonicSeconds()
            let epochTrainingStart = times.training
            let order = EpochOrder(
                sampleCount: shard.count, seed: seed, epoch: position.epoch, rank: rank, shuffled: shuffle)
            var epochLoss = 0.0
            var epochSamples = 0
            var windowStart = monotonicSeconds()
            var windowSamples = 0

            while position.stepInEpoch < plan.stepsPerEpoch && position.step < maxSteps {
                let t0 = monotonicSeconds()
                let local = plan.positions(step: position.stepInEpoch, rank: rank)
                shard.fillBatch(images: images, labels: labels, positions: order.positions[local])
                let globalCount = plan.globalSampleCount(step: position.stepInEpoch)
                let t1 = monotonicSeconds()
                let localLoss = model.computeGradients(
                    images: images, labels: labels, count: local.count, gradientScale: 1 / Float(globalCount))
                let t2 = monotonicSeconds()
                communicator.allReduceSum(model.gradients)
                var loss = [localLoss]
                communicator.allReduceSum(&loss)
                let t3 = monotonicSeconds()
                guard loss[0].isFinite else {
                    throw .nonFiniteLoss(step: position.step + 1, epoch: position.epoch, loss: loss[0])
                }
                optimizer.update(parameters: model.parameters, gradients: UnsafeBufferPointer(model.gradients))
                let t4 = monotonicSeconds()
                times.data += t1 - t0
                times.compute += t2 - t1
                times.allReduce += t3 - t2
                times.optimizer += t4 - t3

                position.step += 1
                position.stepInEpoch += 1
                epochLoss += loss[0]
                epochSamples += globalCount
                windowSamples += globalCount
                samplesTrained += globalCount

                if let every = configuration.consistencyCheckEvery, position.step % every == 0 {
                    try checkReplicasAgree(model.parameters, step: position.step)
                }
                let now = monotonicSeconds()
                let rate = Double(windowSamples) / max(now - windowStart, 1e-9)
                let stepLoss = loss[0] / Double(globalCount)
                reporter.stepTaken(
                    epoch: position.epoch, epochs: configuration.epochs, stepInEpoch: position.stepInEpoch,
                    stepsPerEpoch: plan.stepsPerEpoch, step: position.step, loss: stepLoss, samplesPerSecond: rate,
                    secondsLeftInEpoch: Double(plan.stepsPerEpoch - position.stepInEpoch) * (now - epochStart)
                        / Double(max(position.stepInEpoch, 1)))
                if reporter.isLogStep(position.step) {
                    try metrics?.write([
                        ("type", .string("step")), ("step", .integer(position.step)),
                        ("epoch", .integer(position.epoch + 1)), ("loss", .number(stepLoss)),
                        ("samples_per_second", .number(rate)), ("elapsed_seconds", .number(now - startTime)),
                    ])
                    windowStart = now
                    windowSamples = 0
                }
            }

            let finishedEpoch = position.stepInEpoch == plan.stepsPerEpoch
            if finishedEpoch {
                let epochNumber = position.epoch + 1
                position.epoch += 1
                position.stepInEpoch = 0
                let trainSeconds = times.training - epochTrainingStart
                let report = epochNumber % configuration.evalEvery == 0 || epochNumber == configuration.epochs
                    ? evaluate() : nil
                if epochNumber % configuration.checkpointEvery == 0 { try saveCheckpoint() }
                let trainLoss = epochLoss / Double(max(epochSamples, 1))
                let rate = Double(epochSamples) / max(trainSeconds, 1e-9)
                var line = "epoch \(epochNumber)/\(configuration.epochs)  train loss \(fixed(trainLoss, 4))"
                if let report {
                    line += "  test loss \(fixed(report.meanLoss, 4))  test accuracy \(fixed(report.accuracy * 100, 2))%"
                }
                line += "  \(fixed(monotonicSeconds() - epochStart, 2)) s  \(grouped(Int(rate))) samples/s"
                reporter.epochFinished(line)
                var record: [(String, JSONValue)] = [
                    ("type", .string("epoch")), ("epoch", .integer(epochNumber)), ("step", .integer(position.step)),
                    ("train_loss", .number(trainLoss)), ("epoch_seconds", .number(trainSeconds)),
                    ("samples_per_second", .number(rate)), ("samples", .integer(epochSamples)),
                ]
                if let report {
                    record += [("test_loss", .number(report.meanLoss)), ("test_accuracy", .number(report.accuracy))]
                }
                try metrics?.write(record)
            }
        }

        if lastCheckpointStep != position.step || position.step == 0 { try saveCheckpoint() }
        let finalReport = lastReport?.step == position.step ? lastReport?.report : evaluate()
        var peak = [Double(peakResidentBytes())]
        communicator.allReduceMax(&peak)
        let summary = TrainingSummary(
            testReport: finalReport, steps: position.step, samples: samplesTrained,
            wallSeconds: monotonicSeconds() - startTime, trainingSeconds: times.training, times: times,
            peakResidentBytes: Int(peak[0]), worldSize: worldSize, checkpointPath: lastCheckpointPath,
            startupSeconds: firstStepTime - startTime, communicatorStartSeconds: communicatorStartSeconds)
        if let finalReport {
            try metrics?.write([
                ("type", .string("summary")), ("test_accuracy", .number(finalReport.accuracy)),
                ("test_loss", .number(finalReport.meanLoss)), ("wall_seconds", .number(summary.wallSeconds)),
                ("training_seconds", .number(summary.trainingSeconds)),
                ("samples_per_second", .number(summary.samplesPerSecond)),
                ("epoch_seconds", .number(Double(trainingSamples) / max(summary.samplesPerSecond, 1e-9))),
                ("compute_seconds", .number(times.compute)), ("all_reduce_seconds", .number(times.allReduce)),
                ("optimizer_seconds", .number(times.optimizer)), ("data_seconds", .number(times.data)),
                ("evaluation_seconds", .number(times.evaluation)), ("checkpoint_seconds", .number(times.checkpoint)),
                ("peak_rss_bytes", .integer(summary.peakResidentBytes)), ("world_size", .integer(worldSize)),
                ("steps", .integer(position.step)), ("samples", .integer(samplesTrained)),
                ("startup_seconds", .number(summary.startupSeconds)),
                ("mpi_init_seconds", .number(communicatorStartSeconds)),
            ])
        }
        return summary
    }

    /// The state a run starts from, as checkpoint bytes for rank 0 to broadcast: the checkpoint
    /// to resume, or fresh parameters (seeded, or another model's weights) and a fresh optimizer.
    private func initialCheckpointBytes(plan: EpochPlan, trainingSamples: Int) throws(TrainingError) -> [UInt8] {
        if let resume = configuration.resume {
            let path: String
            do {
                path = try CheckpointDirectory.resolveResume(resume.isEmpty ? configuration.checkpointDirectory : resume)
            } catch {
                throw .checkpointDirectory(error)
            }
            let file = try CheckpointFormat.open(path)
            // Decoded here too, so that a corrupt file stops the run before any rank trains.
            _ = try CheckpointFormat.decode(file)
            return file.bytes
        }
        let parameters: [Float]
        if let initFrom = configuration.initFrom {
            parameters = try CheckpointFormat.modelParameters(contentsOf: initFrom)
        } else {
            let model = SeedCNN(maxBatch: 1)
            model.initialize(seed: configuration.seed)
            parameters = Array(model.parameters)
        }
        let zeros = [Float](repeating: 0, count: ParameterLayout.count)
        let snapshot = TrainingSnapshot(
            parameters: parameters, adamStep: 0, firstMoment: zeros, secondMoment: zeros, position: .start,
            worldSize: plan.batchSizes.count, batchSizes: plan.batchSizes, trainingSamples: trainingSamples,
            seed: configuration.seed, shuffle: configuration.shuffle)
        return CheckpointFormat.encode(snapshot, configuration: configuration)
    }

    /// Verifies that every rank holds bit-for-bit the same parameters: one all-reduce of the
    /// maximum and minimum of a checksum.
    private func checkReplicasAgree(_ parameters: UnsafeMutableBufferPointer<Float>, step: Int) throws(TrainingError) {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in parameters {
            hash = (hash ^ UInt64(value.bitPattern)) &* 0x0000_0100_0000_01B3
        }
        // Doubles carry 53 bits exactly: compare the hash in two 32-bit halves.
        let halves = [Double(hash >> 32), Double(hash & 0xFFFF_FFFF)]
        var extremes = halves + halves.map { -$0 }
        communicator.allReduceMax(&extremes)
        guard extremes[0] == -extremes[2] && extremes[1] == -extremes[3] else {
            throw .parametersDiverged(step: step)
        }
    }
}

/// Runs a data-layer call, carrying its error as a training error.
public func dataError<Result>(_ body: () throws(IDXError) -> Result) throws(TrainingError) -> Result {
    do { return try body() } catch { throw .data(error) }
}
