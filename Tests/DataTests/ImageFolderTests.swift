import Data
import Foundation
import Imaging
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// PNG images in class folders, read as torchvision's `ImageFolder` and PIL's conversions read them.
@Suite("Image folders")
struct ImageFolderTests {
    /// A grey or RGB image of `rows` × `columns` whose bytes follow from `seed`.
    static func image(rows: Int, columns: Int, channels: Int, seed: Int) -> Bitmap {
        Bitmap(width: columns, height: rows, channels: channels,
               samples: (0 ..< rows * columns * channels).map { UInt8(truncatingIfNeeded: $0 * 37 + seed * 101) })
    }

    /// `image`'s samples as channel planes (C×H×W), as a network takes them.
    static func planes(_ image: Bitmap) -> [UInt8] {
        (0 ..< image.channels).flatMap { channel in
            (0 ..< image.width * image.height).map { image.samples[$0 * image.channels + channel] }
        }
    }

    /// A folder with one image per class in each split: `classes` folders, train and test.
    static func folder(_ directory: TemporaryDirectory, classes: [String], image: Bitmap) throws {
        for split in ["train", "test"] {
            for name in classes {
                try ImageFolderFixture.write(image, to: directory.path, split: split, className: name, name: "0.png")
            }
        }
    }

    @Test("grey and RGB images read back as written, as channel planes, at odd sizes", arguments: [
        (1, 1, 1), (5, 7, 1), (28, 28, 1), (3, 5, 3), (17, 4, 3),
    ])
    func readsBackWhatWasWritten(rows: Int, columns: Int, channels: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var written: [[Bitmap]] = [[], []]
        for (label, name) in ["a", "b"].enumerated() {
            for file in 0 ..< 3 {
                let image = Self.image(rows: rows, columns: columns, channels: channels, seed: label * 10 + file)
                written[label].append(image)
                try ImageFolderFixture.write(image, to: directory.path, split: "train", className: name, name: "\(file).png")
            }
            try ImageFolderFixture.write(written[label][0], to: directory.path, split: "test", className: name, name: "0.png")
        }
        let folder = try ImageFolder(directory: directory.path)
        #expect(folder.shape == ImageShape(channels: channels, rows: rows, columns: columns))
        let train = try folder.load(.train)
        // One file of each class in turn.
        #expect(train.labels == [0, 1, 0, 1, 0, 1])
        #expect(train.pixels == (0 ..< 3).flatMap { file in Self.planes(written[0][file]) + Self.planes(written[1][file]) })
        #expect(train.shape == folder.shape)
    }

    @Test("the classes are the class folders' names sorted by their bytes, as Python sorts them")
    func classNamesSorted() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Self.folder(directory, classes: ["b", "a", "C", "10", "9"], image: Self.image(rows: 2, columns: 2, channels: 1, seed: 0))
        #expect(try ImageFolder(directory: directory.path).classNames == ["10", "9", "C", "a", "b"])
    }

    @Test("a split interleaves its classes, one file of each in turn, a class that runs out dropping out")
    func samplesInterleaveClasses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (name, count) in [("a", 3), ("b", 1), ("c", 2)] {
            for file in 0 ..< count {
                try ImageFolderFixture.write(Self.image(rows: 2, columns: 2, channels: 1, seed: file), to: directory.path,
                                             split: "train", className: name, name: "\(file).png")
            }
            try ImageFolderFixture.write(Self.image(rows: 2, columns: 2, channels: 1, seed: 0), to: directory.path,
                                         split: "test", className: name, name: "0.png")
        }
        let train = try ImageFolder(directory: directory.path).load(.train)
        #expect(train.labels == [0, 1, 2, 0, 2, 0])
    }

    @Test("--channels 1 makes RGB grey as PIL's convert(\"L\"): (19595 R + 38470 G + 7471 B + 32768) >> 16")
    func rgbToGreyAsPIL() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Red, green, blue, white, and a mixed colour.
        let rgb = Bitmap(width: 5, height: 1, channels: 3, samples: [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 200, 30])
        try Self.folder(directory, classes: ["x", "y"], image: rgb)
        let folder = try ImageFolder(directory: directory.path, options: ImageSetOptions(channels: 1))
        #expect(folder.shape == ImageShape(channels: 1, rows: 1, columns: 5))
        #expect(try folder.load(.test, samples: 0 ..< 1).pixels == [76, 150, 29, 255, 124])
    }

    @Test("--channels 3 repeats a grey image into each of the three channels")
    func greyToRGB() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let grey = Self.image(rows: 3, columns: 4, channels: 1, seed: 5)
        try Self.folder(directory, classes: ["x", "y"], image: grey)
        let folder = try ImageFolder(directory: directory.path, options: ImageSetOptions(channels: 3))
        #expect(try folder.load(.test, samples: 0 ..< 1).pixels == grey.samples + grey.samples + grey.samples)
    }

    @Test("--image-size resizes images of any size to it by area averaging, after converting their channels")
    func imageSizeResizes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let blocks = Bitmap(width: 4, height: 4, channels: 1, samples: [
            10, 20, 100, 100,
            30, 40, 100, 100,
            0, 0, 255, 255,
            0, 4, 255, 255,
        ])
        // Made grey first, (19595·200 + 38470·100 + 7471·50 + 32768) >> 16 = 124, then repeated.
        let dot = Bitmap(width: 1, height: 1, channels: 3, samples: [200, 100, 50])
        let sameSize = Bitmap(width: 2, height: 2, channels: 1, samples: [9, 8, 7, 6])
        for (split, className, image) in [("train", "a", blocks), ("train", "b", dot), ("test", "a", sameSize), ("test", "b", blocks)] {
            try ImageFolderFixture.write(image, to: directory.path, split: split, className: className, name: "0.png")
        }
        let folder = try ImageFolder(directory: directory.path, options: ImageSetOptions(channels: 1, imageSize: ImageSize(rows: 2, columns: 2)))
        #expect(folder.shape == ImageShape(channels: 1, rows: 2, columns: 2))
        #expect(try folder.load(.train).pixels == [25, 100, 1, 255, 124, 124, 124, 124])
        #expect(try folder.load(.test).pixels == [9, 8, 7, 6, 25, 100, 1, 255])
    }

    @Test("alpha is dropped, not composited, as PIL's convert(\"L\") drops it")
    func alphaDropped() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // Black ink whose opacity is the picture: grey 0 in every pixel, whatever its alpha.
        let png = PNGFixture.png(grey: (0 ..< 12).map { UInt8($0 * 20) }, width: 4, variant: .greyAlpha8)
        for split in ["train", "test"] {
            for name in ["x", "y"] {
                try FileManager.default.createDirectory(atPath: directory.file("\(split)/\(name)"), withIntermediateDirectories: true)
                try Data(png).write(to: URL(fileURLWithPath: directory.file("\(split)/\(name)/0.png")))
            }
        }
        let folder = try ImageFolder(directory: directory.path)
        #expect(folder.shape == ImageShape(channels: 1, rows: 3, columns: 4))
        #expect(try folder.load(.train).pixels == [UInt8](repeating: 0, count: 24))
    }

    @Test("streaming a range gives what loading it gives, in batches of the size asked")
    func streamEqualsLoad() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try ImageFolderFixture.writeMNIST(from: mnistDirectory, to: directory.path, train: 50, test: 100)
        let folder = try ImageFolder(directory: directory.path)
        var pixels: [UInt8] = []
        var batches: [Range<Int>] = []
        try folder.stream(.test, samples: 3 ..< 28, batchSize: 10) { batch in
            pixels += batch.pixels
            batches.append(batch.firstIndex ..< batch.firstIndex + batch.count)
        }
        #expect(pixels == (try folder.load(.test, samples: 3 ..< 28)).pixels)
        #expect(batches == [3 ..< 13, 13 ..< 23, 23 ..< 28])
    }

    @Test("two ranks' shards are disjoint and together the whole training split")
    func shardsAreDisjoint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try ImageFolderFixture.writeMNIST(from: mnistDirectory, to: directory.path, train: 61, test: 100)
        let folder = try ImageFolder(directory: directory.path)
        let shards = try (0 ..< 2).map { rank in
            try folder.load(.train, samples: Sharding.range(of: folder.sampleCount(of: .train), rank: rank, worldSize: 2))
        }
        let whole = try folder.load(.train)
        #expect(shards.map(\.count) == [31, 30])
        #expect(shards.map(\.firstIndex) == [0, 31])
        #expect(shards[0].pixels + shards[1].pixels == whole.pixels)
        #expect(shards[0].labels + shards[1].labels == whole.labels)
    }

    @Test("MNIST written as PNGs reads back as its IDX files' images and labels, by class in turn")
    func mnistRoundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try ImageFolderFixture.writeMNIST(from: mnistDirectory, to: directory.path, train: 20, test: 200)
        let folder = try ImageFolder(directory: directory.path)
        let idx = try MNISTDataset.load(.test, from: mnistDirectory, samples: 0 ..< 200)
        let test = try folder.load(.test)
        #expect(folder.classNames == (0 ... 9).map(String.init))
        #expect(folder.shape == ImageShape(channels: 1, rows: 28, columns: 28))
        // Per class, the folder keeps the files' order.
        for digit in UInt8(0) ... 9 {
            let fromIDX = idx.labels.indices.filter { idx.labels[$0] == digit }.flatMap { idx.pixels[$0 * 784 ..< ($0 + 1) * 784] }
            let fromFolder = test.labels.indices.filter { test.labels[$0] == digit }.flatMap { test.pixels[$0 * 784 ..< ($0 + 1) * 784] }
            #expect(fromFolder == fromIDX)
        }
    }

    @Test("--classes keeps the named class folders, relabelled in the order given")
    func classSubset() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try ImageFolderFixture.writeMNIST(from: mnistDirectory, to: directory.path, train: 100, test: 100)
        let folder = try ImageFolder(directory: directory.path, options: ImageSetOptions(classes: ClassSelection(parsing: "7,2")))
        let idx = try MNISTDataset.load(.test, from: mnistDirectory, samples: 0 ..< 100)
        #expect(folder.classNames == ["7", "2"])
        let test = try folder.load(.test)
        #expect(test.count == idx.labels.filter { $0 == 7 || $0 == 2 }.count)
        #expect(test.labels.first == 0)
        #expect(Set(test.labels) == [0, 1])
    }
}

/// A folder that cannot be read is refused with one line naming the file or folder at fault.
@Suite("Bad image folders")
struct BadImageFolderTests {
    /// A good folder of two classes, a and b, of 4×4 grey images, two per class in train.
    static func goodFolder() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        for split in ["train", "test"] {
            for name in ["a", "b"] {
                for file in 0 ..< (split == "train" ? 2 : 1) {
                    try ImageFolderFixture.write(Bitmap(greyWidth: 4, height: 4, value: 9), to: directory.path,
                                                 split: split, className: name, name: "\(file).png")
                }
            }
        }
        return directory
    }

    /// The error of opening the folder after `damage`, then of loading every sample.
    func error(after damage: (TemporaryDirectory) throws -> Void, options: ImageSetOptions = ImageSetOptions()) throws -> DataError? {
        let directory = try Self.goodFolder()
        defer { directory.remove() }
        try damage(directory)
        do {
            let folder = try ImageFolder(directory: directory.path, options: options)
            _ = try folder.load(.train)
            _ = try folder.load(.test)
            return nil
        } catch {
            return error
        }
    }

    func expectError(_ error: DataError?, _ fragments: String...) {
        let text = error?.description ?? "no error"
        #expect(!text.contains("\n"))
        for fragment in fragments { #expect(text.contains(fragment), "\(text)") }
    }

    @Test("a missing test folder")
    func missingSplit() throws {
        expectError(try error { try FileManager.default.removeItem(atPath: $0.file("test")) }, "/test: no such folder")
    }

    @Test("a split without class folders")
    func noClasses() throws {
        expectError(try error {
            try FileManager.default.removeItem(atPath: $0.file("test"))
            try FileManager.default.createDirectory(atPath: $0.file("test"), withIntermediateDirectories: false)
        }, "/test: no class folders")
    }

    @Test("an empty class folder")
    func emptyClass() throws {
        expectError(try error { try FileManager.default.createDirectory(atPath: $0.file("train/c"), withIntermediateDirectories: false)
                                try FileManager.default.createDirectory(atPath: $0.file("test/c"), withIntermediateDirectories: false) },
                    "/train/c: no .png files")
    }

    @Test("a class in one split only")
    func classInOneSplit() throws {
        expectError(try error { try ImageFolderFixture.write(Bitmap(greyWidth: 4, height: 4), to: $0.path, split: "train", className: "c", name: "0.png") },
                    "/test: no class folder \"c\", which ", "/train has")
    }

    @Test("a file that is not a .png")
    func notPNG() throws {
        expectError(try error { _ = try $0.writeFile([1, 2, 3], named: "train/a/notes.txt") }, "/train/a/notes.txt: not a .png file")
    }

    @Test("a corrupt PNG")
    func corruptPNG() throws {
        expectError(try error { _ = try $0.writeFile(Array("not a png at all".utf8), named: "train/b/1.png") },
                    "/train/b/1.png: not a PNG file")
    }

    @Test("a truncated PNG")
    func truncatedPNG() throws {
        let png = try PNG.encode(Bitmap(greyWidth: 4, height: 4, value: 200), for: "x")
        expectError(try error { _ = try $0.writeFile(Array(png.prefix(png.count - 20)), named: "train/b/1.png") }, "/train/b/1.png: ")
    }

    @Test("an image of another size than the first")
    func sizeMismatch() throws {
        expectError(try error { try ImageFolderFixture.write(Bitmap(greyWidth: 5, height: 3), to: $0.path, split: "test", className: "b", name: "0.png") },
                    "/test/b/0.png: image is 3×5, the folder's images are 4×4")
    }


    @Test("a FIFO named as a PNG is refused, not waited on")
    func fifo() throws {
        expectError(try error { #expect(mkfifo($0.file("train/a/2.png"), 0o600) == 0) }, "/train/a/2.png: not a regular file (a FIFO)")
    }

    @Test("a symbolic link loop in place of a class folder")
    func symlinkLoop() throws {
        expectError(try error { try FileManager.default.createSymbolicLink(atPath: $0.file("train/loop"), withDestinationPath: "loop") },
                    "/train/loop: cannot read: Too many levels of symbolic links")
    }

    @Test("an unknown --classes item names the classes there are")
    func unknownClass() throws {
        let refusal = try error(after: { _ in }, options: ImageSetOptions(classes: ClassSelection(parsing: "a,zebra")))
        expectError(refusal, "--classes zebra: ", "has no such class (it has 2: a, b)")
        #expect(refusal?.isUsageError == true)
    }
}
