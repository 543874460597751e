/// A contiguous run of samples of a split: images as bytes, one after another, each its
/// channels one after another and each channel row-major (PyTorch's C×H×W), with their labels.
/// A rank holds only its own shard in one of these.
public struct LabeledImages: Sendable {
    /// 1 for grey, 3 for RGB.
    public let channels: Int
    public let rows: Int
    public let columns: Int
    /// The index, within the whole split, of the first sample held.
    public let firstIndex: Int
    /// `count × channels × rows × columns` bytes, 0 for background (or black) to 255 for full
    /// ink (or full intensity).
    public let pixels: [UInt8]
    /// `count` class labels.
    public let labels: [UInt8]

    public init(shape: ImageShape, firstIndex: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == labels.count * shape.valuesPerImage, "pixels must hold one \(shape) image per label")
        channels = shape.channels
        rows = shape.rows
        columns = shape.columns
        self.firstIndex = firstIndex
        self.pixels = pixels
        self.labels = labels
    }

    /// Single-channel images.
    public init(rows: Int, columns: Int, firstIndex: Int, pixels: [UInt8], labels: [UInt8]) {
        self.init(shape: ImageShape(channels: 1, rows: rows, columns: columns), firstIndex: firstIndex, pixels: pixels, labels: labels)
    }

    /// The number of samples held.
    public var count: Int { labels.count }

    public var shape: ImageShape { ImageShape(channels: channels, rows: rows, columns: columns) }

    /// The bytes of one image: all its channels.
    public var pixelsPerImage: Int { channels * rows * columns }

    /// Writes the samples at `positions` (0..<count, relative to `firstIndex`) as one batch, in
    /// that order, without allocating. `images` receives `[positions.count, channels, rows, columns]`
    /// floats, each byte scaled to byte/255 exactly as torchvision's `ToTensor` does; `labels`
    /// receives `positions.count` class indices. A `Range` of positions fills a contiguous batch,
    /// as evaluation does; an `EpochOrder` batch fills a shuffled one. Inlinable, so that each
    /// caller gets it specialized for its positions and transform: unspecialized, walking the
    /// positions through the generic witnesses cost about 10 µs a batch of 60.
    @inlinable
    public func fillBatch(
        images: UnsafeMutablePointer<Float>, labels batchLabels: UnsafeMutablePointer<Int32>,
        positions: some Collection<Int>
    ) {
        let imageSize = pixelsPerImage
        fillBatch(images: images, labels: batchLabels, positions: positions) { source, _, destination in
            for pixel in 0 ..< imageSize {
                destination[pixel] = Float(source[pixel]) / 255
            }
        }
    }

    /// As `fillBatch(images:labels:positions:)`, but each image is written by `transform`, which
    /// is told the sample's index within the whole split: the hook through which training (and
    /// only training) changes its samples. Single-channel images only.
    @inlinable
    public func fillBatch(
        images: UnsafeMutablePointer<Float>, labels batchLabels: UnsafeMutablePointer<Int32>,
        positions: some Collection<Int>, transform: some SampleTransform
    ) {
        precondition(channels == 1, "a sample transform takes single-channel images, not \(channels) channels")
        fillBatch(images: images, labels: batchLabels, positions: positions) { source, index, destination in
            transform.write(pixels: source, rows: rows, columns: columns, sampleIndex: index, into: destination)
        }
    }

    @inlinable
    internal func fillBatch(
        images: UnsafeMutablePointer<Float>, labels batchLabels: UnsafeMutablePointer<Int32>,
        positions: some Collection<Int>,
        writeImage: (_ source: UnsafePointer<UInt8>, _ sampleIndex: Int, _ destination: UnsafeMutablePointer<Float>) -> Void
    ) {
        let imageSize = pixelsPerImage
        pixels.withUnsafeBufferPointer { pixels in
            var slot = 0
            for position in positions {
                precondition((0 ..< count).contains(position), "sample \(position) is outside the \(count) held")
                writeImage(pixels.baseAddress! + position * imageSize, firstIndex + position, images + slot * imageSize)
                batchLabels[slot] = Int32(labels[position])
                slot += 1
            }
        }
    }
}

/// Writes a training image as the model sees it, from its bytes, in place of plain byte/255
/// scaling (augmentation). It must not allocate: it runs for every sample of every step.
public protocol SampleTransform {
    /// Writes `rows × columns` floats to `image` from the `rows × columns` bytes at `pixels` of
    /// the sample at `sampleIndex` in its split.
    func write(
        pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>)
}
