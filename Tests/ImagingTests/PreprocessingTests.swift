import Imaging
import Testing

/// Making a picture into an MNIST-like 28×28 input.
@Suite("MNIST-style preprocessing")
struct PreprocessingTests {
    @Test("a flat image has no ink and is refused")
    func blankImage() {
        #expect(throws: PreprocessingError.blank) {
            try MNISTPreprocessing.normalize(Bitmap(greyWidth: 40, height: 30, value: 200))
        }
    }

    @Test("a light square on black, off-centre, is scaled to 20×20 and centred")
    func brightSquareIsCentred() throws {
        var page = Bitmap(greyWidth: 100, height: 80)
        for y in 5 ..< 45 { for x in 50 ..< 90 { page[x, y] = 255 } }
        let frame = try MNISTPreprocessing.normalize(page)
        #expect(frame.width == 28 && frame.height == 28)
        // Its centre of mass goes to MNIST's, pixel 14 (14.5 measured over pixel centres), to the
        // nearest whole pixel: the square covers pixels 5 to 24 both ways.
        let inked = (0 ..< 28).filter { frame[$0, 14] > 0 }
        #expect(inked == Array(5 ..< 25) && frame[14, 14] == 255, "\(frame.samples)")
        #expect((0 ..< 28).filter { frame[14, $0] > 0 } == Array(5 ..< 25))
    }

    @Test("--raw takes only images already 28×28, made grey and left as they are")
    func rawNeeds28x28() throws {
        #expect(throws: PreprocessingError.wrongSize(width: 27, height: 28, side: 28)) {
            try MNISTPreprocessing.raw(Bitmap(greyWidth: 27, height: 28))
        }
        let rgb = Bitmap(width: 28, height: 28, channels: 3, samples: [UInt8](repeating: 90, count: 28 * 28 * 3))
        #expect(try MNISTPreprocessing.raw(rgb) == Bitmap(greyWidth: 28, height: 28, value: 90))
    }
}
