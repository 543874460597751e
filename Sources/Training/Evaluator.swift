import CNN
import Data
import Distributed

/// A labelled set a model is scored on, read a slice at a time.
public protocol EvaluationSet {
    /// How reports call the set: "test", "validation".
    var name: String { get }
    /// Where the set comes from (its directory), for errors.
    var location: String { get }
    /// The samples of the whole set, alike on every rank.
    var sampleCount: Int { get }
    /// Passes samples `slice` of the set (within 0..<sampleCount) to `body` in order, at most
    /// `batchSize` at a time counted from the slice's start: samples `positions` of `samples`.
    func forEachBatch(
        of batchSize: Int, in slice: Range<Int>, _ body: (_ samples: LabeledImages, _ positions: Range<Int>) -> Void
    ) throws(DataError)
}

/// A set's test split, streamed from its files a batch at a time, so that no rank holds the
/// test images (7.8 MB of MNIST's) beside its shard of the training set.
public struct TestSet: EvaluationSet {
    public let data: any LabeledImageSet
    public let sampleCount: Int

    /// The test split of `data`, refused if it cannot be read.
    public init(of data: any LabeledImageSet) throws(DataError) {
        self.data = data
        sampleCount = try data.sampleCount(of: .test)
    }

    public var name: String { "test" }
    public var location: String { data.location }

    public func forEachBatch(of batchSize: Int, in slice: Range<Int>, _ body: (LabeledImages, Range<Int>) -> Void) throws(DataError) {
        try data.stream(.test, samples: slice, batchSize: batchSize) { body($0, 0 ..< $0.count) }
    }
}

/// Samples already in memory, such as a rank's slice of the validation split held out of the
/// training set.
public struct HeldOutSet: EvaluationSet {
    /// The samples held: those of the set from `heldSlice`.
    public let samples: LabeledImages
    public let heldSlice: Range<Int>
    public let sampleCount: Int
    public let name: String
    public let location: String

    /// `samples`, which are samples `heldSlice` of a set of `sampleCount`.
    public init(_ samples: LabeledImages, slice heldSlice: Range<Int>, of sampleCount: Int, name: String, location: String) {
        precondition(samples.count == heldSlice.count, "\(samples.count) samples held for a slice of \(heldSlice.count)")
        self.samples = samples
        self.heldSlice = heldSlice
        self.sampleCount = sampleCount
        self.name = name
        self.location = location
    }

    public func forEachBatch(of batchSize: Int, in slice: Range<Int>, _ body: (LabeledImages, Range<Int>) -> Void) {
        precondition(slice.clamped(to: heldSlice) == slice, "samples \(slice) asked of a set holding \(heldSlice)")
        let positions = slice.lowerBound - heldSlice.lowerBound ..< slice.upperBound - heldSlice.lowerBound
        for start in stride(from: positions.lowerBound, to: positions.upperBound, by: batchSize) {
            body(samples, start ..< min(start + batchSize, positions.upperBound))
        }
    }
}

/// Scores a model on any labelled set, every rank its own slice of it, with the same figures
/// to the last bit at any world size as one process computes.
///
/// The set is cut into blocks of `samplesPerBlock` samples, whatever the world size; each rank
/// scores a contiguous run of whole blocks, one network call per block (the network sums the
/// losses within a call in its own order). Each block's loss sum goes into its own slot of a
/// vector that is zero elsewhere, beside the confusion counts, and one all-reduce of it is exact
/// (x + 0 is x, and counts are small integers); every rank then adds the block sums in block
/// order, as one process does. Images go in as they are: no training-time transform touches them.
public final class Evaluator {
    /// The samples per network call, and so the summation order of the loss: fixed, so that
    /// every world size and every command (`train`, `evaluate`) scores a set alike.
    public static let samplesPerBlock = 100
    /// How reports name each class.
    public let classNames: [String]
    /// The network scored: its input shape and class count.
    private let model: ModelDescription
    private let network: any TrainableNetwork
    private let images: UnsafeMutablePointer<Float>
    private let labels: UnsafeMutablePointer<Int32>
    private let predictions: UnsafeMutablePointer<Int32>

    /// An evaluator of networks planned as `model`, naming its classes `classNames` (one per
    /// class of the model; by default their numbers).
    public init(model plan: ModelPlan, classNames: [String]? = nil) {
        model = plan.modelDescription
        precondition(classNames.map { $0.count == plan.classCount } ?? true, "\(classNames!.count) class names for \(plan.classCount) classes")
        self.classNames = classNames ?? (0 ..< plan.classCount).map(String.init)
        network = plan.makeNetwork(maxBatch: Self.samplesPerBlock)
        images = .allocate(capacity: Self.samplesPerBlock * model.inputSize)
        labels = .allocate(capacity: Self.samplesPerBlock)
        predictions = .allocate(capacity: Self.samplesPerBlock)
    }

    deinit {
        images.deallocate()
        labels.deallocate()
        predictions.deallocate()
    }

    /// The samples of a set of `sampleCount` that `rank` of `worldSize` scores: whole blocks,
    /// the ranks' slices in rank order, as even as whole blocks allow.
    public static func slice(ofSetOf sampleCount: Int, rank: Int, worldSize: Int) -> Range<Int> {
        let blockCount = (sampleCount + samplesPerBlock - 1) / samplesPerBlock
        let blocks = blockCount * rank / worldSize ..< blockCount * (rank + 1) / worldSize
        return min(blocks.lowerBound * samplesPerBlock, sampleCount) ..< min(blocks.upperBound * samplesPerBlock, sampleCount)
    }

    /// Accuracy, mean loss and per-class figures of the model with `parameters` on every sample
    /// of `set`, each rank of `communicator` scoring its slice; every rank enters it and every
    /// rank gets the whole report. Collective: an error on any rank stops every rank.
    public func evaluate(
        parameters: UnsafeBufferPointer<Float>, on set: some EvaluationSet, communicator: any Communicator
    ) throws(TrainingError) -> ClassificationReport {
        network.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: parameters) }
        let classCount = classNames.count
        let blockCount = (set.sampleCount + Self.samplesPerBlock - 1) / Self.samplesPerBlock
        let slice = Self.slice(ofSetOf: set.sampleCount, rank: communicator.rank, worldSize: communicator.size)
        // The block sums of the loss, then confusion[truth][predicted] row by row.
        var sums = [Double](repeating: 0, count: blockCount + classCount * classCount)
        try communicator.collectively { () throws(TrainingError) in
            var block = slice.lowerBound / Self.samplesPerBlock
            var wrongShape: ImageShape?
            try dataError { () throws(DataError) in
                try set.forEachBatch(of: Self.samplesPerBlock, in: slice) { samples, positions in
                    guard samples.shape.dimensions == model.inputShape else {
                        wrongShape = samples.shape
                        return
                    }
                    samples.fillBatch(images: images, labels: labels, positions: positions)
                    sums[block] = network.evaluate(
                        images: images, labels: labels, count: positions.count, predictions: predictions).lossSum
                    for index in 0 ..< positions.count {
                        sums[blockCount + Int(labels[index]) * classCount + Int(predictions[index])] += 1
                    }
                    block += 1
                }
            }
            if let wrongShape {
                throw .wrongImageSize(directory: set.location, shape: wrongShape, modelInput: model.imageShape)
            }
        }
        communicator.allReduceSum(&sums)
        var report = ClassificationReport(classNames: classNames, setName: set.name)
        for block in 0 ..< blockCount { report.addLoss(sums[block]) }
        for truth in 0 ..< classCount {
            for predicted in 0 ..< classCount {
                report.record(truth: truth, predicted: predicted, times: Int(sums[blockCount + truth * classCount + predicted]))
            }
        }
        return report
    }
}
