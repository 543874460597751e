import Foundation
import Imaging
import Testing
import TestSupport

/// Reading and writing PNG files through libpng.
@Suite("PNG files")
struct PNGTests {
    /// A 7×5 picture using the whole range of grey.
    static let picture: [UInt8] = (0 ..< 35).map { UInt8(($0 * 37) % 256) }


    @Test("a grey image we write reads back identically")
    func greyRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let image = Bitmap(width: 7, height: 5, channels: 1, samples: Self.picture)
        let path = try directory.writeFile(try PNG.encode(image, for: "grey.png"), named: "grey.png")
        #expect(try PNG.read(path) == image)
    }

    @Test("an RGB image we write reads back identically")
    func rgbRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let samples: [UInt8] = (0 ..< 105).map { (index: Int) -> UInt8 in UInt8((index * 53 + 11) % 256) }
        let image = Bitmap(width: 7, height: 5, channels: 3, samples: samples)
        let path = try directory.writeFile(try PNG.encode(image, for: "rgb.png"), named: "rgb.png")
        #expect(try PNG.read(path) == image)
    }

    @Test("every colour type and bit depth reads as the same grey picture", arguments: PNGFixture.Variant.allCases)
    func everyVariantReadsAsTheSameGrey(variant: PNGFixture.Variant) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.writeFile(PNGFixture.png(grey: Self.picture, width: 7, variant: variant), named: "\(variant).png")
        let image = try PNG.read(path)
        #expect(image.width == 7 && image.height == 5)
        let grey = image.greyscale()
        // Alpha variants are black ink of that opacity: over white, the inverse picture.
        let expected = image.hasAlpha ? Self.picture.map { 255 - $0 } : Self.picture
        #expect(grey.samples == expected, "\(variant): \(image.channels) channels")
    }

    @Test("a file that is not a PNG is refused, naming it")
    func notAPNG() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.writeFile(Array("hello, world".utf8), named: "text.png")
        #expect(throws: PNGError(path: path, reason: "not a PNG file (no PNG signature)")) { try PNG.read(path) }
    }

    @Test("a truncated PNG is said to be truncated, where it ends, in its image data or after it", arguments: [30, 5])
    func truncatedPNG(bytesCut: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let whole = PNGFixture.png(grey: Self.picture, width: 7, variant: .rgb8)
        let path = try directory.writeFile(Array(whole.prefix(whole.count - bytesCut)), named: "cut.png")
        #expect(throws: PNGError(path: path, reason: "truncated: the file ends after \(whole.count - bytesCut) bytes, inside its PNG data")) {
            try PNG.read(path)
        }
    }

    @Test("a FIFO is refused at once as not a regular file, never waited on")
    func fifoIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("pipe.png")
        #expect(mkfifo(path, 0o600) == 0)
        #expect(throws: PNGError(path: path, reason: "not a regular file (a FIFO)")) { try PNG.read(path) }
    }

        @Test("a missing file is refused with the system's reason")
    func missingFile() throws {
        #expect(throws: PNGError(path: "/nonexistent/x.png", reason: "No such file or directory")) {
            try PNG.read("/nonexistent/x.png")
        }
    }
}
