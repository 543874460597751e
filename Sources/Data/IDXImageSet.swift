/// MNIST's four IDX files in a directory (mnist, fashion-mnist) as a `LabeledImageSet`:
/// single-channel images of the size their headers state, the same in both splits. Without a
/// class selection every read is `MNISTDataset`'s, unchanged; with one, the labels files are
/// read whole (60,000 bytes for MNIST) to map the kept samples to the files' samples, and a
/// range of kept samples reads only the file's samples from its first to its last.
struct IDXImageSet: LabeledImageSet {
    let location: String
    let classNames: [String]
    let shape: ImageShape
    private let counts: [MNISTSplit: Int]
    /// With a class selection: each split's kept samples, by their index in the files.
    private let keptIndices: [MNISTSplit: [Int]]?
    /// With a class selection: the new label of each label of the files kept, by file label.
    private let newLabels: [UInt8?]

    init(dataset: Dataset, directory: String, classes: ClassSelection?) throws(DataError) {
        location = directory
        func idx<Value>(_ body: () throws(IDXError) -> Value) throws(DataError) -> Value {
            do { return try body() } catch { throw .idx(error) }
        }
        let train = try idx { () throws(IDXError) in try MNISTDataset.imageSize(of: .train, in: directory) }
        let test = try idx { () throws(IDXError) in try MNISTDataset.imageSize(of: .test, in: directory) }
        shape = ImageShape(channels: 1, rows: train.rows, columns: train.columns)
        let testShape = ImageShape(channels: 1, rows: test.rows, columns: test.columns)
        guard testShape == shape else { throw .splitShapesDiffer(location: directory, train: shape, test: testShape) }
        guard let classes else {
            classNames = dataset.classNames
            counts = try idx { () throws(IDXError) in
                [.train: try MNISTDataset.sampleCount(of: .train, in: directory),
                 .test: try MNISTDataset.sampleCount(of: .test, in: directory)]
            }
            keptIndices = nil
            newLabels = []
            return
        }
        let kept = try classes.labels(among: dataset.classNames, of: directory)
        classNames = kept.map { dataset.classNames[$0] }
        var newLabels = [UInt8?](repeating: nil, count: 256)
        for (new, old) in kept.enumerated() { newLabels[old] = UInt8(new) }
        var indices: [MNISTSplit: [Int]] = [:]
        for split in MNISTSplit.allCases {
            let labels = try idx { () throws(IDXError) in try MNISTDataset.labels(of: split, in: directory) }
            indices[split] = labels.indices.filter { newLabels[Int(labels[$0])] != nil }
        }
        self.newLabels = newLabels
        keptIndices = indices
        counts = indices.mapValues(\.count)
    }

    func sampleCount(of split: MNISTSplit) -> Int { counts[split]! }

    func load(_ split: MNISTSplit, samples: Range<Int>) throws(DataError) -> LabeledImages {
        guard let kept = keptIndices?[split] else {
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
        guard let kept = keptIndices?[split] else {
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
