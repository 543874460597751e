/// A labelled image set split into training and test samples: what training, evaluation and
/// the commands that show or score samples read, whatever the files are (MNIST's IDX files or
/// a folder of PNG images). A range of samples is read without the others, so that each rank
/// reads only its own shard.
public protocol LabeledImageSet: Sendable {
    /// Where the set is (its directory), for messages.
    var location: String { get }
    /// The name of each class, by label (after any `ClassSelection`).
    var classNames: [String] { get }
    /// The shape of every image of both splits.
    var shape: ImageShape { get }
    /// The number of samples of `split`; an error when the split cannot be read.
    func sampleCount(of split: MNISTSplit) throws(DataError) -> Int
    /// Samples `samples` of `split` (within 0..<sampleCount), held in memory.
    func load(_ split: MNISTSplit, samples: Range<Int>) throws(DataError) -> LabeledImages
    /// Passes samples `samples` of `split` to `body` in order, `batchSize` at a time from the
    /// first (the last batch may be shorter), holding one batch at a time.
    func stream(
        _ split: MNISTSplit, samples: Range<Int>, batchSize: Int, _ body: (LabeledImages) -> Void
    ) throws(DataError)
}

extension LabeledImageSet {
    /// Every sample of `split`.
    public func load(_ split: MNISTSplit) throws(DataError) -> LabeledImages {
        try load(split, samples: 0 ..< (try sampleCount(of: split)))
    }
}

/// How a set's images are read, beyond its files: the options `--classes`, `--channels` and
/// `--image-size`.
public struct ImageSetOptions: Sendable, Equatable {
    /// The classes kept, relabelled in the order given; nil for all.
    public var classes: ClassSelection?
    /// 1 (grey) or 3 (RGB) for an image folder, whose images are converted to it; nil to take
    /// the first image's.
    public var channels: Int?
    /// The size every image of a folder must have; nil to take the first image's.
    public var imageSize: ImageSize?

    public init(classes: ClassSelection? = nil, channels: Int? = nil, imageSize: ImageSize? = nil) {
        self.classes = classes
        self.channels = channels
        self.imageSize = imageSize
    }

    /// The channel counts `--channels` takes.
    public static let channelCounts = [1, 3]
}

extension Dataset {
    /// The set in `directory`, read as `options` say: headers, labels and the folder listing
    /// only (and a folder's first image, for its shape); no other image is read.
    public func open(directory: String, options: ImageSetOptions = ImageSetOptions()) throws(DataError) -> any LabeledImageSet {
        if isImageFolder { return try ImageFolder(directory: directory, options: options) }
        return try IDXImageSet(dataset: self, directory: directory, classes: options.classes)
    }
}

/// Why a set cannot be read or selected from; every case names the file, folder or item at fault.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case idx(IDXError)
    case folder(ImageFolderError)
    /// The training and test images of `location` differ in shape.
    case splitShapesDiffer(location: String, train: ImageShape, test: ImageShape)
    /// A `--classes` item names no class of the set.
    case unknownClass(String, location: String, known: [String])
    /// A class is kept twice by `--classes`.
    case repeatedClass(String, location: String)

    public var description: String {
        switch self {
        case .idx(let error): error.description
        case .folder(let error): error.description
        case let .splitShapesDiffer(location, train, test):
            "\(location): the training images are \(train), the test images \(test)"
        case let .unknownClass(item, location, known):
            "--classes \(item): \(location) has no such class (it has \(known.count): \(known.prefix(20).joined(separator: ", "))\(known.count > 20 ? ", …" : ""))"
        case let .repeatedClass(name, location):
            "--classes keeps class \(name) of \(location) twice"
        }
    }

    /// Whether the options, not the files, are at fault.
    public var isUsageError: Bool {
        switch self {
        case .unknownClass, .repeatedClass: true
        case .idx, .folder, .splitShapesDiffer: false
        }
    }
}
