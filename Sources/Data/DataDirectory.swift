/// Where the MNIST files are looked for.
public enum DataDirectory {
    /// The environment variable that names the directory when no option does.
    public static let environmentVariable = "MNIST_DATA_DIR"
    /// The directory used when neither the option nor the environment names one.
    public static let defaultPath = "data/mnist"

    /// The command-line option if given, else the environment variable, else `defaultPath`.
    /// An empty value counts as not given.
    public static func resolve(option: String?, environment: [String: String]) -> String {
        [option, environment[environmentVariable]]
            .compactMap { $0 }
            .first { !$0.isEmpty } ?? defaultPath
    }
}
