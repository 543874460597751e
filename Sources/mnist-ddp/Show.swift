import ArgumentParser
import Data
import Imaging
import Training

/// The images `show` draws from: the test set, or the training file's images trained on or
/// held out for validation.
enum ShowSplit: String, ExpressibleByArgument, CaseIterable {
    case train, validation, test
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

            --split validation shows the last samples of the training file, the ones a run with \
            --validation-split holds out: as many as --validation-split says, else those the \
            --checkpoint's run held out.
            """
    )

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file.png"))
    var output: String

    @Option(help: "How many images to show.")
    var count = 32

    @Option(help: "Which images: train, validation (the last samples of the training file) or test.")
    var split: ShowSplit = .test

    @Option(help: ArgumentHelp(
        "For --split validation: how many of the last samples of the training file were held out, a fraction in (0, 1) or a count, as train's --validation-split. Default: as many as the --checkpoint's run held out.",
        valueName: "x"))
    var validationSplit: ValidationSplit?

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
        if let validationSplit {
            guard split == .validation else { throw ValidationError("--validation-split chooses the images of --split validation only") }
            do { try validationSplit.check() } catch { throw ValidationError(error) }
        }
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
        let samples = try load(from: directory, model: trained)
        let side = MNISTPreprocessing.side
        if trained != nil && (samples.rows != side || samples.columns != side) {
            throw Failure(message: TrainingError.wrongImageSize(directory: directory, rows: samples.rows, columns: samples.columns).description)
        }
        /// The image at `index` of the split's file.
        func image(_ index: Int) -> Bitmap {
            let size = samples.pixelsPerImage
            let start = (index - samples.firstIndex) * size
            return Bitmap(width: samples.columns, height: samples.rows, channels: 1,
                          samples: Array(samples.pixels[start ..< start + size]))
        }

        // Every image is classified for the mistakes and the confusion matrix; only those shown otherwise.
        let classified = misclassified || confusion ? samples.count : min(count, samples.count)
        var shown = (0 ..< classified).map {
            Shown(index: samples.firstIndex + $0, label: Int(samples.labels[$0]))
        }
        if let trained {
            let probabilities = Classifier(parameters: trained.parameters).probabilities(of: shown.map { image($0.index).samples })
            for (position, classes) in probabilities.enumerated() {
                let best = classes.indices.max { classes[$0] < classes[$1] }!
                shown[position].prediction = (best, classes[best])
            }
        }
        let what = "\(dataset.name) \(split.rawValue)"
        if confusion {
            var report = ClassificationReport(classNames: dataset.classNames, setName: split.rawValue)
            for item in shown { report.record(truth: item.label, predicted: item.prediction!.label) }
            let title = "\(what): confusion matrix, accuracy \(fixed(report.accuracy * 100, 2)) %"
            try writePNG(ConfusionHeatMap(classNames: dataset.classNames, counts: report.confusion, title: title).render(), to: output)
            return
        }
        var title = "\(what): images \(shown.first!.index)-\(shown.last!.index)"
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

    /// The images of --split: for validation, the last samples of the training file held out
    /// by --validation-split or by the checkpoint's run.
    func load(from directory: String, model: TrainedModel?) throws(Failure) -> LabeledImages {
        func read<Value>(_ body: () throws(IDXError) -> Value) throws(Failure) -> Value {
            do { return try body() } catch { throw Failure(message: error.description) }
        }
        switch split {
        case .train: return try read { () throws(IDXError) in try MNISTDataset.load(.train, from: directory) }
        case .test: return try read { () throws(IDXError) in try MNISTDataset.load(.test, from: directory) }
        case .validation:
            let total = try read { () throws(IDXError) in try MNISTDataset.sampleCount(of: .train, in: directory) }
            let samples = try validationSamples(ofTrainingFile: total, model: model)
            return try read { () throws(IDXError) in try MNISTDataset.load(.train, from: directory, samples: samples) }
        }
    }

    /// The samples --split validation shows, of a training file of `total`.
    func validationSamples(ofTrainingFile total: Int, model: TrainedModel?) throws(Failure) -> Range<Int> {
        if let validationSplit {
            let samples = validationSplit.heldOutSamples(ofTrainingFile: total)
            guard samples.count < total else {
                throw Failure(message: "--validation-split \(validationSplit.defaultValueDescription) holds out all \(grouped(total)) samples of the training file; a run would have none to train on")
            }
            return samples
        }
        guard let model else {
            throw Failure(message: "--split validation needs --validation-split, or a --checkpoint of a run that held out a validation split")
        }
        guard let samples = model.validationSamples(ofTrainingFile: total) else {
            throw Failure(message: "\(model.path) records no validation samples held out of the \(grouped(total)) of the training file; give --validation-split")
        }
        return samples
    }
}
