import SeededRandom

/// Measures the seed CNN's speed on this machine, for the CLI's `bench` command: the time and
/// GFLOP/s of every kernel, samples per second of a full training step (gradients and Adam), and
/// the core's register-resident FMA peak to compare them with. It prints nothing. Timings on a
/// shared machine are noisy, so each figure is the best of several repeats.
public enum KernelBenchmark {
    /// One kernel's cost per batch.
    public struct KernelResult: Sendable {
        public let name: String
        public let secondsPerBatch: Double
        /// Useful floating-point operations per batch (multiply and add counted apart); 0 for
        /// the memory-bound passes (pooling, loss, layout changes).
        public let flopsPerBatch: Double

        /// nil for the memory-bound passes.
        public var gigaflopsPerSecond: Double? {
            flopsPerBatch > 0 ? flopsPerBatch / secondsPerBatch / 1e9 : nil
        }
    }

    public struct Report: Sendable {
        public let batchSize: Int
        /// Every stage of the forward and backward pass in execution order, then Adam.
        public let kernels: [KernelResult]
        /// `computeGradients` plus one Adam update, untimed inside.
        public let trainStepSecondsPerBatch: Double
        /// One core's peak, from a loop of independent register-resident FMAs.
        public let peakGigaflopsPerSecond: Double

        public var samplesPerSecond: Double { Double(batchSize) / trainStepSecondsPerBatch }
        public var trainStepGigaflopsPerSecond: Double {
            Double(trainingFlopsPerSample) * samplesPerSecond / 1e9
        }
        /// The training step's FLOP rate as a fraction of `peakGigaflopsPerSecond`.
        public var fractionOfPeak: Double { trainStepGigaflopsPerSecond / peakGigaflopsPerSecond }
    }

    /// Useful FLOPs of one training sample: 0.58 M forward, 1.05 M backward.
    public static let trainingFlopsPerSample = Stage.allCases.reduce(0) { $0 + $1.flopsPerSample }

    /// Runs `iterations` training steps on a batch of `batchSize` random images, `repeats` times,
    /// once timing each kernel and once timing the whole step.
    public static func run(batchSize: Int = 60, iterations: Int = 100, repeats: Int = 5) -> Report {
        precondition(batchSize > 0 && iterations > 0 && repeats > 0, "benchmark sizes must be positive")
        var generator = SeededGenerator(seed: 0)
        let images = (0..<batchSize * SeedCNN.pixelCount).map { _ in generator.nextUnitFloat() }
        let labels = (0..<batchSize).map { _ in Int32(generator.nextIndex(below: SeedCNN.classCount)) }
        let network = SeedCNN(maxBatch: batchSize)
        network.initialize(seed: 0)
        var adam = Adam(parameterCount: ParameterLayout.count)
        let clock = ContinuousClock()
        func computeGradients() {
            network.computeGradients(images: images, labels: labels, count: batchSize, gradientScale: 1 / Float(batchSize))
        }
        func updateParameters() {
            adam.update(parameters: network.parameters, gradients: UnsafeBufferPointer(network.gradients))
        }

        var bestStage = [Double](repeating: .infinity, count: Stage.allCases.count)
        var bestAdam = Double.infinity
        var bestStep = Double.infinity
        for _ in 0..<repeats {
            let stageTimes = StageTimes()
            network.stageTimes = stageTimes
            var adamTime = Duration.zero
            for _ in 0..<iterations {
                computeGradients()
                adamTime += clock.measure(updateParameters)
            }
            network.stageTimes = nil
            for stage in Stage.allCases {
                let perBatch = seconds(stageTimes.total[stage.rawValue]) / Double(iterations)
                bestStage[stage.rawValue] = min(bestStage[stage.rawValue], perBatch)
            }
            bestAdam = min(bestAdam, seconds(adamTime) / Double(iterations))
            let stepTime = clock.measure {
                for _ in 0..<iterations {
                    computeGradients()
                    updateParameters()
                }
            }
            bestStep = min(bestStep, seconds(stepTime) / Double(iterations))
        }

        let kernels =
            Stage.allCases.map { stage in
                KernelResult(
                    name: stage.name, secondsPerBatch: bestStage[stage.rawValue],
                    flopsPerBatch: Double(stage.flopsPerSample * batchSize))
            } + [KernelResult(name: "adam", secondsPerBatch: bestAdam, flopsPerBatch: 0)]
        return Report(
            batchSize: batchSize, kernels: kernels, trainStepSecondsPerBatch: bestStep,
            peakGigaflopsPerSecond: measurePeakGigaflopsPerSecond())
    }

    /// One core's FMA peak: 16 independent chains of SIMD16 FMAs that never leave the registers,
    /// best of `repeats`.
    public static func measurePeakGigaflopsPerSecond(iterations: Int = 20_000_000, repeats: Int = 3) -> Double {
        let clock = ContinuousClock()
        var best = Double.infinity
        for _ in 0..<repeats {
            var sink: Float = 0
            let time = clock.measure { sink = fmaChains(iterations: iterations, factor: 0.999_999, addend: 1e-7) }
            // Keeps the loop alive; the chains converge to a finite value.
            precondition(sink.isFinite, "FMA chains diverged")
            best = min(best, seconds(time))
        }
        return Double(iterations * 16 * laneCount * 2) / best / 1e9
    }

    @inline(never)
    private static func fmaChains(iterations: Int, factor: Float, addend: Float) -> Float {
        withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 16) { chains in
            for chain in 0..<16 { chains[chain] = Lanes(repeating: Float(chain)) }
            let factor = Lanes(repeating: factor)
            let addend = Lanes(repeating: addend)
            for _ in 0..<iterations {
                for chain in 0..<16 { chains[chain] = addend.addingProduct(chains[chain], factor) }
            }
            var total = Lanes.zero
            for chain in 0..<16 { total += chains[chain] }
            return laneSum(total)
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
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

    /// Multiplies and adds of one sample in this stage's products (the layer's useful work).
    var flopsPerSample: Int {
        let conv1 = 8 * 28 * 28 * 9 * 2
        let conv2 = 16 * 14 * 14 * 72 * 2
        let fc = 10 * 784 * 2
        switch self {
        case .conv1Forward, .conv1WeightBackward: return conv1
        case .conv2Forward, .conv2WeightBackward, .conv2InputBackward: return conv2
        case .fcForward: return fc
        case .fcBackward: return 2 * fc
        case .loadImages, .pool1Forward, .pool2Forward, .loss, .pool2Backward, .pool1Backward: return 0
        }
    }
}
