/// MNIST's four IDX files in a directory (mnist, fashion-mnist, idx) as a `LabeledImageSet`:
/// single-channel images of the size their headers state, the same in both splits. The classes
/// are the dataset's; for IDX files of any labels (`Dataset.idx`), 1 + the largest label of the
/// two labels files, each streamed whole at opening, named by their numbers. Without a
/// class selection every read is `MNISTDataset`'s, unchanged; with one, each labels file is read
/// whole (60,000 bytes for MNIST's training set) to map the kept samples to the files' samples,
/// and a range of kept samples reads only the files' samples from its first to its last.
///
/// The training split is read at opening; a test split that cannot be read is held as its error
/// and thrown when the split is first used, so that the training split's faults, and those of
/// the options against it (more ranks than samples), are found first (IDX files of any labels
/// read the test labels at opening too, for their classes).
struct IDXImageSet: LabeledImageSet {
    let location: String
    let classNames: [String]
    let shape: ImageShape
    private let splits: [MNISTSplit: Result<SplitIndex, DataError>]
    /// The files' classes, before any class selection: every label read is below it.
    private let classCount: Int
    /// With a class selection: the new label of each label of the files kept, by file label.
    private let newLabels: [UInt8?]

    /// What a split holds, from its headers (and with a class selection, its labels).
    private struct SplitIndex: Sendable {
        let shape: ImageShape
        let count: Int
        /// With a class selection: the kept samples, by their index in the files.
        let kept: [Int]?
    }

    init(dataset: Dataset, directory: String, classes: ClassSelection?) throws(DataError) {
        location = directory
        let fileClasses = dataset.classNames.isEmpty ? try Self.labelNumbers(in: directory) : dataset.classNames
        classCount = fileClasses.count
        let kept = try classes?.labels(among: fileClasses, of: directory)
        classNames = kept.map { $0.map { fileClasses[$0] } } ?? fileClasses
        var newLabels = [UInt8?](repeating: nil, count: 256)
        for (new, old) in (kept ?? []).enumerated() { newLabels[old] = UInt8(new) }
        self.newLabels = newLabels
        let selection = kept == nil ? nil : newLabels
        let classCount = classCount
        let train = try Self.index(.train, in: directory, classCount: classCount, keeping: selection)
        let shape = train.shape
        self.shape = shape
        splits = [
            .train: .success(train),
            .test: Result { () throws(DataError) in
                let test = try Self.index(.test, in: directory, classCount: classCount, keeping: selection)
                guard test.shape == shape else { throw .splitShapesDiffer(location: directory, train: shape, test: test.shape) }
                return test
            },
        ]
    }

    /// "0", "1", … up to the largest label of the training and test labels files in `directory`.
    private static func labelNumbers(in directory: String) throws(DataError) -> [String] {
        do {
            let largest = try MNISTSplit.allCases.map { split throws(IDXError) in try MNISTDataset.largestLabel(of: split, in: directory) }.max()!
            return (0 ... Int(largest)).map(String.init)
        } catch {
            throw .idx(error)
        }
    }

    private static func index(
        _ split: MNISTSplit, in directory: String, classCount: Int, keeping newLabels: [UInt8?]?
    ) throws(DataError) -> SplitIndex {
        do {
            let size = try MNISTDataset.imageSize(of: split, in: directory)
            let shape = ImageShape(channels: 1, rows: size.rows, columns: size.columns)
            guard let newLabels else {
                return SplitIndex(shape: shape, count: try MNISTDataset.sampleCount(of: split, in: directory), kept: nil)
            }
            let labels = try MNISTDataset.labels(of: split, in: directory, classCount: classCount)
            let kept = labels.indices.filter { newLabels[Int(labels[$0])] != nil }
            return SplitIndex(shape: shape, count: kept.count, kept: kept)
        } catch {
            throw .idx(error)
        }
    }

    func sampleCount(of split: MNISTSplit) throws(DataError) -> Int { try splits[split]!.get().count }

    func load(_ split: MNISTSplit, samples: Range<Int>) throws(DataError) -> LabeledImages {
        guard let kept = try splits[split]!.get().kept else {
            do { return try MNISTDataset.load(split, from: location, samples: samples, classCount: classCount) } catch { throw .idx(error) }
        }
        var selected = SampleAccumulator(shape: shape, firstIndex: samples.lowerBound, reservingFor: samples.count)
        let files = try fileRange(of: samples, kept)
        do {
            selected.append(try MNISTDataset.load(split, from: location, samples: files, classCount: classCount), relabelling: newLabels)
        } catch {
            throw .idx(error)
        }
        return selected.take()
    }

    func stream(
        _ split: MNISTSplit, samples: Range<Int>, batchSize: Int, _ body: (LabeledImages) -> Void
    ) throws(DataError) {
        guard let kept = try splits[split]!.get().kept else {
            do {
                return try MNISTDataset.stream(split, from: location, samples: samples, batchSize: batchSize, classCount: classCount, body)
            } catch {
                throw .idx(error)
            }
        }
        // The files' batches thinned to the kept samples, and regrouped into batches of
        // `batchSize` kept samples, as a caller that counts batches (evaluation's blocks) needs.
        var pending = SampleAccumulator(shape: shape, firstIndex: samples.lowerBound, reservingFor: min(batchSize, samples.count))
        let files = try fileRange(of: samples, kept)
        let newLabels = newLabels
        do {
            try MNISTDataset.stream(split, from: location, samples: files, batchSize: batchSize, classCount: classCount) {
                pending.append($0, relabelling: newLabels, batchSize: batchSize, emit: body)
            }
        } catch {
            throw .idx(error)
        }
        if pending.count > 0 { body(pending.take()) }
    }

    /// The files' samples from the first to the last of kept samples `samples`.
    private func fileRange(of samples: Range<Int>, _ kept: [Int]) throws(DataError) -> Range<Int> {
        guard samples.lowerBound >= 0, samples.upperBound <= kept.count else {
            throw .idx(.sampleRangeOutOfBounds(path: location, requested: samples, available: kept.count))
        }
        return samples.isEmpty ? 0 ..< 0 : kept[samples.lowerBound] ..< kept[samples.upperBound - 1] + 1
    }
}
