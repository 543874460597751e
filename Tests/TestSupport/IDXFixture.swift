import Data
import Foundation

/// IDX files written byte by byte for the readers under test.
public enum IDXFixture {
    /// An IDX file: the big-endian magic number and dimensions, then `body` as given.
    public static func bytes(magic: UInt32, dimensions: [UInt32], body: [UInt8]) -> [UInt8] {
        ([magic] + dimensions).flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> $0) } } + body
    }

    /// Writes `split`'s two files, raw, in `directory`: one image of `rows` × `columns` for each
    /// label, each image bright in the columns of its label's band of `bands` and dark elsewhere
    /// (so that a small network learns them), a little different from the others.
    public static func writeSplit(
        _ split: MNISTSplit, labels: [UInt8], rows: Int, columns: Int, bands: Int, in directory: String
    ) throws {
        let pixels = labels.enumerated().flatMap { index, label in
            (0 ..< rows * columns).map { pixel in
                pixel % columns * bands / columns == Int(label) ? UInt8(200 + (index + pixel) % 56) : UInt8((index * 7 + pixel) % 40)
            }
        }
        try Data(bytes(magic: 0x0803, dimensions: [UInt32(labels.count), UInt32(rows), UInt32(columns)], body: pixels))
            .write(to: URL(fileURLWithPath: "\(directory)/\(split.imagesStem)"))
        try Data(bytes(magic: 0x0801, dimensions: [UInt32(labels.count)], body: labels))
            .write(to: URL(fileURLWithPath: "\(directory)/\(split.labelsStem)"))
    }
}
