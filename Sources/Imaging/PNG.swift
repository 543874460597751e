#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PNGCodec
import RegularFile

/// Why a PNG could not be read or written: the file and libpng's (or our) reason.
public struct PNGError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// PNG files through libpng.
public enum PNG {
    /// The most pixels a file may hold: 32 megapixels (128 MiB as RGBA), so that no file can
    /// exhaust memory.
    public static let maxPixels = 1 << 25

    /// Reads any PNG (grey, grey+alpha, RGB, RGBA or palette; 1 to 16 bits) as 8-bit samples:
    /// palettes become RGB, transparency an alpha channel, 16-bit samples are scaled to 8 bits.
    /// Only a regular file is opened: a FIFO or a device would block or never end. An image of
    /// more than `maxPixels` pixels is refused from its header, before anything is allocated.
    public static func read(_ path: String, maxPixels: Int = PNG.maxPixels) throws(PNGError) -> Bitmap {
        let file: RegularFile
        do { file = try RegularFile(openingForReading: path) } catch {
            // The system's words for a missing file, as for any other reason the system gives.
            throw PNGError(path: path, reason: error == .missing ? String(cString: strerror(ENOENT)) : error.description)
        }
        var image = png_codec_image()
        var message = png_codec_message()
        guard png_codec_read(file.descriptor, UInt64(maxPixels), &image, &message) == 0 else {
            throw PNGError(path: path, reason: text(of: &message))
        }
        defer { png_codec_free(image.samples) }
        let count = Int(image.width) * Int(image.height) * Int(image.channels)
        return Bitmap(
            width: Int(image.width), height: Int(image.height), channels: Int(image.channels),
            samples: Array(UnsafeBufferPointer(start: image.samples, count: count)))
    }

    /// The PNG file's bytes for a grey (1 channel) or RGB (3 channels) image; `path` only names
    /// the destination in an error.
    public static func encode(_ bitmap: Bitmap, for path: String) throws(PNGError) -> [UInt8] {
        var bytes: UnsafeMutablePointer<UInt8>?
        var count = 0
        var message = png_codec_message()
        let status = bitmap.samples.withUnsafeBufferPointer { samples in
            png_codec_encode(samples.baseAddress, UInt32(bitmap.width), UInt32(bitmap.height),
                             UInt32(bitmap.channels), &bytes, &count, &message)
        }
        guard status == 0, let bytes else { throw PNGError(path: path, reason: text(of: &message)) }
        defer { png_codec_free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: count))
    }

    private static func text(of message: inout png_codec_message) -> String {
        withUnsafeBytes(of: &message.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
