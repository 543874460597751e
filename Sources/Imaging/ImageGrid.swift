#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A line of text drawn above an image in a grid.
public struct Caption: Sendable, Equatable {
    public let text: String
    public let colour: Colour

    public init(_ text: String, _ colour: Colour = .black) {
        self.text = text
        self.colour = colour
    }
}

/// A picture of labelled grey images in rows, as the tutorial's matplotlib grid shows them:
/// each image scaled up, its captions centred above it, a title over all.
public struct ImageGrid {
    public let columns: Int
    /// Each image pixel becomes a `scale`×`scale` square.
    public let scale: Int
    public var title: String

    private static let margin = 12
    private static let gap = 10

    public init(columns: Int = 8, scale: Int = 3, title: String = "") {
        precondition(columns >= 1 && scale >= 1, "a grid needs at least one column and a scale of 1")
        self.columns = columns
        self.scale = scale
        self.title = title
    }

    /// The grid of `images` (one-channel, all the same size), each under its captions. Captions
    /// are drawn at twice the font's size when the longest fits above its image, else at size 1.
    public func render(_ images: [(image: Bitmap, captions: [Caption])]) -> Bitmap {
        let imageWidth = (images.first?.image.width ?? 0) * scale
        let imageHeight = (images.first?.image.height ?? 0) * scale
        let widest = images.flatMap { $0.captions.map { BitmapFont.width(of: $0.text) } }.max() ?? 0
        let textScale = widest * 2 <= imageWidth ? 2 : 1
        let lines = images.map(\.captions.count).max() ?? 0
        let lineHeight = (BitmapFont.lineHeight + 1) * textScale
        let cellWidth = max(imageWidth, widest * textScale) + Self.gap
        let cellHeight = lines * lineHeight + 2 + imageHeight + Self.gap
        let titleHeight = title.isEmpty ? 0 : 2 * (BitmapFont.lineHeight + 3)
        let rows = (images.count + columns - 1) / columns
        let width = max(2 * Self.margin + min(columns, max(images.count, 1)) * cellWidth - Self.gap,
                        2 * Self.margin + BitmapFont.width(of: title, scale: 2))
        var canvas = Canvas(width: width, height: 2 * Self.margin + titleHeight + rows * cellHeight - Self.gap)
        canvas.draw(text: title, x: Self.margin, y: Self.margin, scale: 2)
        for (index, entry) in images.enumerated() {
            precondition(entry.image.width * scale == imageWidth && entry.image.height * scale == imageHeight,
                         "the grid's images must all be the same size")
            let left = Self.margin + (index % columns) * cellWidth
            let top = Self.margin + titleHeight + (index / columns) * cellHeight
            let centre = left + (cellWidth - Self.gap) / 2
            for (line, caption) in entry.captions.enumerated() {
                canvas.draw(text: caption.text, centreX: centre, y: top + line * lineHeight, scale: textScale, caption.colour)
            }
            canvas.draw(image: entry.image, x: centre - imageWidth / 2, y: top + lines * lineHeight + 2, scale: scale)
        }
        return canvas.bitmap
    }
}

/// A confusion matrix as a heat map: one square per (true, predicted) pair, shaded by the share
/// of the true class it holds, with its count written in it.
public struct ConfusionHeatMap {
    public let classNames: [String]
    /// `counts[truth][predicted]`.
    public let counts: [[Int]]
    public var title: String

    private static let cell = 60
    private static let margin = 16
    private static let dark = Colour(8, 48, 107)

    public init(classNames: [String], counts: [[Int]], title: String) {
        precondition(counts.count == classNames.count && counts.allSatisfy { $0.count == classNames.count },
                     "a confusion matrix needs a row and a column per class")
        self.classNames = classNames
        self.counts = counts
        self.title = title
    }

    public func render() -> Bitmap {
        let classes = classNames.count
        // Columns are numbered; rows also named where the names are more than the numbers.
        let rowLabels = classNames.enumerated().map { $0.element == String($0.offset) ? $0.element : "\($0.offset) \($0.element)" }
        let labelWidth = (rowLabels.map { BitmapFont.width(of: $0, scale: 2) }.max() ?? 0) + 12
        let line = 2 * (BitmapFont.lineHeight + 3)
        let gridLeft = Self.margin + line + labelWidth
        let gridTop = Self.margin + 3 * line
        let width = max(gridLeft + classes * Self.cell + Self.margin, 2 * Self.margin + BitmapFont.width(of: title, scale: 2))
        var canvas = Canvas(width: width, height: gridTop + classes * Self.cell + Self.margin)
        canvas.draw(text: title, x: Self.margin, y: Self.margin, scale: 2)
        canvas.draw(text: "predicted", centreX: gridLeft + classes * Self.cell / 2, y: Self.margin + line, scale: 2, .grey)
        drawVertical("true", centreY: gridTop + classes * Self.cell / 2, x: Self.margin, on: &canvas)
        for column in 0 ..< classes {
            canvas.draw(text: String(column), centreX: gridLeft + column * Self.cell + Self.cell / 2,
                        y: Self.margin + 2 * line, scale: 2)
        }
        for (truth, row) in counts.enumerated() {
            let total = max(row.reduce(0, +), 1)
            let top = gridTop + truth * Self.cell
            canvas.draw(text: rowLabels[truth], x: gridLeft - labelWidth, y: top + (Self.cell - 14) / 2, scale: 2)
            for (predicted, count) in row.enumerated() {
                // A power below 1 lets a few mistakes show beside the diagonal's hundreds.
                let shade = pow(Double(count) / Double(total), 0.4)
                let left = gridLeft + predicted * Self.cell
                canvas.fill(x: left, y: top, width: Self.cell - 1, height: Self.cell - 1, Colour.white.blended(with: Self.dark, shade))
                guard count > 0 else { continue }
                let text = String(count)
                let textScale = BitmapFont.width(of: text, scale: 2) <= Self.cell - 6 ? 2 : 1
                canvas.draw(text: text, centreX: left + Self.cell / 2, y: top + (Self.cell - 7 * textScale) / 2,
                            scale: textScale, shade > 0.6 ? .white : .black)
            }
        }
        return canvas.bitmap
    }

    /// `text` written downwards, one character under another.
    private func drawVertical(_ text: String, centreY: Int, x: Int, on canvas: inout Canvas) {
        let step = 2 * (BitmapFont.lineHeight + 1)
        let top = centreY - text.count * step / 2
        for (index, character) in text.enumerated() {
            canvas.draw(text: String(character), x: x, y: top + index * step, scale: 2, .grey)
        }
    }
}

/// One image as a grid of a model's answers shows it: its true class and, once a model has
/// classified it, the class the model gave and its confidence in it.
public struct ClassifiedImage: Sendable {
    public let image: Bitmap
    public let truth: Int
    public let prediction: (label: Int, confidence: Double)?

    public init(image: Bitmap, truth: Int, prediction: (label: Int, confidence: Double)? = nil) {
        self.image = image
        self.truth = truth
        self.prediction = prediction
    }

    /// Its captions: the true class and, below it, the model's answer and confidence in green
    /// when right and in red when wrong.
    public func captions(classNames: [String]) -> [Caption] {
        var captions = [Caption(classNames[truth])]
        if let prediction {
            let colour: Colour = prediction.label == truth ? .green : .red
            captions.append(Caption("\(classNames[prediction.label]) \(Int(prediction.confidence * 100))%", colour))
        }
        return captions
    }
}

extension ImageGrid {
    /// The grid of `images`, each under its true class and the model's answer.
    public func render(_ images: [ClassifiedImage], classNames: [String]) -> Bitmap {
        render(images.map { ($0.image, $0.captions(classNames: classNames)) })
    }
}
