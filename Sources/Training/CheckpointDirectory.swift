#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint file and the training step it was taken after.
public struct Checkpoint: Equatable, Sendable {
    public let step: Int
    public let path: String

    public init(step: Int, path: String) {
        self.step = step
        self.path = path
    }
}

/// Why a checkpoint directory could not be used, naming the path at fault.
public enum CheckpointDirectoryError: Error, Equatable, CustomStringConvertible {
    case cannotCreate(directory: String, reason: String)
    case notWritable(directory: String, reason: String)
    case cannotList(directory: String, reason: String)
    case cannotRemove(file: String, reason: String)
    /// `--resume` named something that is neither a readable file nor a directory.
    case cannotResume(from: String, reason: String)
    /// `--resume` named a directory that holds no checkpoint.
    case noCheckpointToResume(directory: String)

    public var description: String {
        switch self {
        case .cannotCreate(let directory, let reason):
            "cannot create checkpoint directory \(directory): \(reason)"
        case .notWritable(let directory, let reason):
            "checkpoint directory \(directory) is not writable: \(reason)"
        case .cannotList(let directory, let reason):
            "cannot list checkpoint directory \(directory): \(reason)"
        case .cannotRemove(let file, let reason):
            "cannot remove old checkpoint \(file): \(reason)"
        case .cannotResume(let path, let reason):
            "cannot resume from \(path): \(reason)"
        case .noCheckpointToResume(let directory):
            "cannot resume from \(directory): it holds no step-NNNNNNNNN.safetensors checkpoint"
        }
    }
}

/// A directory of checkpoints named `step-000001000.safetensors`: the step, zero-padded to nine
/// digits so that names sort as steps do. Other files in it, including the hidden temporary
/// files of unfinished writes, are ignored.
public struct CheckpointDirectory: Sendable {
    /// The directory, without a trailing slash.
    public let path: String

    /// Opens `path` as a checkpoint directory, creating it and missing parents (`mkdir -p`),
    /// and proves it writable by creating and removing a probe file, so that a run fails at
    /// its start rather than at its first checkpoint.
    public init(creatingIfNeeded path: String) throws(CheckpointDirectoryError) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        try createDirectories(self.path)
        let probe = "\(self.path)/.write-probe-\(getpid())"
        let descriptor = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .notWritable(directory: self.path, reason: systemErrorText()) }
        close(descriptor)
        guard unlink(probe) == 0 else { throw .notWritable(directory: self.path, reason: systemErrorText()) }
    }

    /// The file name of the checkpoint after `step`.
    public static func fileName(forStep step: Int) -> String {
        precondition(step >= 0, "training steps count from 0")
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + ".safetensors"
    }

    /// The path for the checkpoint after `step` in this directory.
    public func checkpointPath(forStep step: Int) -> String {
        "\(path)/\(Self.fileName(forStep: step))"
    }

    /// The checkpoints in this directory, oldest (lowest step) first.
    public func checkpoints() throws(CheckpointDirectoryError) -> [Checkpoint] {
        try Self.checkpoints(in: path)
    }

    /// The checkpoint with the highest step, or nil when there is none.
    public func newest() throws(CheckpointDirectoryError) -> Checkpoint? {
        try checkpoints().last
    }

    /// Removes all but the `count` newest checkpoints and returns those it removed.
    @discardableResult
    public func prune(keepingNewest count: Int) throws(CheckpointDirectoryError) -> [Checkpoint] {
        precondition(count >= 1, "pruning must keep at least the newest checkpoint")
        let stale = try checkpoints().dropLast(count)
        for checkpoint in stale where unlink(checkpoint.path) != 0 {
            throw .cannotRemove(file: checkpoint.path, reason: systemErrorText())
        }
        return Array(stale)
    }

    /// The checkpoint file a `--resume` argument names: the argument itself when it is a file,
    /// the newest checkpoint in it when it is a directory.
    public static func resolveResume(_ argument: String) throws(CheckpointDirectoryError) -> String {
        var status = stat()
        guard stat(argument, &status) == 0 else { throw .cannotResume(from: argument, reason: systemErrorText()) }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            return argument
        case S_IFDIR:
            guard let newest = try checkpoints(in: argument).last else { throw .noCheckpointToResume(directory: argument) }
            return newest.path
        default:
            throw .cannotResume(from: argument, reason: "not a regular file or directory")
        }
    }

    /// The step a checkpoint file name encodes, or nil for any other name; only the exact names
    /// `fileName(forStep:)` writes count, so that two names never claim the same step.
    public static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
        let digits = name.dropFirst("step-".count).dropLast(".safetensors".count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let step = Int(digits), fileName(forStep: step) == name
        else { return nil }
        return step
    }

    private static func checkpoints(in directory: String) throws(CheckpointDirectoryError) -> [Checkpoint] {
        guard let stream = opendir(directory) else { throw .cannotList(directory: directory, reason: systemErrorText()) }
        defer { closedir(stream) }
        var found: [Checkpoint] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if let step = step(fromFileName: name) {
                found.append(Checkpoint(step: step, path: "\(directory)/\(name)"))
            }
        }
        return found.sorted { $0.step < $1.step }
    }
}

/// Creates `path` and any missing parents, as `mkdir -p` does.
private func createDirectories(_ path: String) throws(CheckpointDirectoryError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component + "/"
        guard mkdir(prefix, 0o755) == 0 || errno == EEXIST else {
            throw .cannotCreate(directory: path, reason: systemErrorText())
        }
    }
    var status = stat()
    guard stat(path, &status) == 0 else { throw .cannotCreate(directory: path, reason: systemErrorText()) }
    guard status.st_mode & S_IFMT == S_IFDIR else {
        throw .cannotCreate(directory: path, reason: String(cString: strerror(ENOTDIR)))
    }
}
