import Data
import Foundation
import Imaging

/// Image folders as torchvision's `ImageFolder` lays them out (`train/CLASS/*.png`,
/// `test/CLASS/*.png`), written with the project's PNG encoder for the readers under test.
public enum ImageFolderFixture {
    /// Writes `image` as the PNG `DIRECTORY/SPLIT/CLASS/NAME`, making the folders.
    public static func write(_ image: Bitmap, to directory: String, split: String, className: String, name: String) throws {
        let folder = "\(directory)/\(split)/\(className)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(try PNG.encode(image, for: name)).write(to: URL(fileURLWithPath: "\(folder)/\(name)"))
    }

    /// Writes the first `train` and `test` samples of the MNIST files in `mnist` as 28×28 grey
    /// PNGs in class folders named by digit, each file named by its index in the split
    /// (`00042.png`), so that the folder's classes and files sort as the digits and indices do.
    /// Every digit is among MNIST's first 18 training and first 62 test samples.
    public static func writeMNIST(from mnist: String, to directory: String, train: Int, test: Int) throws {
        for (split, count) in [(MNISTSplit.train, train), (.test, test)] {
            let samples = try MNISTDataset.load(split, from: mnist, samples: 0 ..< count)
            for index in 0 ..< count {
                let name = String(repeating: "0", count: max(0, 5 - String(index).count)) + "\(index).png"
                try write(samples.bitmap(ofHeld: index), to: directory, split: ImageFolder.folderName(of: split),
                          className: String(samples.labels[index]), name: name)
            }
        }
    }
}

extension LabeledImages {
    /// Sample `index` (counted from the first held) of single-channel images, as a bitmap.
    fileprivate func bitmap(ofHeld index: Int) -> Bitmap {
        Bitmap(width: columns, height: rows, channels: 1,
               samples: Array(pixels[index * pixelsPerImage ..< (index + 1) * pixelsPerImage]))
    }
}
