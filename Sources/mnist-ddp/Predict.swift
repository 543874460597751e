import ArgumentParser
import Data
import Imaging
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// `mnist-ddp predict`: classifies image files with saved weights.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify PNG images (or the images of IDX files) with saved model weights.",
        discussion: """
            For a model of MNIST, Fashion-MNIST or IDX files of 28×28 images, each image is \
            prepared as MNIST's were: made grey; inverted when its border is light \
            (dark ink on paper); cropped to the ink; scaled so that its longer side is 20 pixels, \
            keeping its shape, by area averaging; and placed in a 28×28 frame with its centre of \
            mass at the centre. A photo of a digit works, not only a 28×28 crop. PNG files of \
            any kind are read (grey, RGB, palette, with or without alpha, 8 or 16 bits); \
            transparency is shown over white.

            A model trained on an image folder, or on IDX files of another size, takes each \
            image as a folder's are: converted to the model's channels as PIL's convert("L") or \
            convert("RGB") does (alpha dropped), and resized to the model's input size by area \
            averaging, as train's --image-size does.

            Prints one line per image, `PATH: 7 (99.2 %)`, then the next two guesses (as many as \
            the model has classes). A file \
            that cannot be read or used gets an error line and the others are still classified; \
            the exit status is then non-zero.
            """
    )

    @Option(help: ArgumentHelp(
        "A checkpoint, a directory of checkpoints (the newest is used), or a safetensors file of the model's weights.",
        valueName: "path"))
    var checkpoint: String

    @OptionGroup var classNames: DatasetOption<DefaultsToCheckpoint>

    @Flag(help: "Take the images as they are: 28×28, bright ink on black, like MNIST's own (not for a model of an image folder or of images of another shape, whose images are always prepared as a folder's).")
    var raw = false

    @Flag(help: "The files are IDX image files (.gz or raw); each of their images is classified, named PATH[i].")
    var index = false

    @Flag(help: "Print a JSON array of {path, prediction, class, probabilities} (or {path, error}) instead of lines.")
    var json = false

    @Option(help: ArgumentHelp(
        "Write each image the model saw (28×28, or the input size of a model prepared as a folder's) to this directory, as N-NAME.png for the Nth image argument (from 1) named NAME.png, and N-NAME-i.png for image i of an IDX file: never two alike, even for files of one name in different directories. Files of those names already there are replaced.",
        valueName: "dir"))
    var savePreprocessed: String?

    @Argument(help: ArgumentHelp("The images: PNG files, or IDX image files with --index.", valueName: "image"))
    var images: [String]

    /// One image to classify, or why there is none.
    struct Input {
        let name: String
        /// Where to save it with --save-preprocessed.
        let fileName: String
        let outcome: Result<Bitmap, Failure>
    }

    func run() throws {
        let (model, dataset) = try loadModel(checkpoint, dataset: classNames.dataset)
        // The checkpoint's own classes (after its run's --classes), else the dataset's.
        let names = model.classNames ?? dataset.classNames
        guard !names.isEmpty else {
            throw Failure(message: "\(model.path) records no class names, and an image folder's are its class folders': use one of our checkpoints trained on it", status: .usage)
        }
        // A folder model's images are prepared as its folder's were, in its input's shape, and so
        // are those of a model of images that MNIST's preparation does not give.
        let modelShape = model.model.modelDescription.imageShape
        let mnistShape = ImageShape(channels: 1, rows: MNISTPreprocessing.side, columns: MNISTPreprocessing.side)
        let folderShape = dataset.isImageFolder || modelShape != mnistShape ? modelShape : nil
        if raw, let folderShape {
            let trainedOn = dataset.isImageFolder ? "an image folder" : "\(folderShape) images"
            throw Failure(message: "--raw takes MNIST-style images as they are; \(model.path) was trained on \(trainedOn), whose images are always converted and resized as a folder's are", status: .usage)
        }
        if let savePreprocessed, mkdir(savePreprocessed, 0o755) != 0 && errno != EEXIST {
            throw Failure(message: "cannot create \(savePreprocessed): \(String(cString: strerror(errno)))", status: .cannotWrite)
        }
        var inputs = images.enumerated().flatMap { read($1, argument: $0 + 1, folderShape: folderShape) }
        if let savePreprocessed {
            inputs = inputs.map { input in
                guard case .success(let image) = input.outcome else { return input }
                do throws(Failure) {
                    try writePNG(image, to: savePreprocessed + "/" + input.fileName)
                    return input
                } catch {
                    return Input(name: input.name, fileName: input.fileName, outcome: .failure(error))
                }
            }
        }

        let prepared = inputs.compactMap { try? $0.outcome.get().planes }
        var probabilities = Classifier(model).probabilities(of: prepared).makeIterator()
        var records: [JSONValue] = []
        var firstFailure: Failure?
        for input in inputs {
            switch input.outcome {
            case .failure(let failure):
                firstFailure = firstFailure ?? failure
                fputs("mnist-ddp: error: \(failure.message)\n", stderr)
                records.append(.object([("path", .string(input.name)), ("error", .string(failure.message))]))
            case .success:
                let classes = probabilities.next()!
                let ranked = classes.indices.sorted { classes[$0] > classes[$1] }
                func guess(_ label: Int) -> String { "\(names[label]) (\(fixed(classes[label] * 100, 1)) %)" }
                if !json {
                    // The next two guesses, as many as the model has.
                    let next = ranked.dropFirst().prefix(2).map(guess).joined(separator: ", ")
                    print("\(input.name): \(guess(ranked[0]))" + (next.isEmpty ? "" : ", then \(next)"))
                }
                records.append(.object([
                    ("path", .string(input.name)), ("prediction", .integer(ranked[0])),
                    ("class", .string(names[ranked[0]])),
                    ("probabilities", .array(classes.map(JSONValue.number))),
                ]))
            }
        }
        if json { print(JSONValue.array(records).json) }
        if let firstFailure { throw ExitCode(firstFailure.status.rawValue) }
    }

    /// The images of one file, the `argument`th image argument, each prepared for the model (or
    /// the reason it cannot be): as the images of a folder of `folderShape`, or as MNIST's.
    func read(_ path: String, argument: Int, folderShape: ImageShape?) -> [Input] {
        let name = String(path.split(separator: "/").last ?? "image").split(separator: ".").first.map(String.init) ?? "image"
        // The argument's number first: names that differ in it cannot be alike, whatever NAME holds.
        let stem = "\(argument)-\(name)"
        func failed(_ message: String) -> [Input] {
            [Input(name: path, fileName: "", outcome: .failure(Failure(message: message, status: .badInput)))]
        }
        guard index else {
            do {
                return [prepare(try PNG.read(path), name: path, fileName: stem + ".png", folderShape: folderShape)]
            } catch {
                return failed(error.description)
            }
        }
        let file: (rows: Int, columns: Int, pixels: [UInt8])
        do { file = try MNISTDataset.images(contentsOf: path) } catch { return failed(error.description) }
        let size = file.rows * file.columns
        return (0 ..< file.pixels.count / size).map { item in
            let image = Bitmap(width: file.columns, height: file.rows, channels: 1,
                               samples: Array(file.pixels[item * size ..< (item + 1) * size]))
            return prepare(image, name: "\(path)[\(item)]", fileName: "\(stem)-\(item).png", folderShape: folderShape)
        }
    }

    /// `image` as the model takes it: as a sample of a folder of `folderShape` (converted and
    /// resized), else preprocessed as MNIST was, or as it is with --raw.
    func prepare(_ image: Bitmap, name: String, fileName: String, folderShape: ImageShape?) -> Input {
        if let folderShape {
            return Input(name: name, fileName: fileName, outcome: .success(ImageFolder.sample(of: image, shape: folderShape)))
        }
        do {
            let prepared = raw ? try MNISTPreprocessing.raw(image) : try MNISTPreprocessing.normalize(image)
            return Input(name: name, fileName: fileName, outcome: .success(prepared))
        } catch {
            return Input(name: name, fileName: fileName, outcome: .failure(Failure(message: "\(name): \(error)", status: .badInput)))
        }
    }
}
