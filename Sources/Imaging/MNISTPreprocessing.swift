/// Why an image cannot be made into a model input.
public enum PreprocessingError: Error, Equatable, CustomStringConvertible {
    /// Nothing stands out from the background.
    case blank
    /// `--raw` takes images that are already the model's size.
    case wrongSize(width: Int, height: Int, side: Int)

    public var description: String {
        switch self {
        case .blank: "no ink: the image is one flat shade"
        case .wrongSize(let width, let height, let side):
            "the image is \(width)×\(height); without preprocessing it must be \(side)×\(side)"
        }
    }
}

/// Turns a picture of a digit (or a garment) into the kind of image MNIST is made of, the way
/// MNIST itself was made: bright ink on black, the ink's bounding box scaled to fit 20×20 with
/// its aspect ratio kept and anti-aliased, placed in a 28×28 frame with its centre of mass at the
/// centre.
public enum MNISTPreprocessing {
    public static let side = 28
    /// The box the ink is scaled into.
    public static let inkBox = 20
    /// Ink fainter than this share of the strongest, after the background is removed, is noise
    /// when finding the bounding box (a photo's background is never flat).
    static let inkThreshold = 0.1

    /// The model's input for `image`: grey; inverted when its border is light (dark ink on
    /// paper); the background level taken off and the contrast stretched; cropped to the ink;
    /// scaled and centred as MNIST.
    public static func normalize(_ image: Bitmap) throws(PreprocessingError) -> Bitmap {
        let ink = inkImage(image.greyscale())
        guard let box = inkBoundingBox(ink) else { throw .blank }
        let scaled = scaleIntoInkBox(ink, box: box)
        return centreByMass(scaled)
    }

    /// The image as it is, which must already be 28×28: converted to grey, nothing else.
    public static func raw(_ image: Bitmap) throws(PreprocessingError) -> Bitmap {
        guard image.width == side && image.height == side else {
            throw .wrongSize(width: image.width, height: image.height, side: side)
        }
        return image.greyscale()
    }

    /// Ink as 0 (background) to 255 (strongest): inverted when the border's mean is light, the
    /// border's median taken as the background level.
    static func inkImage(_ grey: Bitmap) -> InkImage {
        var border: [UInt8] = []
        for x in 0 ..< grey.width { border += [grey[x, 0], grey[x, grey.height - 1]] }
        for y in 0 ..< grey.height { border += [grey[0, y], grey[grey.width - 1, y]] }
        let invert = border.reduce(0) { $0 + Int($1) } * 2 > border.count * 255
        var values = grey.samples.map { Double(invert ? 255 - $0 : $0) }
        let background = border.map { Double(invert ? 255 - $0 : $0) }.sorted()[border.count / 2]
        let strongest = values.max() ?? 0
        let gain = strongest > background ? 255 / (strongest - background) : 0
        for index in values.indices { values[index] = max(0, values[index] - background) * gain }
        return InkImage(width: grey.width, height: grey.height, values: values)
    }

    /// The smallest rectangle holding every pixel with more than the threshold of ink.
    static func inkBoundingBox(_ ink: InkImage) -> (x: Range<Int>, y: Range<Int>)? {
        var xs = (low: Int.max, high: Int.min), ys = (low: Int.max, high: Int.min)
        for y in 0 ..< ink.height {
            for x in 0 ..< ink.width where ink.values[y * ink.width + x] > 255 * inkThreshold {
                xs = (min(xs.low, x), max(xs.high, x))
                ys = (min(ys.low, y), max(ys.high, y))
            }
        }
        guard xs.low <= xs.high else { return nil }
        return (xs.low ..< xs.high + 1, ys.low ..< ys.high + 1)
    }

    /// The box's contents scaled so that the longer side is 20 pixels, by area averaging
    /// (`AreaAveraging`): each output pixel is the mean of the source area it covers, partial
    /// pixels weighted by overlap.
    static func scaleIntoInkBox(_ ink: InkImage, box: (x: Range<Int>, y: Range<Int>)) -> InkImage {
        let longer = max(box.x.count, box.y.count)
        let scale = Double(inkBox) / Double(longer)
        let width = max(1, Int((Double(box.x.count) * scale).rounded()))
        let height = max(1, Int((Double(box.y.count) * scale).rounded()))
        let output = AreaAveraging.resample(width: box.x.count, height: box.y.count, to: width, height) { x, y in
            ink.values[(box.y.lowerBound + y) * ink.width + box.x.lowerBound + x]
        }
        return InkImage(width: width, height: height, values: output)
    }

    /// A 28×28 frame with `scaled` placed so that its centre of mass falls on the frame's centre
    /// (to the nearest pixel, and never so far that part of it falls outside).
    static func centreByMass(_ scaled: InkImage) -> Bitmap {
        let width = scaled.width, height = scaled.height
        var mass = 0.0, sumX = 0.0, sumY = 0.0
        for y in 0 ..< height {
            for x in 0 ..< width {
                let value = scaled.values[y * width + x]
                mass += value
                sumX += value * (Double(x) + 0.5)
                sumY += value * (Double(y) + 0.5)
            }
        }
        // Where MNIST's own digits have theirs: pixel 14 (its centre at 14.5), the mean over the
        // test set to ±0.3 px (LeCun's centring took index 14 as the centre of the 0...27 frame).
        let centre = Double(side) / 2 + 0.5
        func offset(_ sum: Double, _ extent: Int) -> Int {
            min(max(Int((centre - sum / mass).rounded()), 0), side - extent)
        }
        let left = offset(sumX, width), top = offset(sumY, height)
        var frame = Bitmap(greyWidth: side, height: side)
        for y in 0 ..< height {
            for x in 0 ..< width {
                frame[left + x, top + y] = UInt8(min(255, scaled.values[y * width + x].rounded()))
            }
        }
        return frame
    }
}

/// Ink strengths, 0 for background to 255, row-major.
struct InkImage {
    let width: Int
    let height: Int
    var values: [Double]
}
