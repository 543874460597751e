import ArgumentParser
import Training
import CNN
import KernelPaths

/// `mnist-ddp bench kernels`: the speed of every kernel of a training step on one core.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time every kernel of a training step on one core, against the core's measured peak.",
        discussion: """
            Runs training steps on a batch of random images and reports, per layer and direction, \
            the time per batch, GFLOP/s and share of the peak, which is measured too, with a loop of \
            independent fused multiply-adds that never leave the registers. Times are the measuring \
            thread's CPU time (so other processes on a shared machine do not count), the best of \
            the repeats; the whole step is given in wall time as well.

            The kernels run in the best instruction set this CPU supports (see --list-kernels), \
            or in the one named by $\(KernelPath.environmentVariable).

            With --model, the network's own layers are timed instead of the seed network's \
            specialised kernels: each layer's forward and backward pass, with its FLOPs from the \
            network's plan (see `mnist-ddp model --help` for the syntax).

            It also times writing a batch from its bytes before each step, plainly and with \
            --augment at its default bounds (its sampler on the same path as the kernels), on \
            images inked within MNIST's central 20×20 box, each as a share of the training step \
            (for networks of 1×28×28 inputs).
            """
    )

    @Option(help: ArgumentHelp("The network: a preset, a layer list, or @FILE.", valueName: "network"))
    var model = "seed"

    @Option(help: ArgumentHelp("The shape of one input, channels×height×width.", valueName: "CxHxW"))
    var input = BenchKernels.mnistInput

    @Option(help: "The number of classes the last layer tells apart.")
    var classes = 10

    @Option(help: "Images per batch.")
    var batchSize = 60

    @Option(help: "Training steps per repeat.")
    var iterations = 100

    @Option(help: "Repeats; each figure is the best of them.")
    var repeats = 5

    @OptionGroup var json: JSONOutput

    @Flag(help: "Print the kernel paths this CPU runs, fastest (the default) first, one a line, and exit.")
    var listKernels = false

    func validate() throws {
        for (name, value) in [("--batch-size", batchSize), ("--iterations", iterations), ("--repeats", repeats)]
        where value < 1 {
            throw ValidationError("\(name) must be at least 1, not \(value)")
        }
        _ = try plan()
    }

    /// MNIST's images, the default input.
    static let mnistInput = InputShape(dimensions: [1, 28, 28])

    /// The network planned for the input and classes given; a bad description is one line.
    func plan() throws -> ModelPlan {
        do throws(ModelSpecError) {
            let plan = try ModelPlan(try ModelSpec(argument: model), inputShape: input.dimensions, classCount: classes)
            try plan.check(batch: batchSize)
            return plan
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        if listKernels {
            for path in KernelPath.supported { print(path) }
            return
        }
        let report = KernelBenchmark.run(plan: try plan(), batchSize: batchSize, iterations: iterations, repeats: repeats)
        // The filling writes MNIST's images; it is a share of the step only of a network that takes them.
        let filling = input.dimensions == Self.mnistInput.dimensions
            ? BatchFillingBenchmark.run(batchSize: batchSize, iterations: iterations, repeats: repeats) : nil
        let results = KernelBenchmarkResults(report, batchFilling: filling, iterations: iterations, repeats: repeats)
        if json.printsTable { print(results.formatted) }
        try json.write(results)
    }
}

/// A kernel benchmark report as printed and as written to JSON.
struct KernelBenchmarkResults: Encodable {
    struct Kernel: Encodable {
        let name: String
        let microsecondsPerBatch: Double
        /// nil for the memory-bound passes, which do no useful floating-point work.
        let gflopsPerSecond: Double?
        let fractionOfPeak: Double?
        /// Of the sum of all kernels' times.
        let fractionOfKernelTime: Double
    }

    struct Step: Encodable {
        let microsecondsPerBatch: Double
        let wallMicrosecondsPerBatch: Double
        let samplesPerSecond: Double
        let gflopsPerSecond: Double
        let fractionOfPeak: Double
        let flopsPerSample: Int
    }

    /// Writing one batch of images from their bytes, outside the training step.
    struct BatchFilling: Encodable {
        let plainMicrosecondsPerBatch: Double
        let augmentedMicrosecondsPerBatch: Double
        /// What `--augment` adds to a batch: the augmented filling less the plain one it replaces.
        let addedByAugmentationMicrosecondsPerBatch: Double
        /// Of the training step's CPU time.
        let plainFractionOfTrainStep: Double
        let augmentedFractionOfTrainStep: Double
        let addedByAugmentationFractionOfTrainStep: Double
    }

    /// The network's layer list, every layer named and every width given.
    let model: String
    let kernelPath: String
    let batchSize: Int
    let iterations: Int
    let repeats: Int
    let clock = "thread CPU time, best of repeats"
    let peakGflopsPerSecondOneCore: Double
    let kernels: [Kernel]
    let trainStep: Step
    /// nil for networks whose inputs are not MNIST's.
    let batchFilling: BatchFilling?
    /// Whether the kernels timed are the seed network's own (`SeedCNN`), not the general layers'.
    let seedKernels: Bool

    init(_ report: KernelBenchmark.Report, batchFilling filling: BatchFillingBenchmark.Report?, iterations: Int, repeats: Int) {
        let peak = report.peakGigaflopsPerSecond
        let kernelSeconds = report.kernels.reduce(0) { $0 + $1.secondsPerBatch }
        model = report.plan.resolvedSpec.description
        seedKernels = report.plan == ParameterLayout.seedPlan
        kernelPath = report.kernelPath.rawValue
        batchSize = report.batchSize
        self.iterations = iterations
        self.repeats = repeats
        peakGflopsPerSecondOneCore = peak
        kernels = report.kernels.map { kernel in
            Kernel(
                name: kernel.name, microsecondsPerBatch: kernel.secondsPerBatch * 1e6,
                gflopsPerSecond: kernel.gigaflopsPerSecond, fractionOfPeak: kernel.gigaflopsPerSecond.map { $0 / peak },
                fractionOfKernelTime: kernel.secondsPerBatch / kernelSeconds)
        }
        trainStep = Step(
            microsecondsPerBatch: report.trainStepSecondsPerBatch * 1e6,
            wallMicrosecondsPerBatch: report.trainStepWallSecondsPerBatch * 1e6,
            samplesPerSecond: report.samplesPerSecond, gflopsPerSecond: report.trainStepGigaflopsPerSecond,
            fractionOfPeak: report.fractionOfPeak, flopsPerSample: report.trainingFlopsPerSample)
        let step = report.trainStepSecondsPerBatch
        guard let filling else {
            batchFilling = nil
            return
        }
        let added = filling.augmentedSecondsPerBatch - filling.plainSecondsPerBatch
        batchFilling = BatchFilling(
            plainMicrosecondsPerBatch: filling.plainSecondsPerBatch * 1e6,
            augmentedMicrosecondsPerBatch: filling.augmentedSecondsPerBatch * 1e6,
            addedByAugmentationMicrosecondsPerBatch: added * 1e6,
            plainFractionOfTrainStep: filling.plainSecondsPerBatch / step,
            augmentedFractionOfTrainStep: filling.augmentedSecondsPerBatch / step,
            addedByAugmentationFractionOfTrainStep: added / step)
    }

    /// Writing the batch before each step, as a share of the step it feeds.
    private func fillingTable(_ batchFilling: BatchFilling) -> TextTable {
        var table = TextTable("batch filling (\(batchSize) images)", "µs/batch", "% of training step")
        table.append(
            "byte/255", fixed(batchFilling.plainMicrosecondsPerBatch, 1),
            fixed(100 * batchFilling.plainFractionOfTrainStep, 1))
        table.append(
            "augment (--augment, default bounds, \(kernelPath) sampler)", fixed(batchFilling.augmentedMicrosecondsPerBatch, 1),
            fixed(100 * batchFilling.augmentedFractionOfTrainStep, 1))
        table.append(
            "added by --augment (augment − byte/255)", fixed(batchFilling.addedByAugmentationMicrosecondsPerBatch, 1),
            fixed(100 * batchFilling.addedByAugmentationFractionOfTrainStep, 1))
        return table
    }

    var formatted: String {
        var table = TextTable("kernel", "µs/batch", "GFLOP/s", "% of peak", "% of time")
        for kernel in kernels {
            table.append(
                kernel.name, fixed(kernel.microsecondsPerBatch, 1), kernel.gflopsPerSecond.map { fixed($0, 1) } ?? "–",
                kernel.fractionOfPeak.map { fixed(100 * $0, 1) } ?? "–", fixed(100 * kernel.fractionOfKernelTime, 1))
        }
        table.append(
            "training step", fixed(trainStep.microsecondsPerBatch, 1), fixed(trainStep.gflopsPerSecond, 1),
            fixed(100 * trainStep.fractionOfPeak, 1), "")
        let title = seedKernels ? "Kernels of one training step" : "Layers of one training step of \(model)"
        let filling = batchFilling.map { "\n\n" + fillingTable($0).formatted } ?? ""
        return """
            \(title) on the \(kernelPath) path, batch \(batchSize), best of \(repeats) repeats of \(iterations) steps \
            (thread CPU time)
            Peak of one core in that instruction set (register-resident FMA loop): \(fixed(peakGflopsPerSecondOneCore, 1)) GFLOP/s

            \(table.formatted)

            Training step: \(fixed(trainStep.microsecondsPerBatch, 1)) µs CPU, \
            \(fixed(trainStep.wallMicrosecondsPerBatch, 1)) µs wall per batch; \
            \(Int(trainStep.samplesPerSecond.rounded())) samples/s on one core, \
            \(fixed(trainStep.gflopsPerSecond, 1)) GFLOP/s = \(fixed(100 * trainStep.fractionOfPeak, 1))% of peak \
            (\(fixed(Double(trainStep.flopsPerSample) / 1e6, 2)) MFLOP per sample)\(filling)
            """
    }
}
