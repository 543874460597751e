#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import CNNKernelInterface
import KernelPaths
import SeededRandom

/// Measures a network's speed on this machine, for the CLI's `bench` command: the time and
/// GFLOP/s of every kernel (for the seed network, every stage of its specialised kernels; for any
/// other, every layer's forward and backward pass), samples per second of a full training step
/// (gradients and Adam), and the core's register-resident FMA peak to compare them with. It
/// prints nothing.
///
/// Times are the CPU time of the measuring thread, which on an idle machine equals wall time but,
/// unlike it, excludes what other processes on a shared machine take; the training step is also
/// given in wall time. Each figure is the best of several repeats.
public enum KernelBenchmark {
    /// One kernel's cost per batch.
    public struct KernelResult: Sendable {
        public let name: String
        public let secondsPerBatch: Double
        /// Useful floating-point operations per batch (multiply and add counted apart); 0 for
        /// the memory-bound passes (pooling, loss, layout changes, Adam).
        public let flopsPerBatch: Double

        /// nil for the memory-bound passes.
        public var gigaflopsPerSecond: Double? {
            flopsPerBatch > 0 ? flopsPerBatch / secondsPerBatch / 1e9 : nil
        }
    }

    public struct Report: Sendable {
        /// The network measured.
        public let plan: ModelPlan
        /// The instruction set the kernels ran in.
        public let kernelPath: KernelPath
        public let batchSize: Int
        /// Every stage of the forward and backward pass in execution order, then Adam.
        public let kernels: [KernelResult]
        /// `computeGradients` plus one Adam update, in CPU time.
        public let trainStepSecondsPerBatch: Double
        /// The same in wall time, which includes any time the machine gave to other processes.
        public let trainStepWallSecondsPerBatch: Double
        /// One core's peak in `kernelPath`'s instruction set, from a loop of independent
        /// register-resident FMAs.
        public let peakGigaflopsPerSecond: Double

        /// Useful FLOPs of one training sample (the seed network's: 0.58 M forward, 1.05 M backward).
        public var trainingFlopsPerSample: Int { plan.trainingFLOPs }
        public var samplesPerSecond: Double { Double(batchSize) / trainStepSecondsPerBatch }
        public var trainStepGigaflopsPerSecond: Double {
            Double(trainingFlopsPerSample) * samplesPerSecond / 1e9
        }
        /// The training step's FLOP rate as a fraction of `peakGigaflopsPerSecond`.
        public var fractionOfPeak: Double { trainStepGigaflopsPerSecond / peakGigaflopsPerSecond }
    }

    /// Runs `iterations` training steps of `plan` (by default the seed network) on a batch of
    /// `batchSize` random inputs on `kernelPath`, `repeats` times, once timing each kernel and once
    /// timing the whole step. The network is the one training would use (`makeNetwork`); dropout
    /// masks change every step, as in training.
    public static func run(
        plan: ModelPlan = ParameterLayout.seedPlan, kernelPath: KernelPath = .active, batchSize: Int = 60,
        iterations: Int = 100, repeats: Int = 5
    ) -> Report {
        precondition(batchSize > 0 && iterations > 0 && repeats > 0, "benchmark sizes must be positive")
        var generator = SeededGenerator(seed: 0)
        let images = (0..<batchSize * plan.inputShape.reduce(1, *)).map { _ in generator.nextUnitFloat() }
        let labels = (0..<batchSize).map { _ in Int32(generator.nextIndex(below: plan.classCount)) }
        // Both networks `makeNetwork` chooses from time their own parts.
        let network = plan.makeNetwork(maxBatch: batchSize, kernelPath: kernelPath) as! any BenchmarkedNetwork
        network.initialize(seed: 0)
        var adam = Adam(parameterCount: plan.parameterCount, kernelPath: kernelPath)
        var step = 0
        func computeGradients() {
            network.computeGradients(
                images: images, labels: labels, count: batchSize, gradientScale: 1 / Float(batchSize),
                dropout: DropoutContext(seed: 0, step: step, firstSample: 0))
            step += 1
        }
        func updateParameters() { adam.update(network, learningRate: 1e-3) }

        let parts = network.timedParts
        var bestPart = [Double](repeating: .infinity, count: parts.count)
        var bestAdam = Double.infinity
        var bestStep = Double.infinity
        var bestWallStep = Double.infinity
        for _ in 0..<repeats {
            var adamTime = 0.0
            let partTimes = network.timingParts {
                for _ in 0..<iterations {
                    computeGradients()
                    adamTime += cpuSeconds(of: updateParameters)
                }
            }
            for part in parts.indices {
                bestPart[part] = min(bestPart[part], partTimes[part] / Double(iterations))
            }
            bestAdam = min(bestAdam, adamTime / Double(iterations))

            let wallStart = ContinuousClock.now
            let stepTime = cpuSeconds {
                for _ in 0..<iterations {
                    computeGradients()
                    updateParameters()
                }
            }
            let wallTime = ContinuousClock.now - wallStart
            bestStep = min(bestStep, stepTime / Double(iterations))
            bestWallStep = min(bestWallStep, seconds(wallTime) / Double(iterations))
        }

        let kernels =
            parts.indices.map { part in
                KernelResult(
                    name: parts[part].name, secondsPerBatch: bestPart[part],
                    flopsPerBatch: Double(parts[part].flopsPerSample * batchSize))
            } + [KernelResult(name: "adam", secondsPerBatch: bestAdam, flopsPerBatch: 0)]
        return Report(
            plan: plan, kernelPath: kernelPath, batchSize: batchSize, kernels: kernels, trainStepSecondsPerBatch: bestStep,
            trainStepWallSecondsPerBatch: bestWallStep, peakGigaflopsPerSecond: measurePeakGigaflopsPerSecond(
                of: kernelPath, iterations: peakIterationsPerStep * iterations))
    }

    /// Rounds of the peak loop per training step timed: about as long (0.2 s per 100 steps).
    static let peakIterationsPerStep = 200_000

    /// One core's FMA peak in `kernelPath`'s instruction set: 12 independent chains of FMAs
    /// (enough to cover the FMA latency) that never leave the registers, best of `repeats`.
    public static func measurePeakGigaflopsPerSecond(
        of kernelPath: KernelPath = .active, iterations: Int = 20_000_000, repeats: Int = 3
    ) -> Double {
        kernelPath.kernels.peakGigaflopsPerSecond(iterations: iterations, repeats: repeats)
    }

    private static func cpuSeconds(of body: () -> Void) -> Double {
        let start = threadCPUSeconds()
        body()
        return threadCPUSeconds() - start
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

/// A network whose passes `KernelBenchmark` times part by part.
protocol BenchmarkedNetwork: TrainableNetwork {
    /// The parts timed, in the order they run, each with its useful FLOPs per sample.
    var timedParts: [(name: String, flopsPerSample: Int)] { get }
    /// Runs `body`, returning the CPU seconds each of `timedParts` took during it.
    func timingParts(_ body: () -> Void) -> [Double]
}

extension SeedCNN: BenchmarkedNetwork {
    var timedParts: [(name: String, flopsPerSample: Int)] { Stage.allCases.map { ($0.name, $0.flopsPerSample) } }

    func timingParts(_ body: () -> Void) -> [Double] {
        let times = StageTimes()
        stageTimes = times
        body()
        stageTimes = nil
        return times.seconds
    }
}

extension PlannedNetwork: BenchmarkedNetwork {
    /// Each layer's forward pass, the loss, then each layer's backward pass from the last layer
    /// down, but for a first layer without parameters, whose backward pass does nothing.
    private var backwardLayers: [Int] {
        plan.layers.indices.reversed().filter { $0 > 0 || !plan.layers[$0].tensors.isEmpty }
    }

    var timedParts: [(name: String, flopsPerSample: Int)] {
        plan.layers.map { ("\($0.name) forward", $0.forwardFLOPs) } + [("softmax cross-entropy", 0)]
            + backwardLayers.map { ("\(plan.layers[$0].name) backward", plan.backwardFLOPs(ofLayerAt: $0)) }
    }

    func timingParts(_ body: () -> Void) -> [Double] {
        let times = PassTimes(layers: plan.layers.count)
        passTimes = times
        body()
        passTimes = nil
        return times.forward + [times.loss] + backwardLayers.map { times.backward[$0] }
    }
}

extension Stage {
    var name: String {
        switch self {
        case .loadImages: "load images"
        case .conv1Forward: "conv1 forward"
        case .pool1Forward: "pool1 forward"
        case .conv2Forward: "conv2 forward"
        case .pool2Forward: "pool2 forward"
        case .fcForward: "fc forward"
        case .loss: "softmax cross-entropy"
        case .fcBackward: "fc backward"
        case .pool2Backward: "pool2+relu backward"
        case .conv2WeightBackward: "conv2 weight backward"
        case .conv2InputBackward: "conv2 input backward"
        case .pool1Backward: "pool1+relu backward"
        case .conv1WeightBackward: "conv1 weight backward"
        }
    }

    /// Multiplies and adds of one sample in this stage's products (the layer's useful work), as
    /// the seed network's plan counts them.
    var flopsPerSample: Int {
        func forwardFLOPs(_ name: String) -> Int { ParameterLayout.seedPlan.layers.first { $0.name == name }!.forwardFLOPs }
        let (conv1, conv2, fc) = (forwardFLOPs("conv1"), forwardFLOPs("conv2"), forwardFLOPs("fc1"))
        switch self {
        case .conv1Forward, .conv1WeightBackward: return conv1
        case .conv2Forward, .conv2WeightBackward, .conv2InputBackward: return conv2
        case .fcForward: return fc
        case .fcBackward: return 2 * fc
        case .loadImages, .pool1Forward, .pool2Forward, .loss, .pool2Backward, .pool1Backward: return 0
        }
    }
}
