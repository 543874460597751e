import Imaging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PNG images in class folders as torchvision's `ImageFolder` has them: `DIR/train/CLASS/*.png`
/// and `DIR/test/CLASS/*.png`. The classes are the class folders' names, sorted (by their UTF-8
/// bytes, as Python sorts them), the same in both splits; a class folder's files are taken in
/// the order of their names. A split's samples interleave the classes, one file of each class
/// in turn (a class that runs out drops out), so that its tail, which `--validation-split`
/// holds out, has every class in about its share.
///
/// Opening lists the folders and decodes the first training image alone, whose size every image
/// must have, unless `--image-size` gives the size every image is resized to by area averaging;
/// each load then decodes only the files of its range, so that a rank decodes its own shard.
/// Images are converted to the set's channels as PIL's `convert("L")` and `convert("RGB")` do,
/// then resized (`sample(of:shape:)`); palettes are expanded and 16-bit samples scaled to 8 bits
/// by libpng first. Hidden entries (names starting with a dot)
/// are skipped, as are files beside the class folders; any other file of a class folder must be
/// a `.png`.
public struct ImageFolder: LabeledImageSet {
    /// Labels are bytes.
    public static let maximumClasses = 256
    /// Files a split may list: far more than ImageNet's 1.3 million training images, and few
    /// enough that the listing's paths fit in memory.
    public static let maximumFiles = 1 << 22
    /// The longest side `--image-size` takes.
    public static let maximumSide = 4096
    /// The most pixels an image may have, checked from its header before it is decoded.
    public static let maximumPixels = maximumSide * maximumSide
    /// The most bytes one load may hold (a rank's shard): beyond any memory a rank should take.
    public static let maximumLoadBytes = 1 << 36

    public let location: String
    public let classNames: [String]
    public let shape: ImageShape
    /// Whether `--image-size` gave the size, to which every image is resized; else every image
    /// must have the first's.
    private let resizes: Bool
    /// Each split's files and labels, in sample order.
    private let samples: [MNISTSplit: [(path: String, label: UInt8)]]

    /// The folder's name for `split`: `train` or `test`.
    public static func folderName(of split: MNISTSplit) -> String {
        switch split {
        case .train: "train"
        case .test: "test"
        }
    }

    public init(directory: String, options: ImageSetOptions = ImageSetOptions()) throws(DataError) {
        location = directory
        let trainClasses = try Self.classFolders(of: "\(directory)/\(Self.folderName(of: .train))")
        let testClasses = try Self.classFolders(of: "\(directory)/\(Self.folderName(of: .test))")
        for (split, classes, other) in [(MNISTSplit.test, testClasses, trainClasses), (.train, trainClasses, testClasses)] {
            if let missing = other.first(where: { !classes.contains($0) }) {
                throw .folder(.classMissing(
                    folder: "\(directory)/\(Self.folderName(of: split))", className: missing,
                    other: "\(directory)/\(Self.folderName(of: split == .train ? .test : .train))"))
            }
        }
        let kept = try options.classes?.labels(among: trainClasses, of: directory) ?? Array(trainClasses.indices)
        classNames = kept.map { trainClasses[$0] }
        var samples: [MNISTSplit: [(path: String, label: UInt8)]] = [:]
        for split in MNISTSplit.allCases {
            let splitFolder = "\(directory)/\(Self.folderName(of: split))"
            var files: [[String]] = []
            var total = 0
            for name in classNames {
                let classFolder = "\(splitFolder)/\(name)"
                let names = try Self.pngFiles(of: classFolder, limit: Self.maximumFiles - total)
                total += names.count
                files.append(names.map { "\(classFolder)/\($0)" })
            }
            samples[split] = Self.interleaved(files)
        }
        self.samples = samples
        let first = samples[.train]![0].path
        let image = try Self.read(first)
        let size = options.imageSize ?? ImageSize(rows: image.height, columns: image.width)
        shape = ImageShape(channels: options.channels ?? (image.channels <= 2 ? 1 : 3), rows: size.rows, columns: size.columns)
        resizes = options.imageSize != nil
    }

    public func sampleCount(of split: MNISTSplit) -> Int { samples[split]!.count }

    public func load(_ split: MNISTSplit, samples range: Range<Int>) throws(DataError) -> LabeledImages {
        var images = try accumulator(for: split, range, holding: range.count)
        for index in range { try append(split, index, to: &images) }
        return images.take()
    }

    public func stream(
        _ split: MNISTSplit, samples range: Range<Int>, batchSize: Int, _ body: (LabeledImages) -> Void
    ) throws(DataError) {
        precondition(batchSize > 0, "batch size must be positive")
        var batch = try accumulator(for: split, range, holding: min(batchSize, range.count))
        for index in range {
            try append(split, index, to: &batch)
            if batch.count == batchSize { body(batch.take()) }
        }
        if batch.count > 0 { body(batch.take()) }
    }

    /// An empty accumulator for samples `range` of `split`, `held` of them at a time, refused
    /// beyond the split or `maximumLoadBytes`.
    private func accumulator(for split: MNISTSplit, _ range: Range<Int>, holding held: Int) throws(DataError) -> SampleAccumulator {
        let folder = "\(location)/\(Self.folderName(of: split))"
        guard range.lowerBound >= 0, range.upperBound <= sampleCount(of: split) else {
            throw .folder(.sampleRangeOutOfBounds(folder: folder, requested: range, available: sampleCount(of: split)))
        }
        let (bytes, overflow) = held.multipliedReportingOverflow(by: shape.valuesPerImage)
        guard !overflow, bytes <= Self.maximumLoadBytes else {
            throw .folder(.tooManyBytes(folder: folder, images: held, shape: shape))
        }
        return SampleAccumulator(shape: shape, firstIndex: range.lowerBound, reservingFor: held)
    }

    /// Decodes sample `index` of `split` into `images`, as the set's channels.
    private func append(_ split: MNISTSplit, _ index: Int, to images: inout SampleAccumulator) throws(DataError) {
        let (path, label) = samples[split]![index]
        let image = try Self.read(path)
        if !resizes { try requireShape(of: image, at: path) }
        images.append(Self.sample(of: image, shape: shape).planes, label: label)
    }

    /// Refuses `image` unless it is of the set's size.
    private func requireShape(of image: Bitmap, at path: String) throws(DataError) {
        guard image.height == shape.rows && image.width == shape.columns else {
            throw .folder(.wrongSize(path: path, rows: image.height, columns: image.width, expected: shape))
        }
    }

    private static func read(_ path: String) throws(DataError) -> Bitmap {
        do { return try PNG.read(path, maxPixels: maximumPixels) } catch {
            throw .folder(.unreadableImage(path: path, reason: error.reason))
        }
    }

    /// `image` as a sample of the set whose images are `shape`: converted to its channels
    /// (`converted`), then resized to its rows and columns by area averaging (`Bitmap.resized`)
    /// if it is another size. What `predict` makes of an image for a model trained on a folder.
    public static func sample(of image: Bitmap, shape: ImageShape) -> Bitmap {
        let converted = converted(image, channels: shape.channels)
        guard image.height != shape.rows || image.width != shape.columns else { return converted }
        return converted.resized(width: shape.columns, height: shape.rows)
    }

    /// `image` in `channels` (1 or 3) channels, converted as PIL's `convert("L")` and
    /// `convert("RGB")` do: grey from RGB as (19595 R + 38470 G + 7471 B + 32768) >> 16, grey
    /// repeated into RGB, alpha dropped.
    public static func converted(_ image: Bitmap, channels: Int) -> Bitmap {
        precondition(ImageSetOptions.channelCounts.contains(channels), "\(channels) channels")
        let pixelCount = image.width * image.height
        let stride = image.channels
        var samples = [UInt8](repeating: 0, count: pixelCount * channels)
        image.samples.withUnsafeBufferPointer { source in
            samples.withUnsafeMutableBufferPointer { samples in
                for pixel in 0 ..< pixelCount {
                    let base = pixel * stride
                    if stride <= 2 {
                        for channel in 0 ..< channels { samples[pixel * channels + channel] = source[base] }
                    } else if channels == 1 {
                        let (red, green, blue) = (UInt32(source[base]), UInt32(source[base + 1]), UInt32(source[base + 2]))
                        samples[pixel] = UInt8((red * 19595 + green * 38470 + blue * 7471 + 0x8000) >> 16)
                    } else {
                        for channel in 0 ..< 3 { samples[pixel * channels + channel] = source[base + channel] }
                    }
                }
            }
        }
        return Bitmap(width: image.width, height: image.height, channels: channels, samples: samples)
    }

    /// The files of each class, one of each class in turn, labelled by class.
    private static func interleaved(_ files: [[String]]) -> [(path: String, label: UInt8)] {
        var order: [(path: String, label: UInt8)] = []
        order.reserveCapacity(files.reduce(0) { $0 + $1.count })
        for turn in 0 ..< (files.map(\.count).max() ?? 0) {
            for (label, names) in files.enumerated() where turn < names.count {
                order.append((names[turn], UInt8(label)))
            }
        }
        return order
    }

    /// The class folders of `split`, sorted: its subfolders (followed through links); at least
    /// one and at most `maximumClasses`.
    private static func classFolders(of split: String) throws(DataError) -> [String] {
        var names: [String] = []
        for name in try entries(of: split, limit: maximumFiles) {
            let path = "\(split)/\(name)"
            var status = stat()
            guard stat(path, &status) == 0 else {
                throw .folder(.unreadable(path: path, reason: String(cString: strerror(errno))))
            }
            if status.st_mode & S_IFMT == S_IFDIR { names.append(name) }
        }
        guard !names.isEmpty else { throw .folder(.noClasses(folder: split)) }
        guard names.count <= maximumClasses else {
            throw .folder(.tooManyClasses(folder: split, count: names.count, maximum: maximumClasses))
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The `.png` files of a class folder, sorted: at least one, at most `limit`; any other file
    /// is refused.
    private static func pngFiles(of folder: String, limit: Int) throws(DataError) -> [String] {
        let names = try entries(of: folder, limit: limit)
        if let other = names.first(where: { !$0.lowercased().hasSuffix(".png") }) {
            throw .folder(.notPNG(path: "\(folder)/\(other)"))
        }
        guard !names.isEmpty else { throw .folder(.emptyClass(folder: folder)) }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The names in directory `path` but hidden ones (and `.`, `..`), at most `limit`.
    private static func entries(of path: String, limit: Int) throws(DataError) -> [String] {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .folder(errno == ENOENT ? .missingFolder(path: path) : .unreadable(path: path, reason: String(cString: strerror(errno))))
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .folder(.notAFolder(path: path)) }
        guard let directory = opendir(path) else {
            throw .folder(.unreadable(path: path, reason: String(cString: strerror(errno))))
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard !name.hasPrefix(".") else { continue }
            guard names.count < limit else { throw .folder(.tooManyFiles(folder: path, maximum: maximumFiles)) }
            names.append(name)
        }
        return names
    }
}

/// Why an image folder cannot be read; every case names the file or folder at fault.
public enum ImageFolderError: Error, Equatable, CustomStringConvertible {
    case missingFolder(path: String)
    case notAFolder(path: String)
    case unreadable(path: String, reason: String)
    case noClasses(folder: String)
    case tooManyClasses(folder: String, count: Int, maximum: Int)
    case tooManyFiles(folder: String, maximum: Int)
    case emptyClass(folder: String)
    /// `folder` lacks class `className`, which `other` (the other split) has.
    case classMissing(folder: String, className: String, other: String)
    case notPNG(path: String)
    case unreadableImage(path: String, reason: String)
    case wrongSize(path: String, rows: Int, columns: Int, expected: ImageShape)
    case tooManyBytes(folder: String, images: Int, shape: ImageShape)
    case sampleRangeOutOfBounds(folder: String, requested: Range<Int>, available: Int)

    public var description: String {
        switch self {
        case let .missingFolder(path):
            "\(path): no such folder (an image folder holds train/CLASS/*.png and test/CLASS/*.png)"
        case let .notAFolder(path): "\(path): not a folder"
        case let .unreadable(path, reason): "\(path): cannot read: \(reason)"
        case let .noClasses(folder): "\(folder): no class folders"
        case let .tooManyClasses(folder, count, maximum):
            "\(folder): \(count) class folders, more than the \(maximum) an image folder may have"
        case let .tooManyFiles(folder, maximum):
            "\(folder): more than the \(maximum) files a split may have"
        case let .emptyClass(folder): "\(folder): no .png files in this class folder"
        case let .classMissing(folder, className, other):
            "\(folder): no class folder \"\(className)\", which \(other) has"
        case let .notPNG(path): "\(path): not a .png file (class folders hold PNG images only)"
        case let .unreadableImage(path, reason): "\(path): \(reason)"
        case let .wrongSize(path, rows, columns, expected):
            "\(path): image is \(rows)×\(columns), the folder's images are \(expected.rows)×\(expected.columns) (give --image-size HxW to resize every image to one size)"
        case let .tooManyBytes(folder, images, shape):
            "\(folder): \(images) images of \(shape) are more than the \(ImageFolder.maximumLoadBytes >> 30) GiB one rank may hold"
        case let .sampleRangeOutOfBounds(folder, requested, available):
            "\(folder): samples \(requested.lowerBound)..<\(requested.upperBound) requested, the folder holds \(available)"
        }
    }
}
