import Data
import TestSupport
import Testing

/// `--classes`: which classes a run keeps, relabelled 0…k−1 in the order given.
@Suite("Class selection")
struct ClassSelectionTests {
    static let fashion = Dataset.fashionMNIST.classNames

    @Test("names, label numbers and ranges of labels, in the order given")
    func itemsResolve() throws {
        #expect(try ClassSelection(parsing: "0-4")!.labels(among: Dataset.mnist.classNames, of: "mnist") == [0, 1, 2, 3, 4])
        #expect(try ClassSelection(parsing: "9,3")!.labels(among: Dataset.mnist.classNames, of: "mnist") == [9, 3])
        #expect(try ClassSelection(parsing: "Sandal, Sneaker,Ankle boot")!.labels(among: Self.fashion, of: "f") == [5, 7, 9])
        #expect(try ClassSelection(parsing: "T-shirt/top,1")!.labels(among: Self.fashion, of: "f") == [0, 1])
    }

    @Test("an empty item is not a list")
    func emptyItem() {
        #expect(ClassSelection(parsing: "1,,2") == nil)
        #expect(ClassSelection(parsing: "") == nil)
    }

    @Test("an unknown class or a label beyond the classes is refused as a usage error naming it",
          arguments: ["Sock", "10", "8-10", "5-3"])
    func unknown(item: String) {
        #expect(throws: DataError.unknownClass(item, location: "f", known: Self.fashion)) {
            try ClassSelection(parsing: "Bag,\(item)")!.labels(among: Self.fashion, of: "f")
        }
        #expect(DataError.unknownClass(item, location: "f", known: Self.fashion).isUsageError)
    }

    @Test("a class kept twice is refused")
    func repeated() {
        #expect(throws: DataError.repeatedClass("3", location: "mnist")) {
            try ClassSelection(parsing: "0-4,3")!.labels(among: Dataset.mnist.classNames, of: "mnist")
        }
    }
}

/// `--classes` on MNIST's IDX files: each split keeps its samples of those classes, relabelled,
/// and a range of them reads only the files' samples it spans.
@Suite("Class subsets of IDX files")
struct IDXClassSubsetTests {
    /// MNIST read with `--classes list`.
    func mnist(_ list: String?) throws -> any LabeledImageSet {
        try Dataset.mnist.open(directory: mnistDirectory, options: ImageSetOptions(classes: list.map { ClassSelection(parsing: $0)! }))
    }

    @Test("without --classes the set reads exactly what MNISTDataset reads")
    func unchangedWithoutClasses() throws {
        let set = try mnist(nil)
        #expect(set.classNames == Dataset.mnist.classNames)
        #expect(set.shape == ImageShape(channels: 1, rows: 28, columns: 28))
        #expect(try set.sampleCount(of: .train) == 60_000)
        let loaded = try set.load(.test, samples: 1_234 ..< 2_345)
        let direct = try MNISTDataset.load(.test, from: mnistDirectory, samples: 1_234 ..< 2_345)
        #expect(loaded.pixels == direct.pixels && loaded.labels == direct.labels && loaded.firstIndex == 1_234)
    }

    @Test("classes 0-4 of the MNIST test set are its 5,139 samples of those digits")
    func zeroToFourCount() throws {
        let set = try mnist("0-4")
        #expect(try set.sampleCount(of: .test) == 5_139)
        #expect(try set.sampleCount(of: .train) == 30_596)
        #expect(set.classNames == ["0", "1", "2", "3", "4"])
    }

    @Test("9,3 keeps the nines as label 0 and the threes as label 1, in file order, bytes unchanged")
    func relabelled() throws {
        let whole = try MNISTDataset.load(.test, from: mnistDirectory)
        let kept = whole.labels.indices.filter { whole.labels[$0] == 9 || whole.labels[$0] == 3 }
        let subset = try mnist("9,3").load(.test)
        #expect(subset.labels == kept.map { whole.labels[$0] == 9 ? 0 : 1 })
        #expect(subset.pixels == kept.flatMap { whole.pixels[$0 * 784 ..< ($0 + 1) * 784] })
    }

    @Test("a rank's shard of the kept samples is their slice, and streams in whole batches")
    func shardAndStream() throws {
        let set = try mnist("5-9")
        let count = try set.sampleCount(of: .test)
        let all = try set.load(.test)
        let shard = Sharding.range(of: count, rank: 1, worldSize: 3)
        let loaded = try set.load(.test, samples: shard)
        #expect(loaded.firstIndex == shard.lowerBound)
        #expect(loaded.labels == Array(all.labels[shard]))
        #expect(loaded.pixels == Array(all.pixels[shard.lowerBound * 784 ..< shard.upperBound * 784]))
        var batches: [Int] = []
        var labels: [UInt8] = []
        try set.stream(.test, samples: shard, batchSize: 100) { batch in
            batches.append(batch.count)
            labels += batch.labels
        }
        #expect(labels == loaded.labels)
        #expect(batches.dropLast().allSatisfy { $0 == 100 } && batches.reduce(0, +) == shard.count)
    }
}
