/// An image of 8-bit samples, rows top to bottom, `channels` samples per pixel: 1 grey, 2 grey
/// and alpha, 3 RGB, 4 RGBA.
public struct Bitmap: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// `width × height × channels` samples, row-major, a pixel's channels together.
    public var samples: [UInt8]

    public init(width: Int, height: Int, channels: Int, samples: [UInt8]) {
        precondition((1...4).contains(channels), "\(channels) channels: 1 to 4 are possible")
        precondition(width >= 0 && height >= 0 && samples.count == width * height * channels,
                     "\(samples.count) samples for \(width)×\(height)×\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// A one-channel image of `value` everywhere.
    public init(greyWidth width: Int, height: Int, value: UInt8 = 0) {
        self.init(width: width, height: height, channels: 1, samples: Array(repeating: value, count: width * height))
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The image in one grey channel: luminance by ITU-R BT.601 weights (as PIL's `convert("L")`),
    /// composited over white where there is transparency, as an image viewer on a white page shows it.
    public func greyscale() -> Bitmap {
        if channels == 1 { return self }
        var grey = [UInt8](repeating: 0, count: width * height)
        for pixel in 0 ..< width * height {
            let base = pixel * channels
            var luminance: Double
            if channels <= 2 {
                luminance = Double(samples[base])
            } else {
                luminance = 0.299 * Double(samples[base]) + 0.587 * Double(samples[base + 1])
                    + 0.114 * Double(samples[base + 2])
            }
            if hasAlpha {
                let alpha = Double(samples[base + channels - 1]) / 255
                luminance = luminance * alpha + 255 * (1 - alpha)
            }
            grey[pixel] = UInt8((luminance).rounded())
        }
        return Bitmap(width: width, height: height, channels: 1, samples: grey)
    }

    /// The grey value at (`x`, `y`) of a one-channel image.
    public subscript(x: Int, y: Int) -> UInt8 {
        get { samples[y * width + x] }
        set { samples[y * width + x] = newValue }
    }
}
