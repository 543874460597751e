/// An RGB colour.
public struct Colour: Sendable, Equatable {
    public let red: UInt8
    public let green: UInt8
    public let blue: UInt8

    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    public static let white = Colour(255, 255, 255)
    public static let black = Colour(0, 0, 0)
    public static let red = Colour(208, 32, 32)
    public static let green = Colour(24, 128, 48)
    public static let grey = Colour(110, 110, 110)

    /// The colour `fraction` (0...1) of the way from `self` to `other`.
    public func blended(with other: Colour, _ fraction: Double) -> Colour {
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) + (Double(b) - Double(a)) * fraction).rounded()) }
        return Colour(mix(red, other.red), mix(green, other.green), mix(blue, other.blue))
    }
}

/// An RGB picture to draw on: filled rectangles, images scaled up, text.
public struct Canvas: Sendable {
    public private(set) var bitmap: Bitmap

    public init(width: Int, height: Int, background: Colour = .white) {
        var samples = [UInt8](repeating: 0, count: width * height * 3)
        for pixel in 0 ..< width * height {
            samples[3 * pixel] = background.red
            samples[3 * pixel + 1] = background.green
            samples[3 * pixel + 2] = background.blue
        }
        bitmap = Bitmap(width: width, height: height, channels: 3, samples: samples)
    }

    public var width: Int { bitmap.width }
    public var height: Int { bitmap.height }

    /// Sets one pixel; points outside the canvas are ignored.
    public mutating func set(x: Int, y: Int, _ colour: Colour) {
        guard (0 ..< width).contains(x) && (0 ..< height).contains(y) else { return }
        let base = 3 * (y * width + x)
        bitmap.samples[base] = colour.red
        bitmap.samples[base + 1] = colour.green
        bitmap.samples[base + 2] = colour.blue
    }

    public mutating func fill(x: Int, y: Int, width: Int, height: Int, _ colour: Colour) {
        for row in y ..< y + height {
            for column in x ..< x + width { set(x: column, y: row, colour) }
        }
    }

    /// Draws a grey or RGB image (any alpha ignored) with its top-left corner at (`x`, `y`),
    /// each pixel as a `scale`×`scale` square of its colour.
    public mutating func draw(image: Bitmap, x: Int, y: Int, scale: Int) {
        let colourChannels = image.hasAlpha ? image.channels - 1 : image.channels
        for row in 0 ..< image.height * scale {
            for column in 0 ..< image.width * scale {
                let base = image.channels * ((row / scale) * image.width + column / scale)
                let colour = colourChannels == 1
                    ? Colour(image.samples[base], image.samples[base], image.samples[base])
                    : Colour(image.samples[base], image.samples[base + 1], image.samples[base + 2])
                set(x: x + column, y: y + row, colour)
            }
        }
    }

    /// Draws `text` in the bitmap font with the top of its capitals at `y`, each font pixel a
    /// `scale`×`scale` square.
    public mutating func draw(text: String, x: Int, y: Int, scale: Int = 1, _ colour: Colour = .black) {
        for (index, character) in text.enumerated() {
            let left = x + index * BitmapFont.advance * scale
            for (row, pixels) in BitmapFont.glyph(character).enumerated() {
                for (column, inked) in pixels.enumerated() where inked {
                    fill(x: left + column * scale, y: y + row * scale, width: scale, height: scale, colour)
                }
            }
        }
    }

    /// Draws `text` centred horizontally on `centreX`.
    public mutating func draw(text: String, centreX: Int, y: Int, scale: Int = 1, _ colour: Colour = .black) {
        draw(text: text, x: centreX - BitmapFont.width(of: text, scale: scale) / 2, y: y, scale: scale, colour)
    }
}
