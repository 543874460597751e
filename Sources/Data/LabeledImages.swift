/// A contiguous run of samples of a split: images as bytes, row-major, one after another, with
/// their labels. A rank holds only its own shard in one of these.
public struct LabeledImages: Sendable {
    public let rows: Int
    public let columns: Int
    /// The index, within the whole split, of the first sample held.
    public let firstIndex: Int
    /// `count × rows × columns` bytes, 0 for background to 255 for full ink.
    public let pixels: [UInt8]
    /// `count` digits 0–9.
    public let labels: [UInt8]

    public init(rows: Int, columns: Int, firstIndex: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == labels.count * rows * columns, "pixels must hold one rows × columns image per label")
        self.rows = rows
        self.columns = columns
        self.firstIndex = firstIndex
        self.pixels = pixels
        self.labels = labels
    }

    /// The number of samples held.
    public var count: Int { labels.count }

    public var pixelsPerImage: Int { rows * columns }

    /// Writes the samples at `positions` (0..<count, relative to `firstIndex`) as one batch, in
    /// that order, without allocating. `images` receives `[positions.count, 1, rows, columns]`
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
    /// only training) changes its samples.
    @inlinable
    public func fillBatch(
        images: UnsafeMutablePointer<Float>, labels batchLabels: UnsafeMutablePointer<Int32>,
        positions: some Collection<Int>, transform: some SampleTransform
    ) {
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
