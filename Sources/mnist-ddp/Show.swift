import ArgumentParser
import Data
import Imaging
import Training

extension MNISTSplit: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "train": self = .train
        case "test": self = .test
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["train", "test"] }

    var name: String { self == .train ? "train" : "test" }
}

/// `mnist-ddp show`: pictures of the data and of the model's answers, as PNG.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a grid of images with their labels (and a model's predictions) as a PNG.",
        discussion: """
            Without --checkpoint, the first --count images of the split with their labels. With \
            it, each image's label and, below it, the model's prediction and confidence, green \
            when right and red when wrong. --misclassified shows only the mistakes, the most \
            confident first; --confusion draws the confusion matrix instead, as a heat map.
            """
    )

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file.png"))
    var output: String

    @Option(help: "How many images to show.")
    var count = 32

    @Option(help: "Which images: train or test.")
    var split: MNISTSplit = .test

    @Option(help: "mnist or fashion-mnist. Default: the checkpoint's dataset, else mnist.")
    var dataset: Dataset?

    @Option(help: "Directory of the IDX files (.gz or raw). Default: the dataset's own (mnist: $\(DataDirectory.environmentVariable), else \(DataDirectory.defaultPath)).")
    var dataDir: String?

    @Option(help: ArgumentHelp("Weights whose predictions to show: a checkpoint, a directory of them, or a safetensors file.", valueName: "path"))
    var checkpoint: String?

    @Flag(help: "Only the images the model gets wrong, the most confident mistakes first (needs --checkpoint).")
    var misclassified = false

    @Flag(help: "The confusion matrix over the whole split as a heat map (needs --checkpoint).")
    var confusion = false

    @Option(help: "Images per row.")
    var columns = 8

    @Option(help: "Screen pixels per image pixel.")
    var scale = 3

    @Flag(help: "Also print, as a JSON array, each image shown: index, label and (with --checkpoint) prediction and confidence.")
    var json = false

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1, got \(columns)") }
        guard (1 ... 16).contains(scale) else { throw ValidationError("--scale must be 1 to 16, got \(scale)") }
        if (misclassified || confusion) && checkpoint == nil {
            throw ValidationError("--\(misclassified ? "misclassified" : "confusion") needs --checkpoint")
        }
        guard !(misclassified && confusion) else { throw ValidationError("--misclassified and --confusion draw different pictures; choose one") }
    }

    /// One image of the grid and what the model made of it.
    struct Shown {
        let index: Int
        let label: Int
        var prediction: (label: Int, confidence: Double)?
    }

    func run() throws {
        var trained: TrainedModel?
        var dataset = self.dataset ?? .mnist
        if let checkpoint { (trained, dataset) = try loadModel(checkpoint, dataset: self.dataset) }
        let directory = dataset.directory(option: dataDir, environment: environmentVariables())
        let samples: LabeledImages
        do throws(IDXError) { samples = try MNISTDataset.load(split, from: directory) } catch {
            throw Failure(message: error.description)
        }
        let side = MNISTPreprocessing.side
        if trained != nil && (samples.rows != side || samples.columns != side) {
            throw Failure(message: TrainingError.wrongImageSize(directory: directory, rows: samples.rows, columns: samples.columns).description)
        }
        func image(_ index: Int) -> Bitmap {
            let size = samples.pixelsPerImage
            return Bitmap(width: samples.columns, height: samples.rows, channels: 1,
                          samples: Array(samples.pixels[index * size ..< (index + 1) * size]))
        }

        // Every image is classified for the mistakes and the confusion matrix; only those shown otherwise.
        let classified = misclassified || confusion ? samples.count : min(count, samples.count)
        var shown = (0 ..< classified).map { Shown(index: $0, label: Int(samples.labels[$0])) }
        if let trained {
            let probabilities = Classifier(parameters: trained.parameters).probabilities(of: shown.map { image($0.index).samples })
            for (position, classes) in probabilities.enumerated() {
                let best = classes.indices.max { classes[$0] < classes[$1] }!
                shown[position].prediction = (best, classes[best])
            }
        }
        let what = "\(dataset.name) \(split.name)"
        if confusion {
            var report = ClassificationReport(classNames: dataset.classNames, setName: split.name)
            for item in shown { report.record(truth: item.label, predicted: item.prediction!.label) }
            let title = "\(what): confusion matrix, accuracy \(fixed(report.accuracy * 100, 2)) %"
            try writePNG(ConfusionHeatMap(classNames: dataset.classNames, counts: report.confusion, title: title).render(), to: output)
            return
        }
        var title = "\(what): images 0-\(shown.count - 1)"
        if misclassified {
            let mistakes = shown.filter { $0.prediction!.label != $0.label }
            shown = Array(mistakes.sorted { $0.prediction!.confidence > $1.prediction!.confidence }.prefix(count))
            title = "\(what): \(shown.count) of \(mistakes.count) mistakes, most confident first"
        }
        let grid = ImageGrid(columns: columns, scale: scale, title: title).render(shown.map { item in
            var captions = [Caption(dataset.classNames[item.label])]
            if let prediction = item.prediction {
                let colour: Colour = prediction.label == item.label ? .green : .red
                captions.append(Caption("\(dataset.classNames[prediction.label]) \(Int(prediction.confidence * 100))%", colour))
            }
            return (image(item.index), captions)
        })
        try writePNG(grid, to: output)
        if json {
            print(JSONValue.array(shown.map { item in
                var fields: [(String, JSONValue)] = [("index", .integer(item.index)), ("label", .integer(item.label))]
                if let prediction = item.prediction {
                    fields += [("prediction", .integer(prediction.label)), ("confidence", .number(prediction.confidence))]
                }
                return .object(fields)
            }).json)
        }
    }
}
