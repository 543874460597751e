/// Which half of MNIST to read.
public enum MNISTSplit: Sendable, CaseIterable {
    /// 60,000 training samples.
    case train
    /// 10,000 test samples.
    case test

    /// The images file's name as published, without `.gz`: `train-images-idx3-ubyte` and so on.
    public var imagesStem: String { "\(prefix)-images-idx3-ubyte" }
    /// The labels file's name as published, without `.gz`: `train-labels-idx1-ubyte` and so on.
    public var labelsStem: String { "\(prefix)-labels-idx1-ubyte" }

    private var prefix: String {
        switch self {
        case .train: "train"
        case .test: "t10k"
        }
    }
}

/// Reads MNIST's IDX files from a directory. Each file is taken as `<stem>.gz` if present and as
/// the uncompressed `<stem>` otherwise. Both files of a split are validated completely (header,
/// length, every label below the class count, a digit for MNIST's 10, the two counts equal) on
/// every load, even when only a share of the samples is kept.
public enum MNISTDataset {
    /// The classes of MNIST and Fashion-MNIST: their labels are 0–9, and a reader's labels are
    /// checked against it unless the caller gives the class count of other IDX files.
    public static let classCount = 10

    /// Loads samples `samples` (all of them when nil) of `split`; only those samples' bytes are
    /// held in memory, the rest of each file is streamed past.
    public static func load(
        _ split: MNISTSplit, from directory: String, samples: Range<Int>? = nil, classCount: Int = classCount
    ) throws(IDXError) -> LabeledImages {
        let (images, labels) = try openPair(split, in: directory)
        let range = samples ?? 0 ..< images.itemCount
        guard range.lowerBound >= 0, range.upperBound <= images.itemCount else {
            throw .sampleRangeOutOfBounds(path: images.path, requested: range, available: images.itemCount)
        }
        let pixels = try images.readItems(range)
        let labelBytes = try readLabels(labels, range, classCount: classCount)
        return LabeledImages(
            rows: images.dimensions[1], columns: images.dimensions[2],
            firstIndex: range.lowerBound, pixels: pixels, labels: labelBytes
        )
    }

    /// Passes samples `samples` (every sample when nil) of `split` to `body` in file order,
    /// `batchSize` at a time from the first (the last batch may be shorter), holding one batch of
    /// pixels at a time: for scoring a set, or one rank's slice of it, without keeping it in
    /// memory. Both files are validated completely, as by `load`; a fault found only at the end of
    /// the images file (a truncation, trailing bytes) is thrown after the batches before it were
    /// passed.
    public static func stream(
        _ split: MNISTSplit, from directory: String, samples: Range<Int>? = nil, batchSize: Int,
        classCount: Int = classCount, _ body: (LabeledImages) -> Void
    ) throws(IDXError) {
        precondition(batchSize > 0, "batch size must be positive")
        let (images, labels) = try openPair(split, in: directory)
        let range = samples ?? 0 ..< images.itemCount
        guard range.lowerBound >= 0, range.upperBound <= images.itemCount else {
            throw .sampleRangeOutOfBounds(path: images.path, requested: range, available: images.itemCount)
        }
        let labelBytes = try readLabels(labels, range, classCount: classCount)
        let (rows, columns) = (images.dimensions[1], images.dimensions[2])
        let imageBytes = rows * columns
        let wanted = range.lowerBound * imageBytes ..< range.upperBound * imageBytes
        let batchBytes = batchSize * imageBytes
        var pending: [UInt8] = []
        pending.reserveCapacity(min(batchBytes, wanted.count, images.payloadBound))
        var first = range.lowerBound
        func emit() {
            let count = pending.count / imageBytes
            body(LabeledImages(
                rows: rows, columns: columns, firstIndex: first, pixels: pending,
                labels: Array(labelBytes[first - range.lowerBound ..< first - range.lowerBound + count])))
            first += count
            pending.removeAll(keepingCapacity: true)
        }
        _ = try images.readItems(0 ..< 0) { chunk, offset throws(IDXError) in
            var rest = chunk[(offset ..< offset + chunk.count).clamped(to: wanted).shifted(by: -offset)]
            while !rest.isEmpty {
                let taken = rest.prefix(batchBytes - pending.count)
                pending.append(contentsOf: taken)
                rest = rest.dropFirst(taken.count)
                if pending.count == batchBytes { emit() }
            }
        }
        if !pending.isEmpty { emit() }
    }

    /// The number of samples in `split`, from the two files' headers alone, so that a trainer can
    /// choose its shard before loading it.
    public static func sampleCount(of split: MNISTSplit, in directory: String) throws(IDXError) -> Int {
        try openPair(split, in: directory).images.itemCount
    }

    /// The rows and columns of `split`'s images, from the two files' headers alone, so that a
    /// reader of images of one size can refuse others before reading or allocating for them.
    public static func imageSize(of split: MNISTSplit, in directory: String) throws(IDXError) -> (rows: Int, columns: Int) {
        let images = try openPair(split, in: directory).images
        return (images.dimensions[1], images.dimensions[2])
    }

    /// Every label of `split`, the labels file checked whole and its count against the images
    /// file's header: how a class selection finds its samples without reading an image.
    public static func labels(of split: MNISTSplit, in directory: String, classCount: Int = classCount) throws(IDXError) -> [UInt8] {
        let (images, labels) = try openPair(split, in: directory)
        return try readLabels(labels, 0 ..< images.itemCount, classCount: classCount)
    }

    /// The largest label of `split`, the labels file streamed whole (nothing of it kept) and its
    /// count checked against the images file's header: how IDX files of any labels tell their
    /// class count.
    public static func largestLabel(of split: MNISTSplit, in directory: String) throws(IDXError) -> UInt8 {
        let labels = try openPair(split, in: directory).labels
        var largest: UInt8 = 0
        _ = try labels.readItems(0 ..< 0) { chunk, _ in largest = max(largest, chunk.max() ?? 0) }
        return largest
    }

    /// Labels `range` of `labels`, the whole file checked to hold only labels below `classCount`.
    private static func readLabels(_ labels: IDXFile, _ range: Range<Int>, classCount: Int) throws(IDXError) -> [UInt8] {
        try labels.readItems(range) { chunk, offset throws(IDXError) in
            if let bad = chunk.firstIndex(where: { Int($0) >= classCount }) {
                throw .labelOutOfRange(path: labels.path, index: offset + bad, value: chunk[bad], classCount: classCount)
            }
        }
    }

    private static func openPair(
        _ split: MNISTSplit, in directory: String
    ) throws(IDXError) -> (images: IDXFile, labels: IDXFile) {
        let images = try open(split.imagesStem, kind: .images, in: directory)
        let labels = try open(split.labelsStem, kind: .labels, in: directory)
        guard images.itemCount == labels.itemCount else {
            throw .countMismatch(
                imagesPath: images.path, images: images.itemCount,
                labelsPath: labels.path, labels: labels.itemCount
            )
        }
        return (images, labels)
    }

    private static func open(_ stem: String, kind: IDXKind, in directory: String) throws(IDXError) -> IDXFile {
        let compressed = "\(directory)/\(stem).gz"
        do throws(IDXError) {
            return try IDXFile(path: compressed, kind: kind)
        } catch .missingFile {
            do throws(IDXError) {
                return try IDXFile(path: "\(directory)/\(stem)", kind: kind)
            } catch .missingFile {
                throw .missingFile(path: compressed)
            }
        }
    }
}

extension MNISTDataset {
    /// Every image of one IDX images file (`.gz` or raw), for classifying images that come
    /// without labels.
    public static func images(contentsOf path: String) throws(IDXError) -> (rows: Int, columns: Int, pixels: [UInt8]) {
        let file = try IDXFile(path: path, kind: .images)
        return (file.dimensions[1], file.dimensions[2], try file.readItems(0 ..< file.itemCount))
    }
}
