/// MNIST's four IDX files in a directory (mnist, fashion-mnist) as a `LabeledImageSet`:
/// single-channel images of the size their headers state, the same in both splits. Without a
/// class selection every read is `MNISTDataset`'s, unchanged; with one, each labels file is read
/// whole (60,000 bytes for MNIST's training set) to map the kept samples to the files' samples,
/// and a range of kept samples reads only the files' samples from its first to its last.
///
/// The training split is read at opening; a test split that cannot be read is held as its error
/// and thrown when the split is first used, so that the training split's faults, and those of
/// the options against it (more ranks than samples), are found first.
struct IDXImageSet: LabeledImageSet {
    let location: String
    let classNames: [String]
    let shape: ImageShape
    private let splits: [MNISTSplit: Result<SplitIndex, DataError>]
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
        let kept = try classes?.labels(among: dataset.classNames, of: directory)
        classNames = kept.map { $0.map { dataset.classNames[$0] } } ?? dataset.classNames
        var newLabels = [UInt8?](repeating: nil, count: 256)
        for (new, old) in (kept ?? []).enumerated() { newLabels[old] = UInt8(new) }
        self.newLabels = newLabels
        let selection = kept == nil ? nil : newLabels
        let train = try Self.index(.train, in: directory, keeping: selection)
        let shape = train.shape
        self.shape = shape
        splits = [
            .train: .success(train),
            .test: Result { () throws(DataError) in
                let test = try Self.index(.test, in: directory, keeping: selection)
                guard test.shape == shape else { throw .splitShapesDiffer(location: directory, train: shape, test: test.shape) }
                return test
            },
        ]
    }

    private static func index(_ split: MNISTSplit, in directory: String, keeping newLabels: [UInt8?]?) throws(DataError) -> SplitIndex {
        do {
            let size = try MNISTDataset.imageSize(of: split, in: directory)
            let shape = ImageShape(channels: 1, rows: size.rows, columns: size.columns)
            guard let newLabels else {
                return SplitIndex(shape: shape, count: try MNISTDataset.sampleCount(of: split, in: directory), kept: nil)
            }
            let labels = try MNISTDataset.labels(of: split, in: directory)
            let kept = labels.indices.filter { newLabels[Int(labels[$0])] != nil }
            return SplitIndex(shape: shape, count: kept.count, kept: kept)
        } catch {
            throw .idx(error)
        }
    }

    func sampleCount(of split: MNISTSplit) throws(DataError) -> Int { try splits[split]!.get().count }

    func load(_ split: MNISTSplit, samples: Range<Int>) throws(DataError) -> LabeledImages {
        guard let kept = try splits[split]!.get().kept else {
            do { return try MNISTDataset.load(split, from: location, samples: samples) } catch { throw .idx(error) }
        }
        var selected = SampleAccumulator(shape: shape, firstIndex: samples.lowerBound, reservingFor: samples.count)
        let files = try fileRange(of: samples, kept)
        do {
            selected.append(try MNISTDataset.load(split, from: location, samples: files), relabelling: newLabels)
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
                return try MNISTDataset.stream(split, from: location, samples: samples, batchSize: batchSize, body)
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
            try MNISTDataset.stream(split, from: location, samples: files, batchSize: batchSize) {
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
