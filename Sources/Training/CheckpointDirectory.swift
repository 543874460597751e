import Distributed

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
    /// A checkpoint to read (`--resume`, `evaluate --checkpoint`) is neither a readable file
    /// nor a directory.
    case cannotOpenCheckpoint(path: String, reason: String)
    /// A checkpoint to read names a directory that holds no checkpoint.
    case noCheckpoint(directory: String)
    /// A fresh run was pointed at a directory that already holds checkpoints.
    case holdsCheckpoints(directory: String, newest: String)
    /// Another live run holds the directory's lock; `holder` is what it wrote there.
    case inUse(directory: String, holder: String)
    /// Training on from the resumed step would overwrite `checkpoint`, which another run wrote.
    case otherRunAhead(checkpoint: String, resumedStep: Int)

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
        case .cannotOpenCheckpoint(let path, let reason):
            "cannot read checkpoint \(path): \(reason)"
        case .noCheckpoint(let directory):
            "\(directory) holds no step-NNNNNNNNN.safetensors checkpoint"
        case .holdsCheckpoints(let directory, let newest):
            "checkpoint directory \(directory) already holds checkpoints (newest \(newest)): pass --resume to continue that run, or --overwrite to delete them and start over"
        case .inUse(let directory, let holder):
            "checkpoint directory \(directory) is in use by another run (\(holder.isEmpty ? "starting" : holder)): wait for it to end, or use another --checkpoint-dir"
        case .otherRunAhead(let checkpoint, let step):
            "\(checkpoint) belongs to another run and lies beyond step \(step) being resumed: training on would overwrite it; move it away or use another --checkpoint-dir"
        }
    }

    /// A directory the run cannot write to is an output's fault; a checkpoint to read that is
    /// not there is bad input; a directory that other checkpoints or another run claim asks the
    /// person for another option (`--resume`, `--overwrite`, `--checkpoint-dir`).
    public var exitStatus: ExitStatus {
        switch self {
        case .cannotCreate, .notWritable, .cannotList, .cannotRemove: .cannotWrite
        case .cannotOpenCheckpoint, .noCheckpoint: .badInput
        case .holdsCheckpoints, .inUse, .otherRunAhead: .usage
        }
    }
}

/// A directory of checkpoints named `step-000001000.safetensors`: the step, zero-padded to nine
/// digits so that names sort as steps do. Other files in it are never touched, save the hidden
/// temporary files that interrupted writes of checkpoints leave behind.
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

    /// The file a run with a validation split keeps its best model in: a checkpoint like the
    /// others, but never pruned, and named apart so that resuming never picks it.
    public static let bestModelFileName = "best.safetensors"

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

    /// Removes the checkpoints of one run but the `count` newest, and returns those it removed.
    /// `latest`, the one the run has just written, counts as the newest and is always kept, even
    /// when the run has others of higher steps (it resumed from an earlier one); checkpoints that
    /// `isOfTheRun` does not accept are never touched.
    @discardableResult
    public func prune(
        keepingNewest count: Int, latest: String, isOfTheRun: (Checkpoint) -> Bool
    ) throws(CheckpointDirectoryError) -> [Checkpoint] {
        precondition(count >= 1, "pruning must keep at least the newest checkpoint")
        let stale = try checkpoints().filter { $0.path != latest && isOfTheRun($0) }.dropLast(count - 1)
        for checkpoint in stale {
            try remove(checkpoint.path)
        }
        return Array(stale)
    }

    /// The best model a run with a validation split saved here, if there is one.
    public func bestModel() -> String? {
        let path = "\(path)/\(Self.bestModelFileName)"
        return access(path, F_OK) == 0 ? path : nil
    }

    /// Removes every checkpoint in the directory and the best model (for `--overwrite`), and
    /// returns their paths.
    @discardableResult
    public func removeAllCheckpoints() throws(CheckpointDirectoryError) -> [String] {
        let all = try checkpoints().map(\.path) + [bestModel()].compactMap { $0 }
        for file in all {
            try remove(file)
        }
        return all
    }

    /// Removes the temporary files of checkpoint writes that will never finish, and returns their
    /// paths. With the directory locked for this run, every one is stale: each writer holds the
    /// lock while it runs. Where the file system cannot lock, only those whose writing process
    /// no longer exists on this host are known to be stale.
    @discardableResult
    public func removeStaleTemporaryFiles(holdingLock: Bool) throws(CheckpointDirectoryError) -> [String] {
        var stale: [String] = []
        for name in try Self.entries(in: path) {
            guard let writer = Self.writingProcess(ofTemporaryFile: name),
                  holdingLock || (kill(writer, 0) != 0 && errno == ESRCH)
            else { continue }
            stale.append("\(path)/\(name)")
        }
        for file in stale {
            try remove(file)
        }
        return stale
    }

    /// The process that was writing, when `name` is a temporary file of `writeAtomically` for a
    /// checkpoint or the best model (`.step-000000100.safetensors.tmp-PID`,
    /// `.best.safetensors.tmp-PID`); nil for any other name.
    private static func writingProcess(ofTemporaryFile name: String) -> pid_t? {
        guard name.hasPrefix("."), let dash = name.lastIndex(of: "-") else { return nil }
        let target = name[name.index(after: name.startIndex)..<dash]
        let digits = name[name.index(after: dash)...]
        let written = String(target.dropLast(".tmp".count))
        guard target.hasSuffix(".tmp"), step(fromFileName: written) != nil || written == bestModelFileName,
              !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let process = pid_t(digits), process > 0
        else { return nil }
        return process
    }

    /// Takes the directory for this run: an exclusive lock on its `.mnist-ddp.lock` file, held while the
    /// returned lock lives, and dropped by the system when the process ends, however it ends.
    /// Fails when another run holds it; nil when the file system cannot lock (some network file
    /// systems), in which case the run goes on without.
    public func lockForThisRun() throws(CheckpointDirectoryError) -> CheckpointDirectoryLock? {
        let lockPath = "\(path)/\(CheckpointDirectoryLock.fileName)"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else { throw .notWritable(directory: path, reason: systemErrorText()) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let failure = errno
            let holder = failure == EWOULDBLOCK ? CheckpointDirectoryLock.holder(descriptor) : ""
            close(descriptor)
            if failure == EWOULDBLOCK { throw .inUse(directory: path, holder: holder) }
            return nil
        }
        return CheckpointDirectoryLock(descriptor: descriptor)
    }

    /// The checkpoint file that a path to read one names (`--resume`, `evaluate --checkpoint`):
    /// the path itself when it is a file, the newest checkpoint in it when it is a directory.
    public static func resolveCheckpoint(_ argument: String) throws(CheckpointDirectoryError) -> String {
        var status = stat()
        guard stat(argument, &status) == 0 else { throw .cannotOpenCheckpoint(path: argument, reason: systemErrorText()) }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            return argument
        case S_IFDIR:
            guard let newest = try checkpoints(in: argument).last else { throw .noCheckpoint(directory: argument) }
            return newest.path
        default:
            throw .cannotOpenCheckpoint(path: argument, reason: "not a regular file or directory")
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
        try entries(in: directory)
            .compactMap { name in step(fromFileName: name).map { Checkpoint(step: $0, path: "\(directory)/\(name)") } }
            .sorted { $0.step < $1.step }
    }

    /// The names in `directory`.
    private static func entries(in directory: String) throws(CheckpointDirectoryError) -> [String] {
        guard let stream = opendir(directory) else { throw .cannotList(directory: directory, reason: systemErrorText()) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
        }
        return names
    }

    /// Removes `file`; one that is already gone is no error.
    private func remove(_ file: String) throws(CheckpointDirectoryError) {
        guard unlink(file) == 0 || errno == ENOENT else { throw .cannotRemove(file: file, reason: systemErrorText()) }
    }
}

/// A run's hold on its checkpoint directory: while it lives, another run cannot take the
/// directory. The lock file stays behind (removing it would let two runs lock different files).
public final class CheckpointDirectoryLock {
    public static let fileName = ".mnist-ddp.lock"
    private let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
        // Who holds it, for the message that refuses another run.
        let holder = Array("process \(getpid()) on \(hostName())".utf8)
        _ = ftruncate(descriptor, 0)
        _ = holder.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }

    /// What the holder of the lock on `descriptor` wrote: at most one short line.
    static func holder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 300)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).filter { !$0.isNewline }
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
