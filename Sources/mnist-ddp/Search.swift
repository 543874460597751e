import ArgumentParser
import CNN
import Data
import Distributed
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// `mnist-ddp search`: a grid search over the cluster, chosen on a validation split.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train every combination of the values given and rank them by validation accuracy.",
        discussion: """
            Every combination of --lr, --batch-size, --augment, --lr-schedule and --model is one \
            configuration. Under mpirun the ranks are split into --groups groups (MPI_Comm_split); \
            each group trains a contiguous block of the configurations (in grid order) data-parallel. \
            Rank 0 prints the table, writes results.csv, results.json and the best \
            configuration's model (best.safetensors) to --output, and only then scores that model on \
            the test set. Alone it trains the configurations one after another.

            With --tensorboard DIR, the search is the run DIR/RUN, which holds the HParams \
            experiment (the values tried, scored by validation accuracy, loss and train time), and \
            each configuration N its own run RUN/config-N.
            """
    )

    @Option(name: .customLong("lr"), help: ArgumentHelp("Adam's learning rates to try, comma-separated.", valueName: "list"))
    var learningRates = "0.001,0.003"

    @Option(help: ArgumentHelp("Samples per rank per step to try, comma-separated.", valueName: "list"))
    var batchSize = "30,60"

    @Option(help: ArgumentHelp("Augmentation to try: on, off, or both (on,off).", valueName: "list"))
    var augment = "off"

    @Option(name: .customLong("lr-schedule"), help: ArgumentHelp(
        "Learning-rate schedules to try, comma-separated: constant, cosine, step.", valueName: "list"))
    var learningRateSchedules = "constant"

    @Option(help: ArgumentHelp("Networks to try, separated by ';': each \(ModelOption.syntax).", valueName: "networks"))
    var model = "seed"

    @Option(help: "Passes over the training set per configuration.")
    var epochs = 5

    @Option(help: ArgumentHelp(
        "The last samples of the training file held out to rank the configurations, a fraction in (0, 1) or a count.",
        valueName: "x"))
    var validationSplit: ValidationSplit = .fraction(0.1)

    @Option(help: "Groups of ranks training configurations side by side. Default: as many as the ranks and configurations allow.")
    var groups: Int?

    @Option(help: ArgumentHelp("Where the results, each configuration's checkpoints and best.safetensors go.", valueName: "dir"))
    var output = "search"

    @Option(help: "Seed of the initial parameters and of the data order, the same for every configuration.")
    var seed: UInt64 = 0

    @OptionGroup var data: DataOptions<DefaultsToMNIST>

    @OptionGroup var tensorBoard: TensorBoardOptions

    @Flag(help: "Search alone even when launched by mpirun.")
    var local = false

    func points() throws -> [SearchPoint] {
        func list<Value>(_ text: String, _ option: String, _ parse: (String) -> Value?) throws -> [Value] {
            let values = text.split(separator: ",").map { parse(String($0)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
                throw ValidationError("\(option) \(text): expected a comma-separated list of values")
            }
            return values.map { $0! }
        }
        return SearchPoint.grid(
            learningRates: try list(learningRates, "--lr") { Float($0) },
            batchSizes: try list(batchSize, "--batch-size") { Int($0) },
            augment: try list(augment, "--augment") { ["on": true, "off": false][$0] },
            schedules: try list(learningRateSchedules, "--lr-schedule") { LearningRateDecay(rawValue: $0) },
            models: try ModelOption.specs(model))
    }

    func validate() throws {
        _ = try points()
    }

    func run() throws {
        let startTime = monotonicSeconds()
        setvbuf(stdout, nil, _IOLBF, 0)
        let environment = environmentVariables()
        let points = try points()
        let mode = LaunchMode.detect(environment: environment, forced: local ? .local : nil)
        let world = try startCommunicator(for: mode)
        defer { (world as? MPICommunicator)?.finalize() }

        var base = TrainingConfiguration()
        base.epochs = epochs
        base.seed = seed
        base.validationSplit = validationSplit
        base.dataset = data.dataset ?? .mnist
        base.dataDirectory = data.directory(of: base.dataset, environment: environment)
        base.imageOptions = data.imageOptions
        base.tensorBoard = tensorBoard.settings
        let search = GridSearch(
            base: base, points: points, groups: groups ?? min(world.size, points.count), outputDirectory: output)
        do {
            if world.isRoot {
                print("searching \(points.count) configurations, \(base.epochs) epochs each, on \(world.size) rank\(world.size == 1 ? "" : "s") in \(search.groups) group\(search.groups == 1 ? "" : "s")")
            }
            let results = try search.run(world: world) { result in
                print("config \(result.number)/\(points.count) \(result.point.label): " + (result.error.map { "failed: \($0)" }
                    ?? "validation accuracy \(percent(result.validationAccuracy))  \(fixed(result.trainSeconds, 1)) s on \(result.ranks) rank\(result.ranks == 1 ? "" : "s")"))
            }
            guard world.isRoot else { return }
            let outcome = try search.conclude(results)
            print()
            print(table(outcome.ranked))
            print()
            print("search wall time \(fixed(monotonicSeconds() - startTime, 1)) s; results in \(output)/results.csv and \(output)/results.json")
            if let best = outcome.ranked.first, let path = outcome.bestModelPath, let test = outcome.testReport {
                print("best: config \(best.number) (\(best.point.label)), validation accuracy \(percent(best.validationAccuracy)); model \(path)")
                print("best model on the test set, scored once: \(test.summaryLine)")
            } else {
                print("every configuration failed")
            }
        } catch {
            throw reportFailure(error, on: world)
        }
    }

    private func percent(_ accuracy: Double?) -> String {
        accuracy.map { fixed($0 * 100, 2) + "%" } ?? "—"
    }

    /// The results ranked, one row per configuration; a failed one says why in its row.
    private func table(_ ranked: [SearchResult]) -> String {
        let header = ["rank", "config", "lr", "batch", "augment", "schedule", "model", "val acc", "val loss", "train s", "samples/s", "ranks"]
        let rows = ranked.enumerated().map { place, result in
            [
                String(place + 1), String(result.number), String(result.point.learningRate), String(result.point.batchSize),
                result.point.augment ? "on" : "off", result.point.schedule.rawValue, result.point.model.name,
                percent(result.validationAccuracy),
                result.validationLoss.map { fixed($0, 4) } ?? "—", fixed(result.trainSeconds, 1),
                grouped(Int(result.samplesPerSecond)), String(result.ranks),
            ] + (result.error.map { ["failed: \($0)"] } ?? [])
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column < widths.count ? cell + String(repeating: " ", count: widths[column] - cell.count) : cell
            }.joined(separator: "  ").trimmingSuffixSpaces
        }.joined(separator: "\n")
    }
}

extension SearchPoint {
    /// "lr 0.003, batch 60, augment off, constant, seed"
    var label: String {
        "lr \(learningRate), batch \(batchSize), augment \(augment ? "on" : "off"), \(schedule.rawValue), \(model.name)"
    }
}

extension String {
    fileprivate var trimmingSuffixSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
