import CNN
import Data
import Distributed

/// Where rank 0 writes; empty on the other ranks.
struct RunOutput {
    var reporter: ProgressReporter
    var checkpoints: CheckpointDirectory?
    /// Keeps other runs out of the checkpoint directory for as long as this one lasts.
    var directoryLock: CheckpointDirectoryLock?
    var metrics: MetricsLog?
    var tensorBoard: TensorBoardLog?
}

/// The steps of one run, from its starting state to the end: the model, the optimizer, where
/// training stands, and the account of where the time went.
final class TrainingLoop {
    private let configuration: TrainingConfiguration
    private let communicator: any Communicator
    private let plan: EpochPlan
    private let shard: LabeledImages
    private let evaluator: Evaluator
    private let testSet: TestSet
    /// This rank's slice of the held-out samples, when `--validation-split` is given.
    private let validationSet: HeldOutSet?
    private var bestValidationAccuracy: Double?
    /// Where this run wrote its best model, if it did.
    private let output: RunOutput
    private let trainingSamples: Int
    /// The data order: a resumed run keeps the one it started with.
    private let seed: UInt64
    private let shuffle: Bool
    private let runID: RunID

    /// The network as planned on the data, and the network computing it.
    private let modelPlan: ModelPlan
    private let model: any TrainableNetwork
    private var optimizer: Adam
    private let schedule: LearningRateSchedule
    /// The parameters `--freeze` keeps as they are, in ascending order.
    private let frozen: [Range<Int>]
    /// The learning rate of the last update.
    private var learningRate: Float = 0
    private var position: TrainingPosition
    /// One batch of this rank's samples, refilled every step.
    private let images: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<Int32>
    /// The step's summed loss, the ranks' stop-signal offers and rank 0's call for a checkpoint
    /// (`--checkpoint-interval`), all-reduced in place together: allocated once, not every step.
    private var stepAgreement = [0.0, 0.0, 0.0]
    /// When rank 0 last wrote a checkpoint (or the loop began), for `--checkpoint-interval`.
    private var lastCheckpointTime: Double
    /// Where rank 0 records the steps taken, for a launcher that restarts failed jobs.
    private let stepReport: StepReport?
    /// Set, alike on every rank, by the first step whose all-reduce carried a stop signal.
    private var stopRequest: StopRequest?
    /// Set, alike on every rank, by the evaluation that reached `--target-accuracy`.
    private var reachedTargetAccuracy = false
    private let watchdog: StallWatchdog?

    private var times = TimeBreakdown()
    private let firstStepTime: Double
    private var samplesTrained = 0
    private var lastCheckpoint: (step: Int, path: String?)
    private var bestModelPath: String?
    private var lastEvaluation: (step: Int, reports: Evaluations)?
    private var isRoot: Bool { communicator.rank == 0 }

    init(
        configuration: TrainingConfiguration, communicator: any Communicator, model modelPlan: ModelPlan, plan: EpochPlan,
        start: TrainingSnapshot, shard: LabeledImages, validationSet: HeldOutSet?, testSet: TestSet,
        output: RunOutput, watchdog: StallWatchdog?
    ) {
        self.validationSet = validationSet
        self.testSet = testSet
        bestValidationAccuracy = start.bestValidationAccuracy
        self.configuration = configuration
        self.communicator = communicator
        self.plan = plan
        self.shard = shard
        self.output = output
        self.watchdog = watchdog
        trainingSamples = plan.shards.last!.upperBound
        seed = start.seed
        shuffle = start.shuffle
        runID = start.runID

        self.modelPlan = modelPlan
        let model = modelPlan.makeNetwork(maxBatch: max(plan.largestBatch, 1))
        model.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: start.parameters) }
        self.model = model
        optimizer = Adam(parameterCount: modelPlan.parameterCount, kernelPath: model.kernelPath)
        schedule = configuration.learningRateSchedule(stepsPerEpoch: plan.stepsPerEpoch, worldSize: communicator.size)
        frozen = TrainingConfiguration.frozenTensors(configuration.frozen, of: modelPlan.modelDescription.tensors).map { $0.range }
        model.freeze(frozen)
        optimizer.step = start.adamStep
        optimizer.firstMoment = start.firstMoment
        optimizer.secondMoment = start.secondMoment
        position = start.position.mapped(from: start.epochPlan, to: plan)
        evaluator = Evaluator(model: modelPlan, classNames: testSet.data.classNames)
        images = .allocate(capacity: model.maxBatch * shard.pixelsPerImage)
        labels = .allocate(capacity: model.maxBatch)
        lastCheckpoint = (position.step, nil)
        stepReport = communicator.rank == 0 ? configuration.stepReportPath.flatMap { StepReport(path: $0) } : nil

        output.reporter.note(modelPlan.summary(batch: plan.largestBatch))
        if position.step > 0 {
            output.reporter.note("resuming at step \(position.step): epoch \(position.epoch + 1), step \(position.stepInEpoch + 1) of \(plan.stepsPerEpoch)")
        }
        let ranks = communicator.size
        if position.step > 0, start.worldSize != ranks, case .perRank = configuration.batchSize {
            let before = start.batchSizes.reduce(0, +)
            output.reporter.note("the global batch changed from \(before) to \(plan.batchSizes.reduce(0, +)) with the ranks (\(start.worldSize) then, \(ranks) now): each rank keeps its batch; --global-batch-size keeps the global one")
        }
        output.reporter.note("training on \(grouped(trainingSamples)) samples, \(ranks) rank\(ranks == 1 ? "" : "s"), batch \(plan.batchSizes[0])\(ranks > 1 ? " per rank" : ""), \(plan.stepsPerEpoch) steps per epoch, \(configuration.epochs) epochs")
        firstStepTime = monotonicSeconds()
        lastCheckpointTime = firstStepTime
    }

    deinit {
        images.deallocate()
        labels.deallocate()
    }

    private var maxSteps: Int { configuration.maxSteps ?? Int.max }

    /// A mean cross-entropy no training model reaches: 430 times the 2.3 of guessing among ten
    /// classes. Above it the run has diverged even while the loss is still finite.
    static let largestSensibleLoss = 1e3

    /// Whether a signal stopped the run before the end that its options set.
    private var isStopping: Bool {
        stopRequest != nil && position.epoch < configuration.epochs && position.step < maxSteps
    }

    /// Rank 0 describes the run to TensorBoard, with `hosts`, every rank's host by rank.
    func describeRun(hosts: [String]) throws(TrainingError) {
        try output.tensorBoard?.describe(
            configuration: configuration, model: modelPlan, kernelPath: model.kernelPath.rawValue, hosts: hosts,
            step: position.step)
    }

    /// Trains epoch after epoch until `--epochs`, `--max-steps` or `--target-accuracy` is
    /// reached, or a signal stops it.
    func trainUntilDone() throws(TrainingError) {
        while position.epoch < configuration.epochs && position.step < maxSteps && stopRequest == nil && !reachedTargetAccuracy {
            try trainEpoch()
        }
    }

    /// The rest of the current epoch, or as much of it as `--max-steps` allows; then, if the
    /// epoch is complete, its evaluation, checkpoint and summary.
    private func trainEpoch() throws(TrainingError) {
        let epochStart = monotonicSeconds()
        let trainingBefore = times.training
        let order = EpochOrder(
            sampleCount: shard.count, seed: seed, epoch: position.epoch, rank: communicator.rank, shuffled: shuffle)
        var epochLoss = 0.0
        var epochSamples = 0
        var window = (start: epochStart, samples: 0)

        let augmentation = configuration.augmentation.map {
            RandomAffine(maxRotationDegrees: $0.maxRotationDegrees, maxShift: $0.maxShift, seed: seed, epoch: position.epoch)
        }
        while position.stepInEpoch < plan.stepsPerEpoch && position.step < maxSteps && stopRequest == nil {
            let (lossSum, samples, checkpointDue) = try step(order: order, augmentation: augmentation)
            // At an epoch's end the epoch's own checkpoint (or the final one) comes next.
            if checkpointDue && position.stepInEpoch < plan.stepsPerEpoch { try saveCheckpoint() }
            epochLoss += lossSum
            epochSamples += samples
            window.samples += samples
            if let every = configuration.consistencyCheckEvery, position.step % every == 0 {
                try checkReplicasAgree()
            }

            let now = monotonicSeconds()
            let rate = Double(window.samples) / max(now - window.start, 1e-9)
            let loss = lossSum / Double(samples)
            output.reporter.stepTaken(
                epoch: position.epoch, epochs: configuration.epochs, stepInEpoch: position.stepInEpoch,
                stepsPerEpoch: plan.stepsPerEpoch, step: position.step, loss: loss, samplesPerSecond: rate,
                secondsLeftInEpoch: Double(plan.stepsPerEpoch - position.stepInEpoch) * (now - epochStart)
                    / Double(position.stepInEpoch))
            if output.reporter.isLogStep(position.step) {
                try output.metrics?.write([
                    ("type", .string("step")), ("step", .integer(position.step)),
                    ("epoch", .integer(position.epoch + 1)), ("loss", .number(loss)), ("lr", .float(learningRate)),
                    ("samples_per_second", .number(rate)), ("elapsed_seconds", .number(now - firstStepTime)),
                ])
                try output.tensorBoard?.step(position.step, loss: loss, learningRate: learningRate, samplesPerSecond: rate)
                window = (now, 0)
            }
        }
        if position.stepInEpoch == plan.stepsPerEpoch {
            try finishEpoch(
                loss: epochLoss / Double(epochSamples), samples: epochSamples,
                trainingSeconds: times.training - trainingBefore, wallSeconds: monotonicSeconds() - epochStart)
        }
    }

    /// One optimizer step: this rank's batch, its gradient, the all-reduce into the exact mean
    /// over every sample of the global step, and the Adam update every rank takes alike.
    /// Returns the summed loss over the global batch, its number of samples, and whether rank 0
    /// called for a checkpoint after it, which every rank then knows alike.
    private func step(
        order: EpochOrder, augmentation: RandomAffine?
    ) throws(TrainingError) -> (lossSum: Double, samples: Int, checkpointDue: Bool) {
        let t0 = monotonicSeconds()
        let local = plan.positions(step: position.stepInEpoch, rank: communicator.rank)
        if let augmentation {
            shard.fillBatch(images: images, labels: labels, positions: order.positions[local], transform: augmentation)
        } else {
            shard.fillBatch(images: images, labels: labels, positions: order.positions[local])
        }
        let globalCount = plan.globalSampleCount(step: position.stepInEpoch)
        let t1 = monotonicSeconds()
        // Dropout masks each sample by its place in the step's global batch, so that they do not
        // depend on the world size, and by the step, so that a resumed run masks as the whole did.
        let firstSample = plan.globalIndexOfFirstSample(step: position.stepInEpoch, rank: communicator.rank)
        let dropout = DropoutContext(seed: seed, step: position.step, firstSample: firstSample)
        stepAgreement[0] = model.computeGradients(
            images: images, labels: labels, count: local.count, gradientScale: 1 / Float(globalCount), dropout: dropout)
        model.withUnsafeMutableGradients { gradients in
            for range in frozen { gradients[range].update(repeating: 0) }
        }
        stepAgreement[1] = StopRequest.offer()
        stepAgreement[2] = isCheckpointDue ? 1 : 0
        let t2 = monotonicSeconds()
        model.withUnsafeMutableGradients { communicator.allReduceSum($0) }
        communicator.allReduceSum(&stepAgreement)
        let t3 = monotonicSeconds()
        let lossSum = stepAgreement[0]
        // Every rank sees the same summed loss, so all stop here together, before the update.
        let meanLoss = lossSum / Double(globalCount)
        guard meanLoss.isFinite, meanLoss <= Self.largestSensibleLoss else {
            let symptom = meanLoss.isFinite ? "mean loss is \(meanLoss), above \(Int(Self.largestSensibleLoss))" : "loss is \(meanLoss)"
            throw .diverged(step: position.step + 1, epoch: position.epoch, symptom: symptom)
        }
        // Every rank sees the same offers too: all finish this step and stop after it.
        stopRequest = stopRequest ?? StopRequest(summedOffers: stepAgreement[1])
        learningRate = schedule.rate(ofUpdate: position.update(in: plan))
        optimizer.update(model, learningRate: learningRate, frozen: frozen)
        // Every rank holds the same parameters, so all see this alike too; the model is not saved.
        guard model.withUnsafeParameters({ $0.allSatisfy(\.isFinite) }) else {
            throw .diverged(step: position.step + 1, epoch: position.epoch, symptom: "parameters are not finite after the update")
        }
        let t4 = monotonicSeconds()
        times.data += t1 - t0
        times.compute += t2 - t1
        times.allReduce += t3 - t2
        times.optimizer += t4 - t3
        position.step += 1
        position.stepInEpoch += 1
        samplesTrained += globalCount
        watchdog?.progress()
        stepReport?.record(step: position.step)
        return (lossSum, globalCount, stepAgreement[2] > 0)
    }

    /// Whether `--checkpoint-interval` has passed since rank 0's last checkpoint; only rank 0's
    /// answer counts, as only it writes.
    private var isCheckpointDue: Bool {
        guard isRoot, let interval = configuration.checkpointInterval else { return false }
        return monotonicSeconds() - lastCheckpointTime >= Double(interval)
    }

    private func finishEpoch(loss: Double, samples: Int, trainingSeconds: Double, wallSeconds: Double) throws(TrainingError) {
        let epochNumber = position.epoch + 1
        position.epoch += 1
        position.stepInEpoch = 0
        // A stopping run leaves the evaluation out: mpirun kills ranks about 2 s after it
        // forwards SIGTERM, so only the checkpoint may stand between the signal and the exit.
        let evaluates = epochNumber % configuration.evalEvery == 0 || epochNumber == configuration.epochs
        let evaluations = evaluates && !isStopping ? try evaluate() : nil
        if let target = configuration.targetAccuracy, let accuracy = evaluations?.test?.accuracy {
            reachedTargetAccuracy = accuracy * 100 >= target
        }
        if epochNumber % configuration.checkpointEvery == 0 { try saveCheckpoint() }
        // The other ranks wait in the next step for rank 0's checkpoint: their watchdog counts
        // from here, rank 0's from when it is done.
        watchdog?.progress()

        let rate = Double(samples) / max(trainingSeconds, 1e-9)
        var line = "epoch \(epochNumber)/\(configuration.epochs)  train loss \(fixed(loss, 4))"
        var record: [(String, JSONValue)] = [
            ("type", .string("epoch")), ("epoch", .integer(epochNumber)), ("step", .integer(position.step)),
            ("train_loss", .number(loss)), ("epoch_seconds", .number(trainingSeconds)),
            ("samples_per_second", .number(rate)), ("samples", .integer(samples)),
        ]
        for report in evaluations?.all ?? [] {
            let name = report.setName
            line += "  \(name) loss \(fixed(report.meanLoss, 4))  \(name) accuracy \(fixed(report.accuracy * 100, 2))%"
            record += [("\(name)_loss", .number(report.meanLoss)), ("\(name)_accuracy", .number(report.accuracy))]
        }
        line += "  \(fixed(wallSeconds, 2)) s  \(grouped(rate)) samples/s"
        output.reporter.epochFinished(line)
        if reachedTargetAccuracy {
            output.reporter.note("the test accuracy reached --target-accuracy \(configuration.targetAccuracy!)%: training ends")
        }
        try output.metrics?.write(record)
    }

    /// Rank 0 writes the state after the last step taken; the others have nothing to do.
    private func saveCheckpoint() throws(TrainingError) {
        guard let checkpoints = output.checkpoints else { return }
        let began = monotonicSeconds()
        let path = checkpoints.checkpointPath(forStep: position.step)
        do {
            try writeAtomically(CheckpointFormat.encode(snapshot(), configuration: configuration, classNames: evaluator.classNames), to: path)
        } catch {
            throw .checkpointWrite(error)
        }
        do {
            try checkpoints.prune(keepingNewest: configuration.keep, latest: path) { [runID] in
                CheckpointFormat.runID(ofCheckpointAt: $0.path) == runID
            }
        } catch {
            throw .checkpointDirectory(error)
        }
        lastCheckpoint = (position.step, path)
        lastCheckpointTime = monotonicSeconds()
        times.checkpoint += monotonicSeconds() - began
    }

    /// Everything a resume needs to go on from here.
    private func snapshot() -> TrainingSnapshot {
        TrainingSnapshot(
            model: modelPlan, parameters: model.withUnsafeParameters(Array.init), adamStep: optimizer.step,
            firstMoment: optimizer.firstMoment, secondMoment: optimizer.secondMoment,
            position: position, worldSize: communicator.size, batchSizes: plan.batchSizes,
            trainingSamples: trainingSamples, seed: seed, shuffle: shuffle, runID: runID,
            bestValidationAccuracy: bestValidationAccuracy)
    }

    /// The reports on the current model, every rank scoring its slice and every rank getting
    /// them whole: the validation split when one is held out, and the test set unless a search
    /// holds it back. A validation accuracy better than any before in this run (resumes
    /// included) saves the model as the best.
    private func evaluate() throws(TrainingError) -> Evaluations {
        let began = monotonicSeconds()
        var evaluations = Evaluations()
        try model.withUnsafeParameters { parameters throws(TrainingError) in
            if let validationSet {
                evaluations.validation = try evaluator.evaluate(parameters: parameters, on: validationSet, communicator: communicator)
            }
            if configuration.evaluatesTestSet {
                evaluations.test = try evaluator.evaluate(parameters: parameters, on: testSet, communicator: communicator)
            }
        }
        times.evaluation += monotonicSeconds() - began
        lastEvaluation = (position.step, evaluations)
        try output.tensorBoard?.evaluation(
            evaluations, model: modelPlan, parameters: model.withUnsafeParameters(Array.init), step: position.step)
        if let accuracy = evaluations.validation?.accuracy, accuracy > bestValidationAccuracy ?? -1 {
            bestValidationAccuracy = accuracy
            try saveBestModel()
        }
        return evaluations
    }

    /// Rank 0 writes the current state as `best.safetensors`, atomically; it is never pruned.
    private func saveBestModel() throws(TrainingError) {
        guard let checkpoints = output.checkpoints else { return }
        let began = monotonicSeconds()
        let path = checkpoints.path + "/" + CheckpointDirectory.bestModelFileName
        do {
            try writeAtomically(CheckpointFormat.encode(snapshot(), configuration: configuration, classNames: evaluator.classNames), to: path)
        } catch {
            throw .checkpointWrite(error)
        }
        bestModelPath = path
        times.checkpoint += monotonicSeconds() - began
    }

    /// Verifies that every rank holds bit-for-bit the same parameters: one all-reduce of the
    /// maximum and minimum of their fingerprint.
    private func checkReplicasAgree() throws(TrainingError) {
        var fingerprint = FloatFingerprint()
        model.withUnsafeParameters { fingerprint.add($0) }
        let hash = fingerprint.value
        // Doubles carry 53 bits exactly: compare the hash in two 32-bit halves.
        let halves = [Double(hash >> 32), Double(hash & 0xFFFF_FFFF)]
        var extremes = halves + halves.map { -$0 }
        communicator.allReduceMax(&extremes)
        guard extremes[0] == -extremes[2] && extremes[1] == -extremes[3] else {
            throw .parametersDiverged(step: position.step)
        }
    }

    /// The final checkpoint and evaluation (unless the last epoch's are current), and the summary.
    func finish(startTime: Double, communicatorStartSeconds: Double) throws(TrainingError) -> TrainingSummary {
        output.reporter.clearProgressBar()
        // A run that took no step since its last checkpoint (or since the one it resumed) has
        // nothing new to save.
        if lastCheckpoint.step != position.step || position.step == 0 { try saveCheckpoint() }
        let final: Evaluations? = if isStopping {
            nil
        } else if lastEvaluation?.step == position.step {
            lastEvaluation?.reports
        } else {
            try evaluate()
        }
        watchdog?.progress()
        var peak = [Double(peakResidentBytes())]
        communicator.allReduceMax(&peak)
        let summary = TrainingSummary(
            testReport: final?.test, validationReport: final?.validation, bestModelPath: bestModelPath,
            bestValidationAccuracy: bestValidationAccuracy, steps: position.step, samples: samplesTrained,
            wallSeconds: monotonicSeconds() - startTime, trainingSeconds: times.training, times: times,
            peakResidentBytes: Int(peak[0]), worldSize: communicator.size, checkpointPath: lastCheckpoint.path,
            startupSeconds: firstStepTime - startTime, communicatorStartSeconds: communicatorStartSeconds,
            kernelPath: model.kernelPath.rawValue,
            stopped: stopRequest.flatMap { isStopping ? $0 : nil }.map {
                StoppedRun(
                    request: $0, step: position.step, epoch: position.epoch, stepInEpoch: position.stepInEpoch,
                    stepsPerEpoch: plan.stepsPerEpoch, checkpointPath: lastCheckpoint.path)
            })
        if let metrics = output.metrics {
            var record: [(String, JSONValue)] = [("type", .string("summary"))]
            for report in final?.all ?? [] {
                record += [("\(report.setName)_accuracy", .number(report.accuracy)), ("\(report.setName)_loss", .number(report.meanLoss))]
            }
            try metrics.write(record + [
                ("wall_seconds", .number(summary.wallSeconds)),
                ("training_seconds", .number(summary.trainingSeconds)),
                ("samples_per_second", .number(summary.samplesPerSecond)),
                ("epoch_seconds", .number(Double(trainingSamples) / max(summary.samplesPerSecond, 1e-9))),
                ("compute_seconds", .number(times.compute)), ("all_reduce_seconds", .number(times.allReduce)),
                ("optimizer_seconds", .number(times.optimizer)), ("data_seconds", .number(times.data)),
                ("evaluation_seconds", .number(times.evaluation)), ("checkpoint_seconds", .number(times.checkpoint)),
                ("peak_rss_bytes", .integer(summary.peakResidentBytes)), ("world_size", .integer(communicator.size)),
                ("steps", .integer(position.step)), ("samples", .integer(samplesTrained)),
                ("startup_seconds", .number(summary.startupSeconds)),
                ("mpi_init_seconds", .number(communicatorStartSeconds)),
            ] + (configuration.targetAccuracy == nil ? [] : [("reached_target_accuracy", .bool(reachedTargetAccuracy))]))
        }
        try output.tensorBoard?.finish(summary: summary, step: position.step)
        return summary
    }
}
