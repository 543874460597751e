#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif

/// The seed CNN's forward and backward pass as one instruction set computes them.
///
/// The same kernel sources (Sources/KernelSources) are compiled once per instruction set, each
/// into its own module with its own target CPU and vector width; `SeedCNN` picks one of them at
/// run time. An instance holds the buffers of one lane block of samples and is not thread-safe.
public protocol NetworkKernels: AnyObject {
    init()

    /// Samples per lane block: the vector width in floats.
    static var blockSize: Int { get }

    /// One core's fused multiply-add peak in this instruction set, in GFLOP/s: `iterations` of
    /// 12 independent register-resident chains, best of `repeats`.
    static func peakGigaflopsPerSecond(iterations: Int, repeats: Int) -> Double

    /// When set, every stage of the block pipeline adds its thread CPU time here.
    var stageTimes: StageTimes? { get set }

    /// Forward, loss and backward of `count` samples; adds `gradientScale · Σᵢ ∂lossᵢ/∂θ` to
    /// `gradients`, stores the logits in `logits` ([count][10]) and returns Σᵢ lossᵢ (each loss
    /// in Float, the sum in Double). images: [count][784]; labels: [count].
    func computeGradients(
        parameters: NetworkTensors, gradients: NetworkTensors, images: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>, count: Int, gradientScale: Float, logits: UnsafeMutablePointer<Float>
    ) -> Double

    /// The forward pass of `count` images into `logits` ([count][10]).
    func forward(
        parameters: NetworkTensors, images: UnsafePointer<Float>, count: Int, logits: UnsafeMutablePointer<Float>)

    /// The forward pass and loss of `count` labelled samples, with each one's predicted class
    /// (first on ties) in `predictions` if given.
    func evaluate(
        parameters: NetworkTensors, images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        logits: UnsafeMutablePointer<Float>, predictions: UnsafeMutablePointer<Int32>?
    ) -> Evaluation

    /// The activations of one image, in PyTorch's layout.
    func activations(parameters: NetworkTensors, image: UnsafePointer<Float>) -> LayerActivations
}

/// The network's dimensions.
public enum NetworkShape {
    public static let imageSide = 28
    public static let pixelCount = imageSide * imageSide
    public static let classCount = 10
}

/// Where the network's six tensors lie: of its parameters, or of their gradients.
public struct NetworkTensors {
    /// [8][1][3][3]
    public var conv1Weight: UnsafeMutablePointer<Float>
    /// [8]
    public var conv1Bias: UnsafeMutablePointer<Float>
    /// [16][8][3][3]
    public var conv2Weight: UnsafeMutablePointer<Float>
    /// [16]
    public var conv2Bias: UnsafeMutablePointer<Float>
    /// [10][784]
    public var fc1Weight: UnsafeMutablePointer<Float>
    /// [10]
    public var fc1Bias: UnsafeMutablePointer<Float>

    public init(
        conv1Weight: UnsafeMutablePointer<Float>, conv1Bias: UnsafeMutablePointer<Float>,
        conv2Weight: UnsafeMutablePointer<Float>, conv2Bias: UnsafeMutablePointer<Float>,
        fc1Weight: UnsafeMutablePointer<Float>, fc1Bias: UnsafeMutablePointer<Float>
    ) {
        (self.conv1Weight, self.conv1Bias, self.conv2Weight) = (conv1Weight, conv1Bias, conv2Weight)
        (self.conv2Bias, self.fc1Weight, self.fc1Bias) = (conv2Bias, fc1Weight, fc1Bias)
    }
}

/// Loss and accuracy over a set of labelled samples.
public struct Evaluation: Sendable, Equatable {
    /// Σ of the per-sample cross-entropies.
    public var lossSum: Double
    /// How many samples' predicted class equals their label.
    public var correctCount: Int

    public init(lossSum: Double, correctCount: Int) {
        self.lossSum = lossSum
        self.correctCount = correctCount
    }
}

/// One image's activations, each flattened in PyTorch's [channels][height][width] order.
public struct LayerActivations: Sendable {
    /// [8][28][28]
    public let conv1ReLU: [Float]
    /// [8][14][14]
    public let pool1: [Float]
    /// [16][14][14]
    public let conv2ReLU: [Float]
    /// [16][7][7]
    public let pool2: [Float]

    public init(conv1ReLU: [Float], pool1: [Float], conv2ReLU: [Float], pool2: [Float]) {
        (self.conv1ReLU, self.pool1, self.conv2ReLU, self.pool2) = (conv1ReLU, pool1, conv2ReLU, pool2)
    }
}

/// The steps of one lane block's forward and backward pass, in order.
public enum Stage: Int, CaseIterable, Sendable {
    case loadImages, conv1Forward, pool1Forward, conv2Forward, pool2Forward, fcForward, loss
    case fcBackward, pool2Backward, conv2WeightBackward, conv2InputBackward, pool1Backward, conv1WeightBackward
}

/// CPU time accumulated per `Stage`.
public final class StageTimes {
    public private(set) var seconds = [Double](repeating: 0, count: Stage.allCases.count)

    public init() {}

    public func add(_ duration: Double, to stage: Stage) { seconds[stage.rawValue] += duration }
}

/// CPU seconds used so far by the calling thread.
public func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// A zero-filled buffer aligned to a cache line, freed with its owner.
public final class AlignedBuffer<Element> {
    public let base: UnsafeMutablePointer<Element>
    public let count: Int

    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<Element>.stride, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<Element>.stride)
        base = raw.bindMemory(to: Element.self, capacity: count)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}
