import Data
import Imaging

extension LabeledImages {
    /// The image at `index` of the split's file (from `firstIndex` to `firstIndex + count`), its
    /// channel planes interleaved into pixels as a bitmap holds them.
    public func image(at index: Int) -> Bitmap {
        let start = (index - firstIndex) * pixelsPerImage
        let planeSize = rows * columns
        let samples = (0 ..< pixelsPerImage).map { sample in
            pixels[start + (sample % channels) * planeSize + sample / channels]
        }
        return Bitmap(width: columns, height: rows, channels: channels, samples: samples)
    }
}
