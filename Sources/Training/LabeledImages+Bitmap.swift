import Data
import Imaging

extension LabeledImages {
    /// The image at `index` of the split's file (from `firstIndex` to `firstIndex + count`).
    public func image(at index: Int) -> Bitmap {
        let start = (index - firstIndex) * pixelsPerImage
        return Bitmap(width: columns, height: rows, channels: 1, samples: Array(pixels[start ..< start + pixelsPerImage]))
    }
}
