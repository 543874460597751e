#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A named kind of data: a set of 10 classes of 28×28 images in MNIST's four IDX files, any IDX
/// files of those names (whose labels tell their classes), or images in class folders
/// (`ImageFolder`), whose classes are the folders'.
public struct Dataset: Sendable, Equatable {
    /// As given to `--dataset` and recorded in checkpoints.
    public let name: String
    /// The name of each class, by label; empty where the files tell the classes (an image
    /// folder, IDX files of any labels).
    public let classNames: [String]
    /// Where its files are when nothing says otherwise (none for an image folder or IDX files of
    /// any labels: they need `--data-dir`).
    public let defaultDirectory: String
    /// Whether it is read as an `ImageFolder` (its class names come from the folders) rather
    /// than as MNIST's IDX files.
    public let isImageFolder: Bool

    private init(name: String, classNames: [String], defaultDirectory: String, isImageFolder: Bool = false) {
        self.name = name
        self.classNames = classNames
        self.defaultDirectory = defaultDirectory
        self.isImageFolder = isImageFolder
    }

    /// The handwritten digits shipped with the project.
    public static let mnist = Dataset(
        name: "mnist", classNames: (0 ..< MNISTDataset.classCount).map(String.init), defaultDirectory: DataDirectory.defaultPath)

    /// Zalando's Fashion-MNIST, as Debian's `dataset-fashion-mnist` package installs it.
    public static let fashionMNIST = Dataset(
        name: "fashion-mnist",
        classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        defaultDirectory: "/usr/share/datasets/fashion-mnist")

    /// MNIST's four file names in a directory, holding images of any size and labels 0…n−1:
    /// 1 + the largest label of its training and test files are its classes, named by their
    /// numbers.
    public static let idx = Dataset(name: "idx", classNames: [], defaultDirectory: "")

    /// PNG images in class folders, `DIR/train/CLASS/*.png` and `DIR/test/CLASS/*.png`.
    public static let imageFolder = Dataset(name: "folder", classNames: [], defaultDirectory: "", isImageFolder: true)

    public static let all = [mnist, fashionMNIST, idx, imageFolder]

    /// The image folder when `directory` has a `train` folder (torchvision's `ImageFolder`
    /// layout, which MNIST's IDX files never have), else nil.
    public static func detected(in directory: String) -> Dataset? {
        var status = stat()
        guard stat(directory + "/" + ImageFolder.folderName(of: .train), &status) == 0,
              status.st_mode & S_IFMT == S_IFDIR else { return nil }
        return imageFolder
    }

    /// The dataset called `name`, if we know it.
    public static func named(_ name: String) -> Dataset? {
        all.first { $0.name == name }
    }

    /// The directory to read: the option if given, else (for MNIST only, whose variable it is)
    /// `$MNIST_DATA_DIR`, else the dataset's own place.
    public func directory(option: String?, environment: [String: String]) -> String {
        if let option, !option.isEmpty { return option }
        return self == .mnist ? DataDirectory.resolve(option: nil, environment: environment) : defaultDirectory
    }
}
