import CNN
import Data
import Distributed
import TensorBoard

/// The values one configuration of a grid search tries.
public struct SearchPoint: Sendable, Equatable {
    public var learningRate: Float
    public var batchSize: Int
    public var augment: Bool
    public var schedule: LearningRateDecay
    /// The network trained.
    public var model: ModelSpec

    public init(learningRate: Float, batchSize: Int, augment: Bool, schedule: LearningRateDecay, model: ModelSpec = .seed) {
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.augment = augment
        self.schedule = schedule
        self.model = model
    }

    /// The values a search varies, as TensorBoard's HParams tab names them.
    static let hyperparameters: [(name: String, value: @Sendable (SearchPoint) -> HyperparameterValue)] = [
        // The rate as its Float prints (0.001, not 0.0010000000474974513).
        ("lr", { .number(Double(String($0.learningRate))!) }), ("batch_size", { .number(Double($0.batchSize)) }),
        ("augment", { .boolean($0.augment) }), ("lr_schedule", { .text($0.schedule.rawValue) }),
        ("model", { .text($0.model.name) }),
    ]

    /// Every combination of the values, learning rate slowest, model fastest (so that every
    /// group of ranks trains each network alike, however long each takes).
    public static func grid(
        learningRates: [Float], batchSizes: [Int], augment: [Bool], schedules: [LearningRateDecay],
        models: [ModelSpec] = [.seed]
    ) -> [SearchPoint] {
        learningRates.flatMap { rate in
            batchSizes.flatMap { batch in
                augment.flatMap { augmented in
                    schedules.flatMap { schedule in
                        models.map {
                            SearchPoint(learningRate: rate, batchSize: batch, augment: augmented, schedule: schedule, model: $0)
                        }
                    }
                }
            }
        }
    }
}

/// What one configuration's training gave, or why it failed.
public struct SearchResult: Sendable, Equatable {
    /// The configuration's number, from 1, in grid order.
    public var number: Int
    public var point: SearchPoint
    /// The ranks that trained it together.
    public var ranks: Int
    /// The final model's score on the validation split; nil when the run failed.
    public var validationAccuracy: Double?
    public var validationLoss: Double?
    public var trainSeconds: Double
    public var samplesPerSecond: Double
    /// The final checkpoint of the configuration.
    public var checkpointPath: String?
    /// Why the configuration failed; nil when it trained.
    public var error: String?
}

/// A grid search over the cluster: the world is split into groups of ranks (`MPI_Comm_split`),
/// each group trains its share of the configurations one after another, data-parallel, with the
/// same trainer as `train`; then every result is gathered on world rank 0. Which group trains
/// which configuration depends only on their numbers, never on timing: the groups are contiguous
/// blocks of ranks, and each takes a contiguous block of configurations in grid order, so that
/// the fastest-varying values (augmentation, schedule) are spread over every group alike.
public struct GridSearch {
    /// The settings every configuration shares (epochs, validation split, data, seed).
    public let base: TrainingConfiguration
    public let points: [SearchPoint]
    public let groups: Int
    public let outputDirectory: String

    public init(base: TrainingConfiguration, points: [SearchPoint], groups: Int, outputDirectory: String) {
        self.base = base
        self.points = points
        self.groups = groups
        self.outputDirectory = outputDirectory
    }

    /// The group of world rank `rank`: G contiguous blocks of ranks, whose sizes differ by at most one.
    public static func group(ofRank rank: Int, worldSize: Int, groups: Int) -> Int {
        (0..<groups).first { Sharding.range(of: worldSize, rank: $0, worldSize: groups).contains(rank) }!
    }

    /// The group that trains configuration `index` (from 0) of `count`.
    public static func group(ofConfiguration index: Int, count: Int, groups: Int) -> Int {
        group(ofRank: index, worldSize: count, groups: groups)
    }

    /// The world rank that leads group `group` (its rank 0), which reports its results.
    static func leader(ofGroup group: Int, worldSize: Int, groups: Int) -> Int {
        Sharding.range(of: worldSize, rank: group, worldSize: groups).lowerBound
    }

    /// The training configuration of point `index` (from 0), writing into its own directory;
    /// with `--tensorboard`, its run is `config-N` below the search's run `tensorBoardRun`, and
    /// records its values as a session of the search's HParams experiment.
    public func configuration(_ index: Int, tensorBoardRun: String? = nil) -> TrainingConfiguration {
        let point = points[index]
        var configuration = base
        configuration.learningRate = point.learningRate
        configuration.batchSize = .perRank(point.batchSize)
        configuration.augmentation = point.augment ? base.augmentation ?? Augmentation() : nil
        configuration.learningRateDecay = point.schedule
        configuration.model = point.model
        configuration.checkpointDirectory = "\(outputDirectory)/config-\(index + 1)"
        configuration.metricsPath = "\(configuration.checkpointDirectory)/metrics.jsonl"
        configuration.overwrite = true
        configuration.quiet = true
        configuration.evaluatesTestSet = false
        if let settings = base.tensorBoard, let tensorBoardRun {
            configuration.tensorBoard = TensorBoardSettings(
                directory: settings.directory + "/" + tensorBoardRun, runName: "config-\(index + 1)",
                session: Dictionary(uniqueKeysWithValues: SearchPoint.hyperparameters.map { ($0.name, $0.value(point)) }))
        }
        return configuration
    }

    /// The search's run below `--tensorboard`: `--run-name`, else an id world rank 0 draws and
    /// sends to all. World rank 0 writes the HParams experiment there, above its configurations'
    /// runs. Every rank enters the same collectives, since every rank has the same options.
    private func startTensorBoardRun(world: any Communicator) throws(TrainingError) -> String? {
        guard let settings = base.tensorBoard else { return nil }
        let run = settings.runName ?? String(
            decoding: world.broadcast(bytes: world.isRoot ? Array(RunID.random().description.utf8) : [], root: 0),
            as: UTF8.self)
        try world.collectively { () throws(TrainingError) in
            guard world.isRoot else { return }
            do throws(EventFileError) {
                let writer = try SummaryWriter(directory: settings.directory + "/" + run, host: hostName())
                try writer.hyperparameterExperiment(
                    SearchPoint.hyperparameters.map { hyperparameter in
                        var values: [HyperparameterValue] = []
                        for point in points where !values.contains(hyperparameter.value(point)) {
                            values.append(hyperparameter.value(point))
                        }
                        return Hyperparameter(name: hyperparameter.name, values: values)
                    },
                    metrics: [
                        Metric(tag: TensorBoardTag.accuracy("validation"), displayName: "validation accuracy"),
                        Metric(tag: TensorBoardTag.loss("validation"), displayName: "validation loss"),
                        Metric(tag: TensorBoardTag.wallSeconds, displayName: "train time (s)"),
                    ])
            } catch {
                throw .tensorBoard(error)
            }
        }
        return run
    }

    /// Trains every configuration and returns all results, in grid order, on every rank.
    /// `finished` is called on each group's rank 0 as each of its configurations ends.
    public func run(
        world: any Communicator, finished: (SearchResult) -> Void
    ) throws(TrainingError) -> [SearchResult] {
        guard (1...min(world.size, points.count)).contains(groups) else {
            throw .invalidOption("--groups must be between 1 and \(min(world.size, points.count)) (ranks and configurations), got \(groups)")
        }
        let myGroup = Self.group(ofRank: world.rank, worldSize: world.size, groups: groups)
        let tensorBoardRun = try startTensorBoardRun(world: world)
        let group = world.split(color: myGroup, key: world.rank)
        var mine: [Int: SearchResult] = [:]
        for index in points.indices where Self.group(ofConfiguration: index, count: points.count, groups: groups) == myGroup {
            let result = try train(index, on: group, tensorBoardRun: tensorBoardRun)
            if group.isRoot { finished(result) }
            mine[index] = result
        }
        // Every rank enters the same broadcasts in the same order: one per configuration, from
        // the leader of the group that trained it.
        return points.indices.map { index in
            let owner = Self.group(ofConfiguration: index, count: points.count, groups: groups)
            let root = Self.leader(ofGroup: owner, worldSize: world.size, groups: groups)
            let bytes = world.rank == root ? Array(mine[index]!.encoded.utf8) : []
            let received = String(decoding: world.broadcast(bytes: bytes, root: root), as: UTF8.self)
            return SearchResult(decoding: received, number: index + 1, point: points[index])
        }
    }

    /// One configuration on the ranks of `group`. An error every rank raises alike (an option
    /// out of range, a diverged loss) fails this configuration alone; any other leaves ranks
    /// waiting in collectives and ends the job.
    private func train(_ index: Int, on group: any Communicator, tensorBoardRun: String?) throws(TrainingError) -> SearchResult {
        let configuration = configuration(index, tensorBoardRun: tensorBoardRun)
        var result = SearchResult(
            number: index + 1, point: points[index], ranks: group.size, trainSeconds: 0, samplesPerSecond: 0)
        let began = monotonicSeconds()
        do {
            let summary = try Trainer(configuration: configuration, communicator: group).run()
            result.validationAccuracy = summary.validationReport?.accuracy
            result.validationLoss = summary.validationReport?.meanLoss
            result.samplesPerSecond = summary.samplesPerSecond
            result.checkpointPath = summary.checkpointPath
        } catch where error.isRaisedOnEveryRank {
            result.error = error.description
        }
        result.trainSeconds = monotonicSeconds() - began
        return result
    }
}

extension SearchResult {
    /// The measured fields as one line of text, to travel from a group's leader to every rank.
    var encoded: String {
        [
            validationAccuracy.map { String($0) } ?? "", validationLoss.map { String($0) } ?? "",
            String(trainSeconds), String(samplesPerSecond), String(ranks), checkpointPath ?? "",
            error ?? "",
        ].map { $0.replacingTabs }.joined(separator: "\t")
    }

    init(decoding line: String, number: Int, point: SearchPoint) {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        self.init(
            number: number, point: point, ranks: Int(fields[4]) ?? 0, validationAccuracy: Double(fields[0]),
            validationLoss: Double(fields[1]), trainSeconds: Double(fields[2]) ?? 0,
            samplesPerSecond: Double(fields[3]) ?? 0, checkpointPath: fields[5].isEmpty ? nil : fields[5],
            error: fields[6].isEmpty ? nil : fields[6])
    }
}

extension String {
    fileprivate var replacingTabs: String { String(map { $0 == "\t" ? " " : $0 }) }
}

/// A finished search as world rank 0 reports it.
public struct SearchOutcome: Sendable {
    /// Every configuration, best validation accuracy first; failed ones last, in grid order.
    public var ranked: [SearchResult]
    /// The best configuration's model, copied to `best.safetensors` in the output directory.
    public var bestModelPath: String?
    /// That model scored on the test set: the only time the search looks at it.
    public var testReport: ClassificationReport?
}

extension GridSearch {
    /// On world rank 0: ranks the results, writes `results.csv`, `results.json` and the best
    /// configuration's final model as `best.safetensors`, then scores that model on the test set.
    public func conclude(_ results: [SearchResult]) throws(TrainingError) -> SearchOutcome {
        let ranked = results.sorted { a, b in
            switch (a.validationAccuracy, b.validationAccuracy) {
            case let (x?, y?): x != y ? x > y : a.number < b.number
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): a.number < b.number
            }
        }
        var outcome = SearchOutcome(ranked: ranked)
        try write(Array(csv(ranked).utf8), named: "results.csv")
        try write(Array(JSONValue.array(ranked.map(\.json)).json.utf8), named: "results.json")
        guard let best = ranked.first, best.validationAccuracy != nil, let checkpoint = best.checkpointPath else {
            return outcome
        }
        let path = "\(outputDirectory)/\(CheckpointDirectory.bestModelFileName)"
        try write(CheckpointFormat.open(checkpoint).bytes, named: CheckpointDirectory.bestModelFileName)
        outcome.bestModelPath = path
        // Rank 0 concludes alone, once the other ranks are done: it scores the whole set itself.
        let testSet = try dataError { () throws(DataError) in
            try TestSet(of: base.dataset.open(directory: base.dataDirectory, options: base.imageOptions))
        }
        outcome.testReport = try TrainedModel.load(path)
            .report(on: testSet, classNames: testSet.data.classNames, communicator: LocalCommunicator())
        return outcome
    }

    private func write(_ bytes: [UInt8], named name: String) throws(TrainingError) {
        do {
            try writeAtomically(bytes, to: "\(outputDirectory)/\(name)")
        } catch {
            throw .checkpointWrite(error)
        }
    }

    /// `text` quoted as a CSV field, its quotes doubled: it may hold commas.
    private func csvField(_ text: String) -> String {
        "\"" + text.map { character in character == "\"" ? "\"\"" : String(character) }.joined() + "\""
    }

    private func csv(_ ranked: [SearchResult]) -> String {
        let header = "config,lr,batch_size,augment,lr_schedule,model,validation_accuracy,validation_loss,train_seconds,samples_per_second,ranks,error"
        let rows = ranked.map { result in
            let error = result.error.map(csvField) ?? ""
            return [
                String(result.number), String(result.point.learningRate), String(result.point.batchSize),
                result.point.augment ? "on" : "off", result.point.schedule.rawValue, csvField(result.point.model.name),
                result.validationAccuracy.map { String($0) } ?? "", result.validationLoss.map { String($0) } ?? "",
                String(result.trainSeconds), String(result.samplesPerSecond), String(result.ranks), error,
            ].joined(separator: ",")
        }
        return ([header] + rows).joined(separator: "\n") + "\n"
    }
}

extension SearchResult {
    var json: JSONValue {
        .object([
            ("config", .integer(number)), ("lr", .float(point.learningRate)), ("batch_size", .integer(point.batchSize)),
            ("augment", .bool(point.augment)), ("lr_schedule", .string(point.schedule.rawValue)),
            ("model", .string(point.model.name)),
            ("validation_accuracy", validationAccuracy.map(JSONValue.number) ?? .null),
            ("validation_loss", validationLoss.map(JSONValue.number) ?? .null),
            ("train_seconds", .number(trainSeconds)), ("samples_per_second", .number(samplesPerSecond)),
            ("ranks", .integer(ranks)), ("error", error.map(JSONValue.string) ?? .null),
        ])
    }
}
