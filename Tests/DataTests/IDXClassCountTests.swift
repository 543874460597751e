import Data
import Testing
import TestSupport

/// `--dataset idx`: IDX files of MNIST's names whose labels, not a named dataset, tell the
/// classes, with images of the size their headers state.
@Suite("IDX files of any labels")
struct IDXClassCountTests {
    /// `Dataset.idx` opened on files of `train` and `test` labels (images of `rows` × `columns`).
    func open(
        train: [UInt8], test: [UInt8], rows: Int = 8, columns: Int = 12, classes: String? = nil
    ) throws -> (set: any LabeledImageSet, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        for (split, labels) in [(MNISTSplit.train, train), (.test, test)] {
            try IDXFixture.writeSplit(split, labels: labels, rows: rows, columns: columns, bands: 3, in: directory.path)
        }
        let options = ImageSetOptions(classes: classes.map { ClassSelection(parsing: $0)! })
        return (try Dataset.idx.open(directory: directory.path, options: options), directory)
    }

    @Test("3 classes of 8×12 images: classes 0, 1, 2 named by their numbers, images 1×8×12, labels as the files hold them")
    func classesAndShapeFromTheFiles() throws {
        let labels: [UInt8] = [0, 1, 2, 2, 1, 0]
        let (set, directory) = try open(train: labels, test: [2, 0, 1])
        defer { directory.remove() }
        #expect(set.classNames == ["0", "1", "2"])
        #expect(set.shape == ImageShape(channels: 1, rows: 8, columns: 12))
        #expect(try set.load(.train).labels == labels)
    }

    @Test("the class count is 1 + the largest label of both files, whichever holds it",
          arguments: [([0, 1], [0, 1, 5], 6), ([0, 4, 2], [1], 5)] as [([UInt8], [UInt8], Int)])
    func classCountIsTheUnions(train: [UInt8], test: [UInt8], classes: Int) throws {
        let (set, directory) = try open(train: train, test: test)
        defer { directory.remove() }
        #expect(set.classNames == (0 ..< classes).map(String.init))
    }

    @Test("--classes 0,2 keeps those classes of the files' labels, relabelled 0 and 1")
    func classSelection() throws {
        let (set, directory) = try open(train: [0, 1, 2, 2, 1, 0], test: [2, 1, 0], classes: "0,2")
        defer { directory.remove() }
        #expect(set.classNames == ["0", "2"])
        #expect(try set.load(.train).labels == [0, 1, 1, 0])
        #expect(try set.load(.test).labels == [1, 0])
    }

    @Test("files holding label 10 are refused as MNIST and are 11 classes as IDX files of any labels")
    func labelTenIsMNISTsFaultOnly() throws {
        let (set, directory) = try open(train: [0, 10, 3], test: [1], rows: 28, columns: 28)
        defer { directory.remove() }
        #expect(set.classNames.count == 11)
        #expect(throws: DataError.idx(.labelOutOfRange(path: directory.file(MNISTSplit.train.labelsStem), index: 1, value: 10))) {
            try Dataset.mnist.open(directory: directory.path).load(.train)
        }
    }
}
