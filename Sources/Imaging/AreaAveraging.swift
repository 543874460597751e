/// Resampling by area averaging, as TensorFlow's `tf.image.resize(method: "area")` does: each
/// output pixel stands for an equal rectangle of the source (the source's width ÷ the output's
/// by its height ÷ the output's), and is the mean of the source over that rectangle, each source
/// pixel weighted by the part of it the rectangle covers. Shrinking by a whole factor averages
/// blocks (4×4 → 2×2: each output the mean of a 2×2 block); enlarging by a whole factor repeats
/// each pixel (2×2 → 4×4: each source pixel becomes a 2×2 block); at other ratios an output pixel
/// straddling source pixels takes each in proportion to its share (3 → 2: the outputs are
/// (2a + b) / 3 and (b + 2c) / 3; 2 → 3: a, (a + b) / 2, b). PIL's `resize(…, BOX)` gives the
/// same at whole factors, but weights each source pixel wholly or not at all elsewhere.
public enum AreaAveraging {
    /// The `width × height` image `value(x, y)` resampled to `newWidth × newHeight`, row-major.
    public static func resample(
        width: Int, height: Int, to newWidth: Int, _ newHeight: Int, _ value: (_ x: Int, _ y: Int) -> Double
    ) -> [Double] {
        // Source extent of each output pixel, exactly covering the source.
        let stepX = Double(width) / Double(newWidth), stepY = Double(height) / Double(newHeight)
        var output = [Double](repeating: 0, count: newWidth * newHeight)
        for outY in 0 ..< newHeight {
            let top = Double(outY) * stepY, bottom = top + stepY
            for outX in 0 ..< newWidth {
                let left = Double(outX) * stepX, right = left + stepX
                var sum = 0.0
                for sourceY in Int(top) ..< min(Int(bottom.rounded(.up)), height) {
                    let coverY = min(bottom, Double(sourceY + 1)) - max(top, Double(sourceY))
                    for sourceX in Int(left) ..< min(Int(right.rounded(.up)), width) {
                        let coverX = min(right, Double(sourceX + 1)) - max(left, Double(sourceX))
                        sum += coverX * coverY * value(sourceX, sourceY)
                    }
                }
                output[outY * newWidth + outX] = sum / (stepX * stepY)
            }
        }
        return output
    }
}

extension Bitmap {
    /// The image resized to `newWidth × newHeight` by area averaging (`AreaAveraging`), each
    /// channel apart, each mean rounded to the nearest 8-bit value (halves up).
    public func resized(width newWidth: Int, height newHeight: Int) -> Bitmap {
        precondition(newWidth >= 1 && newHeight >= 1 && width >= 1 && height >= 1,
                     "resizing \(width)×\(height) to \(newWidth)×\(newHeight)")
        var resized = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        for channel in 0 ..< channels {
            let means = AreaAveraging.resample(width: width, height: height, to: newWidth, newHeight) { x, y in
                Double(samples[(y * width + x) * channels + channel])
            }
            for (pixel, mean) in means.enumerated() {
                resized[pixel * channels + channel] = UInt8(min(255, mean.rounded()))
            }
        }
        return Bitmap(width: newWidth, height: newHeight, channels: channels, samples: resized)
    }

    /// The samples as channel planes (C×H×W, as PyTorch's `ToTensor` lays an image out): all of
    /// the first channel's, row-major, then all of the next's.
    public var planes: [UInt8] {
        if channels == 1 { return samples }
        let pixelCount = width * height
        var planes = [UInt8](repeating: 0, count: samples.count)
        for pixel in 0 ..< pixelCount {
            for channel in 0 ..< channels { planes[channel * pixelCount + pixel] = samples[pixel * channels + channel] }
        }
        return planes
    }
}
