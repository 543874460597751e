/// The shape of one image as a network takes it: channels, rows and columns (PyTorch's C×H×W).
public struct ImageShape: Sendable, Equatable, CustomStringConvertible {
    public let channels: Int
    public let rows: Int
    public let columns: Int

    public init(channels: Int, rows: Int, columns: Int) {
        self.channels = channels
        self.rows = rows
        self.columns = columns
    }

    /// `[channels, rows, columns]`, as a model's input shape is written.
    public var dimensions: [Int] { [channels, rows, columns] }

    /// The bytes (and the floats of a batch) one image takes.
    public var valuesPerImage: Int { channels * rows * columns }

    /// "28×28" for a grey image, "32×32×3" for a colour one.
    public var description: String {
        channels == 1 ? "\(rows)×\(columns)" : "\(rows)×\(columns)×\(channels)"
    }
}

/// The rows and columns every image of a folder must have (`--image-size HxW`).
public struct ImageSize: Sendable, Equatable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    /// "HxW" (or "H×W"), each side from 1 to `ImageFolder.maximumSide`; nil for anything else.
    public init?(parsing text: String) {
        let sides = text.split(omittingEmptySubsequences: false) { $0 == "x" || $0 == "X" || $0 == "×" }
        guard sides.count == 2, let rows = Int(sides[0]), let columns = Int(sides[1]),
              (1 ... ImageFolder.maximumSide).contains(rows), (1 ... ImageFolder.maximumSide).contains(columns)
        else { return nil }
        self.init(rows: rows, columns: columns)
    }

    public var description: String { "\(rows)x\(columns)" }
}
