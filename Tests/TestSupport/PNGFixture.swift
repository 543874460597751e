import CZlib

/// PNG files of every colour type and bit depth, built byte by byte (unfiltered rows, zlib,
/// CRC-32) independently of the encoder under test, so that the decoder is checked against the
/// format rather than against ourselves.
public enum PNGFixture {
    /// The ways the same grey picture can be stored.
    public enum Variant: String, CaseIterable, Sendable {
        case grey8, grey16, greyAlpha8, greyAlpha16, rgb8, rgb16, rgba8, rgba16, palette, paletteWithTransparency

        var colourType: UInt8 {
            switch self {
            case .grey8, .grey16: 0
            case .rgb8, .rgb16: 2
            case .palette, .paletteWithTransparency: 3
            case .greyAlpha8, .greyAlpha16: 4
            case .rgba8, .rgba16: 6
            }
        }

        var bitDepth: UInt8 {
            switch self {
            case .grey16, .greyAlpha16, .rgb16, .rgba16: 16
            default: 8
            }
        }
    }

    /// A PNG of the one-channel `grey` picture (row-major, `width` wide) in `variant`. Variants
    /// with alpha draw the picture as black ink whose opacity is the grey value over a
    /// transparent background, so that over white they show `255 - grey`.
    public static func png(grey: [UInt8], width: Int, variant: Variant) -> [UInt8] {
        let height = grey.count / width
        var rows: [UInt8] = []
        for y in 0 ..< height {
            rows.append(0)  // filter: none
            for x in 0 ..< width {
                let value = grey[y * width + x]
                let samples: [UInt8] = switch variant {
                case .grey8, .grey16: [value]
                case .rgb8, .rgb16: [value, value, value]
                case .palette, .paletteWithTransparency: [value]
                case .greyAlpha8, .greyAlpha16: [0, value]
                case .rgba8, .rgba16: [0, 0, 0, value]
                }
                for sample in samples {
                    // 16-bit samples: v·257 maps 0...255 onto 0...65535 exactly.
                    rows += variant.bitDepth == 16 ? [sample, sample] : [sample]
                }
            }
        }
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        file += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height))
                      + [variant.bitDepth, variant.colourType, 0, 0, 0])
        if variant == .palette {
            file += chunk("PLTE", (0 ... 255).flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        }
        if variant == .paletteWithTransparency {
            // Entry v is black at opacity v.
            file += chunk("PLTE", [UInt8](repeating: 0, count: 3 * 256))
            file += chunk("tRNS", (0 ... 255).map { UInt8($0) })
        }
        file += chunk("IDAT", deflate(rows))
        file += chunk("IEND", [])
        return file
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + data
        let crc = typed.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + typed + bigEndian(crc)
    }

    private static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { compress(out.baseAddress, &length, $0.baseAddress, uLong($0.count)) }
        }
        precondition(status == Z_OK, "zlib compress failed: \(status)")
        return Array(output.prefix(Int(length)))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
