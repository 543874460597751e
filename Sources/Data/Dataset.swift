/// A named set of 10 classes of 28×28 images in MNIST's four IDX files.
public struct Dataset: Sendable, Equatable {
    /// As given to `--dataset` and recorded in checkpoints.
    public let name: String
    /// The name of each class, by label.
    public let classNames: [String]
    /// Where its files are when nothing says otherwise.
    public let defaultDirectory: String

    /// The handwritten digits shipped with the project.
    public static let mnist = Dataset(
        name: "mnist", classNames: (0 ... 9).map(String.init), defaultDirectory: DataDirectory.defaultPath)

    /// Zalando's Fashion-MNIST, as Debian's `dataset-fashion-mnist` package installs it.
    public static let fashionMNIST = Dataset(
        name: "fashion-mnist",
        classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        defaultDirectory: "/usr/share/datasets/fashion-mnist")

    public static let all = [mnist, fashionMNIST]

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
