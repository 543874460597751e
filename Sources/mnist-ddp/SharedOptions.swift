import ArgumentParser
import Training

// What several commands take alike, parsed and checked in one place.

extension ValidationSplit: ExpressibleByArgument {
    /// A count (`6000`) or a fraction (`0.1`); the range is checked by `check()`.
    public init?(argument: String) {
        if let count = Int(argument) {
            self = .count(count)
        } else if let share = Double(argument) {
            self = .fraction(share)
        } else {
            return nil
        }
    }

    public var defaultValueDescription: String {
        switch self {
        case .fraction(let share): String(share)
        case .count(let count): String(count)
        }
    }
}

extension ValidationError {
    /// An option refused by the checks training applies to it, in the same words.
    init(_ error: TrainingError) {
        self.init(error.description)
    }
}

/// The bounds of `--augment`'s random turn and shift, as `train` draws them.
struct AugmentationOptions: ParsableArguments {
    @Option(help: "With --augment: the largest turn, in degrees either way.")
    var augmentRotation: Float = Augmentation().maxRotationDegrees

    @Option(help: "With --augment: the largest shift, in pixels along each axis.")
    var augmentShift: Float = Augmentation().maxShift

    var augmentation: Augmentation {
        Augmentation(maxRotationDegrees: augmentRotation, maxShift: augmentShift)
    }
}

/// Where `train` and `search` write TensorBoard's event files.
struct TensorBoardOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Write TensorBoard event files (rank 0) into <dir>/<run>: scalars, images, histograms and text, as they come; a resumed run appends to its run. View with tensorboard --logdir <dir>. Off by default.",
        valueName: "dir"))
    var tensorboard: String?

    @Option(help: ArgumentHelp("With --tensorboard: the run's directory below <dir>. Default: the run's id, which its resumes keep (a search draws one).", valueName: "name"))
    var runName: String?

    func validate() throws {
        guard let runName else { return }
        guard tensorboard != nil else { throw ValidationError("--run-name names the run of --tensorboard; give --tensorboard too") }
        do { try TensorBoardSettings.check(runName: runName) } catch { throw ValidationError(error) }
    }

    /// The settings of a run, or nil without --tensorboard.
    var settings: TensorBoardSettings? {
        tensorboard.map { TensorBoardSettings(directory: $0, runName: runName) }
    }
}
