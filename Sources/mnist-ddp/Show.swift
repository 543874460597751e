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

            --augment shows what train --augment does to training images: each row one image, \
            then --columns − 1 draws of the random turn and shift, the draws that epochs 1, 2, … \
            of a run with the same --seed, --augment-rotation and --augment-shift give it.
            """
    )

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "file.png"))
    var output: String

    @Option(help: "How many images to show. Default: 32 (with --augment, 4 images, a row each). A grid holds at most 100 million image pixels.")
    var count: Int?

    @Option(help: "Which images: train, validation (the last samples of the training file) or test. Default: test (with --augment, train).")
    var split: ShowSplit?

    @Option(help: ArgumentHelp(
        "For --split validation: how many of the last samples of the training file were held out, a fraction in (0, 1) or a count, as train's --validation-split. Default: as many as the --checkpoint's run held out.",
        valueName: "x"))
    var validationSplit: ValidationSplit?

    @OptionGroup var data: DataOptions<DefaultsToCheckpoint>

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

    @Flag(help: "Training images as train --augment turns and shifts them: each row one image, then --columns − 1 draws (the first training images; without predictions).")
    var augment = false

    @OptionGroup var augmentationBounds: AugmentationOptions

    @Option(help: "With --augment: the seed of the draws, as train's --seed.")
    var seed: UInt64 = 0

    @Flag(help: "Also print, as a JSON array, each image shown: index, label and (with --checkpoint) prediction and confidence, or (with --augment) each draw's epoch, turn (degrees) and shift (pixels).")
    var json = false

    /// The images chosen by --split.
    var images: ShowSplit { split ?? (augment ? .train : .test) }

    /// How many images --count asks for.
    var imageCount: Int { count ?? (augment ? 4 : 32) }

    func validate() throws {
        guard imageCount >= 1 else { throw ValidationError("--count must be at least 1, got \(imageCount)") }
        guard columns >= 1 else { throw ValidationError("--columns must be at least 1, got \(columns)") }
        guard (1 ... 16).contains(scale) else { throw ValidationError("--scale must be 1 to 16, got \(scale)") }
        if (misclassified || confusion) && checkpoint == nil {
            throw ValidationError("--\(misclassified ? "misclassified" : "confusion") needs --checkpoint")
        }
        guard !(misclassified && confusion) else { throw ValidationError("--misclassified and --confusion draw different pictures; choose one") }
        if augment {
            guard images == .train else { throw ValidationError("--augment shows training images; \(images.rawValue) images are never augmented") }
            if let other = [(checkpoint != nil, "--checkpoint"), (misclassified, "--misclassified"), (confusion, "--confusion")].first(where: \.0) {
                throw ValidationError("--augment shows training images under the augmentation, without predictions; leave out \(other.1)")
            }
            guard columns >= 2 else { throw ValidationError("--augment needs --columns of at least 2: the image, then its draws") }
            do { try augmentationBounds.augmentation.check() } catch { throw ValidationError(error) }
        }
        if let validationSplit {
            guard images == .validation else { throw ValidationError("--validation-split chooses the images of --split validation only") }
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
        var dataset = data.dataset ?? .mnist
        // The set's own images are drawn, and checked against the network once opened.
        if let checkpoint { (trained, dataset) = try loadModel(checkpoint, dataset: data.dataset) }
        let directory = data.directory(of: dataset)
        let set: any LabeledImageSet
        do throws(TrainingError) {
            if let trained {
                set = try trained.open(dataset, directory: directory, options: data.imageOptions)
            } else {
                set = try dataError { () throws(DataError) in try dataset.open(directory: directory, options: data.imageOptions) }
            }
        } catch {
            throw Failure(error)
        }
        if let trained {
            do throws(TrainingError) { try requireModelFits(set, model: trained.model.modelDescription) } catch { throw Failure(error) }
        }
        let samples = try load(from: set, model: trained)
        if augment {
            guard samples.channels == 1 else {
                throw Failure(message: "--augment turns and shifts single-channel images; \(directory) has \(samples.channels) channels", status: .usage)
            }
            return try drawAugmented(samples, dataset: dataset, classNames: set.classNames)
        }
        func image(_ index: Int) -> Bitmap { samples.image(at: index) }

        // Every image is classified for the mistakes and the confusion matrix; only those shown otherwise.
        let classified = misclassified || confusion ? samples.count : min(imageCount, samples.count)
        var shown = (0 ..< classified).map {
            Shown(index: samples.firstIndex + $0, label: Int(samples.labels[$0]))
        }
        if let trained {
            let probabilities = Classifier(trained).probabilities(of: shown.map { image($0.index).samples })
            for (position, classes) in probabilities.enumerated() {
                let best = classes.indices.max { classes[$0] < classes[$1] }!
                shown[position].prediction = (best, classes[best])
            }
        }
        let what = "\(dataset.name) \(images.rawValue)"
        if confusion {
            var report = ClassificationReport(classNames: set.classNames, setName: images.rawValue)
            for item in shown { report.record(truth: item.label, predicted: item.prediction!.label) }
            let title = "\(what): confusion matrix, accuracy \(fixed(report.accuracy * 100, 2)) %"
            try writePNG(ConfusionHeatMap(classNames: set.classNames, counts: report.confusion, title: title).render(), to: output)
            return
        }
        var title = "\(what): " + (shown.first.map { "images \($0.index)-\(shown.last!.index)" } ?? "no images")
        if misclassified {
            let mistakes = shown.filter { $0.prediction!.label != $0.label }
            shown = Array(mistakes.sorted { $0.prediction!.confidence > $1.prediction!.confidence }.prefix(imageCount))
            title = "\(what): \(shown.count) of \(mistakes.count) mistakes, most confident first"
        }
        try checkGridSize(cells: shown.count, of: samples)
        let grid = ImageGrid(columns: columns, scale: scale, title: title).render(
            shown.map { ClassifiedImage(image: image($0.index), truth: $0.label, prediction: $0.prediction) },
            classNames: set.classNames)
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

    /// --augment: the first --count training images, each followed along its row by the draws
    /// epochs 1, 2, … of train --augment give it.
    func drawAugmented(_ samples: LabeledImages, dataset: Dataset, classNames: [String]) throws(Failure) {
        let bounds = augmentationBounds.augmentation
        let draws = columns - 1
        let (cellCount, overflow) = min(imageCount, samples.count).multipliedReportingOverflow(by: columns)
        try checkGridSize(cells: overflow ? .max : cellCount, of: samples)
        var drawn = [Float](repeating: 0, count: samples.pixelsPerImage)
        var cells: [(image: Bitmap, captions: [Caption])] = []
        var records: [JSONValue] = []
        for position in 0 ..< min(imageCount, samples.count) {
            let index = samples.firstIndex + position
            let original = samples.image(at: index)
            cells.append((original, [Caption(classNames[Int(samples.labels[position])])]))
            var drawRecords: [JSONValue] = []
            for epoch in 0 ..< draws {
                let affine = RandomAffine(maxRotationDegrees: bounds.maxRotationDegrees, maxShift: bounds.maxShift, seed: seed, epoch: epoch)
                original.samples.withUnsafeBufferPointer { pixels in
                    drawn.withUnsafeMutableBufferPointer { image in
                        affine.write(pixels: pixels.baseAddress!, rows: samples.rows, columns: samples.columns,
                                     sampleIndex: index, into: image.baseAddress!)
                    }
                }
                let bytes = drawn.map { UInt8(($0 * 255).rounded()) }
                cells.append((Bitmap(width: samples.columns, height: samples.rows, channels: 1, samples: bytes),
                              [Caption("epoch \(epoch + 1)", .grey)]))
                let (angle, dx, dy) = affine.draw(sampleIndex: index)
                drawRecords.append(.object([
                    ("epoch", .integer(epoch + 1)), ("degrees", .number(Double(angle) * 180 / .pi)),
                    ("dx", .number(Double(dx))), ("dy", .number(Double(dy))),
                ]))
            }
            records.append(.object([
                ("index", .integer(index)), ("label", .integer(Int(samples.labels[position]))), ("draws", .array(drawRecords)),
            ]))
        }
        let title = "\(dataset.name) train, augmented: \(bounds.maxRotationDegrees) deg, \(bounds.maxShift) px, seed \(seed)"
        try writePNG(ImageGrid(columns: columns, scale: scale, title: title).render(cells), to: output)
        if json { print(JSONValue.array(records).json) }
    }

    /// The most image pixels (at --scale) a grid may hold: 14,000 MNIST images at the default
    /// scale, a picture of about 300 MB in memory. A larger --count or --columns would only
    /// exhaust the machine, so it is refused before any image is drawn.
    static let maxGridPixels = 100_000_000

    func checkGridSize(cells: Int, of samples: LabeledImages) throws(Failure) {
        let cellPixels = samples.rows * scale * samples.columns * scale
        guard cells <= Self.maxGridPixels / cellPixels else {
            let asked = cells == .max ? "more than \(Self.maxGridPixels / cellPixels)" : "\(cells)"
            throw Failure(message: "a grid of \(asked) images at --scale \(scale) would hold more than \(Self.maxGridPixels / 1_000_000) million pixels; ask for at most \(Self.maxGridPixels / cellPixels) with --count\(augment ? " × --columns" : "")", status: .usage)
        }
    }

    /// The images of --split: for validation, the last samples of the training file held out
    /// by --validation-split or by the checkpoint's run.
    func load(from set: any LabeledImageSet, model: TrainedModel?) throws(Failure) -> LabeledImages {
        func read<Value>(_ body: () throws(DataError) -> Value) throws(Failure) -> Value {
            do { return try body() } catch { throw Failure(TrainingError.data(error)) }
        }
        switch images {
        case .train: return try read { () throws(DataError) in try set.load(.train) }
        case .test: return try read { () throws(DataError) in try set.load(.test) }
        case .validation:
            let total = try read { () throws(DataError) in try set.sampleCount(of: .train) }
            let samples = try validationSamples(ofTrainingFile: total, model: model)
            return try read { () throws(DataError) in try set.load(.train, samples: samples) }
        }
    }

    /// The samples --split validation shows, of a training file of `total`.
    func validationSamples(ofTrainingFile total: Int, model: TrainedModel?) throws(Failure) -> Range<Int> {
        if let validationSplit {
            let samples = validationSplit.heldOutSamples(ofTrainingFile: total)
            guard samples.count < total else {
                throw Failure(message: "--validation-split \(validationSplit.defaultValueDescription) holds out all \(grouped(total)) samples of the training file; a run would have none to train on", status: .usage)
            }
            return samples
        }
        guard let model else {
            throw Failure(message: "--split validation needs --validation-split, or a --checkpoint of a run that held out a validation split", status: .usage)
        }
        guard let samples = model.validationSamples(ofTrainingFile: total) else {
            throw Failure(message: "\(model.path) records no validation samples held out of the \(grouped(total)) of the training file; give --validation-split", status: .usage)
        }
        return samples
    }
}
