/// Samples gathered one at a time into one `LabeledImages`: the kept samples of a class
/// selection, the decoded images of a folder.
struct SampleAccumulator {
    let shape: ImageShape
    /// The index, in the split, of the next sample taken.
    private(set) var firstIndex: Int
    private var pixels: [UInt8] = []
    private var labels: [UInt8] = []

    init(shape: ImageShape, firstIndex: Int, reservingFor capacity: Int = 0) {
        self.shape = shape
        self.firstIndex = firstIndex
        pixels.reserveCapacity(capacity * shape.valuesPerImage)
        labels.reserveCapacity(capacity)
    }

    var count: Int { labels.count }

    /// Appends one image of `shape.valuesPerImage` bytes.
    mutating func append(_ image: some Collection<UInt8>, label: UInt8) {
        precondition(image.count == shape.valuesPerImage, "an image of \(image.count) bytes, not \(shape.valuesPerImage)")
        pixels.append(contentsOf: image)
        labels.append(label)
    }

    /// Appends the samples of `batch` whose label `newLabels` maps, under their new label.
    mutating func append(_ batch: LabeledImages, relabelling newLabels: [UInt8?]) {
        append(batch, relabelling: newLabels, batchSize: .max) { _ in }
    }

    /// As `append(_:relabelling:)`, passing the samples gathered to `emit` whenever they
    /// number `batchSize`.
    mutating func append(
        _ batch: LabeledImages, relabelling newLabels: [UInt8?], batchSize: Int, emit: (LabeledImages) -> Void
    ) {
        let size = shape.valuesPerImage
        for position in 0 ..< batch.count {
            guard let label = newLabels[Int(batch.labels[position])] else { continue }
            append(batch.pixels[position * size ..< (position + 1) * size], label: label)
            if count == batchSize { emit(take()) }
        }
    }

    /// The samples gathered, after which it is empty and continues from the next index.
    mutating func take() -> LabeledImages {
        let images = LabeledImages(shape: shape, firstIndex: firstIndex, pixels: pixels, labels: labels)
        firstIndex += count
        pixels.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        return images
    }
}
