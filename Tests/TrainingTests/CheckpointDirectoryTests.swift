import Distributed
import Foundation
import TestSupport
import Testing
import Training

/// A new empty directory under the system's temporary directory; `body` runs with its path and
/// the directory is removed afterwards.
private func withScratchDirectory(_ body: (String) throws -> Void) throws {
    let directory = try TemporaryDirectory()
    defer { directory.remove() }
    try body(directory.path)
}

private func contents(of path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func entries(of directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

private func touch(_ path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data())
}

// MARK: Atomic writes

@Test func atomicWriteReplacesTheContentAndLeavesNoTemporaryFile() throws {
    try withScratchDirectory { directory in
        let path = "\(directory)/model.safetensors"
        try writeAtomically([1, 2, 3], to: path)
        try writeAtomically([4, 5], to: path)
        #expect(try contents(of: path) == [4, 5])
        #expect(try entries(of: directory) == ["model.safetensors"])
    }
}

@Test func atomicWriteUnderARegularFileFailsNamingThePathAndCause() throws {
    try withScratchDirectory { directory in
        touch("\(directory)/file")
        let path = "\(directory)/file/model.safetensors"
        let error = #expect(throws: AtomicWriteError.self) { try writeAtomically([1], to: path) }
        #expect(error == AtomicWriteError(path: path, step: .createTemporary, reason: "Not a directory"))
        #expect(error?.description == "cannot write \(path): could not create its temporary file: Not a directory")
    }
}

@Test func failedAtomicWriteLeavesTheOldFileIntact() throws {
    try withScratchDirectory { directory in
        let path = "\(directory)/model.safetensors"
        try writeAtomically([1, 2, 3], to: path)
        // A directory squatting on the temporary file's name makes creating it fail.
        try FileManager.default.createDirectory(atPath: temporaryPath(forWritingTo: path), withIntermediateDirectories: false)
        #expect(throws: AtomicWriteError(path: path, step: .createTemporary, reason: "Is a directory")) {
            try writeAtomically([9, 9], to: path)
        }
        #expect(try contents(of: path) == [1, 2, 3])
    }
}

@Test func failedRenameRemovesTheTemporaryFile() throws {
    try withScratchDirectory { directory in
        // A non-empty directory under the final name cannot be replaced by a file.
        let path = "\(directory)/model.safetensors"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        touch("\(path)/keep")
        #expect(throws: AtomicWriteError(path: path, step: .rename, reason: "Is a directory")) {
            try writeAtomically([1], to: path)
        }
        #expect(try entries(of: directory) == ["model.safetensors"])
        #expect(try entries(of: path) == ["keep"])
    }
}

@Test func temporaryFileIsHiddenBesideTheTargetAndNamedForThisProcess() {
    #expect(temporaryPath(forWritingTo: "model.safetensors") == ".model.safetensors.tmp-\(getpid())")
    #expect(temporaryPath(forWritingTo: "/model.safetensors") == "/.model.safetensors.tmp-\(getpid())")
    #expect(temporaryPath(forWritingTo: "runs/a/model.safetensors") == "runs/a/.model.safetensors.tmp-\(getpid())")
}

// MARK: Checkpoint directory

@Test func checkpointNamesArePaddedSoThatTheySortByStep() {
    #expect(CheckpointDirectory.fileName(forStep: 0) == "step-000000000.safetensors")
    #expect(CheckpointDirectory.fileName(forStep: 1000) == "step-000001000.safetensors")
    #expect(CheckpointDirectory.fileName(forStep: 1_234_567_890) == "step-1234567890.safetensors")
}

@Test func onlyExactCheckpointNamesParseAsSteps() {
    #expect(CheckpointDirectory.step(fromFileName: "step-000001000.safetensors") == 1000)
    #expect(CheckpointDirectory.step(fromFileName: "step-1234567890.safetensors") == 1_234_567_890)
    for name in [
        "step-1000.safetensors", "step-0000001000.safetensors", "step-.safetensors", "step-00000100x.safetensors",
        "step-+00000100.safetensors", "step-000001000.safetensors.tmp-12", ".step-000001000.safetensors.tmp-12",
        "step-000001000.json", "model.safetensors",
    ] {
        #expect(CheckpointDirectory.step(fromFileName: name) == nil, "\(name)")
    }
}

@Test func openingCreatesTheDirectoryAndMissingParentsAndLeavesNoProbe() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: "\(scratch)/runs/a/checkpoints/")
        #expect(directory.path == "\(scratch)/runs/a/checkpoints")
        #expect(try entries(of: directory.path) == [])
        #expect(directory.checkpointPath(forStep: 7) == "\(scratch)/runs/a/checkpoints/step-000000007.safetensors")
    }
}

@Test func directoryUnderARegularFileCannotBeCreated() throws {
    try withScratchDirectory { scratch in
        touch("\(scratch)/file")
        let path = "\(scratch)/file/checkpoints"
        let error = #expect(throws: CheckpointDirectoryError.self) { try CheckpointDirectory(creatingIfNeeded: path) }
        #expect(error == .cannotCreate(directory: path, reason: "Not a directory"))
        #expect(error?.description == "cannot create checkpoint directory \(path): Not a directory")
    }
}

@Test func regularFileIsNotACheckpointDirectory() throws {
    try withScratchDirectory { scratch in
        touch("\(scratch)/checkpoints")
        #expect(throws: CheckpointDirectoryError.cannotCreate(directory: "\(scratch)/checkpoints", reason: "Not a directory")) {
            try CheckpointDirectory(creatingIfNeeded: "\(scratch)/checkpoints")
        }
    }
}

#if os(Linux)
/// Tests run as root, which may write anywhere on an ordinary file system; procfs refuses even root.
@Test func directoryThatRefusesNewFilesIsNotWritable() {
    #expect(throws: CheckpointDirectoryError.notWritable(directory: "/proc/self", reason: "No such file or directory")) {
        try CheckpointDirectory(creatingIfNeeded: "/proc/self")
    }
}
#endif

@Test func checkpointsAreListedByStepIgnoringOtherFiles() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        for step in [10, 2, 100] {
            try writeAtomically([UInt8(step)], to: directory.checkpointPath(forStep: step))
        }
        for name in [".step-000000200.safetensors.tmp-123", "notes.txt", "step-12.safetensors", "step-000000300.safetensors.bak"] {
            touch("\(scratch)/\(name)")
        }
        #expect(try directory.checkpoints() == [2, 10, 100].map { Checkpoint(step: $0, path: directory.checkpointPath(forStep: $0)) })
        #expect(try directory.newest() == Checkpoint(step: 100, path: directory.checkpointPath(forStep: 100)))
    }
}

@Test func emptyDirectoryHasNoNewestCheckpoint() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        #expect(try directory.newest() == nil)
    }
}

@Test func pruningKeepsTheNewestCheckpointsOnly() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        for step in 1...5 {
            try writeAtomically([], to: directory.checkpointPath(forStep: step * 100))
        }
        touch("\(scratch)/notes.txt")
        let latest = directory.checkpointPath(forStep: 500)
        let removed = try directory.prune(keepingNewest: 2, latest: latest) { _ in true }
        #expect(removed.map(\.step) == [100, 200, 300])
        #expect(try entries(of: scratch) == ["notes.txt", "step-000000400.safetensors", "step-000000500.safetensors"])
        #expect(try directory.prune(keepingNewest: 3, latest: latest) { _ in true }.isEmpty)
        #expect(try directory.checkpoints().map(\.step) == [400, 500])
    }
}

@Test func pruningNeverTouchesAnotherRunsCheckpoints() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        for step in [100, 200, 300, 400] {
            try writeAtomically([], to: directory.checkpointPath(forStep: step))
        }
        // Steps 100 and 300 belong to another run, 300 being newer than this run's 200.
        let removed = try directory.prune(keepingNewest: 1, latest: directory.checkpointPath(forStep: 400)) {
            [200, 400].contains($0.step)
        }
        #expect(removed.map(\.step) == [200])
        #expect(try directory.checkpoints().map(\.step) == [100, 300, 400])
    }
}

@Test func pruningKeepsTheCheckpointJustWrittenOverHigherStepsOfTheSameRun() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        // The run resumed from step 100 and has just written 150; its old 200 and 300 are stale.
        for step in [100, 150, 200, 300] {
            try writeAtomically([], to: directory.checkpointPath(forStep: step))
        }
        let latest = directory.checkpointPath(forStep: 150)
        #expect(try directory.prune(keepingNewest: 1, latest: latest) { _ in true }.map(\.step) == [100, 200, 300])
        #expect(try directory.checkpoints() == [Checkpoint(step: 150, path: latest)])
    }
}

@Test func overwritingRemovesEveryCheckpointAndTheBestModelAndNothingElse() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        for step in [10, 20] {
            try writeAtomically([], to: directory.checkpointPath(forStep: step))
        }
        for name in ["notes.txt", "step-12.safetensors", "model.safetensors", CheckpointDirectory.bestModelFileName] {
            touch("\(scratch)/\(name)")
        }
        #expect(try directory.removeAllCheckpoints() == [10, 20].map(directory.checkpointPath(forStep:)) + [
            "\(scratch)/\(CheckpointDirectory.bestModelFileName)",
        ])
        #expect(try entries(of: scratch) == ["model.safetensors", "notes.txt", "step-12.safetensors"])
    }
}

/// Names like a checkpoint write's temporary files that are not: never removed.
private let namesLikeTemporaryFiles = [
    ".step-000000010.safetensors.tmp-", ".step-000000010.safetensors.tmp-12x", ".step-10.safetensors.tmp-12",
    ".model.safetensors.tmp-12", "step-000000010.safetensors.tmp-12", ".step-000000010.safetensors.tmp-0", "notes.txt",
    ".best.safetensors.tmp-", ".best.json.tmp-12",
]

@Test func holdingTheLockEveryTemporaryCheckpointFileIsStale() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        // Ours is alive, 99999999 is above any pid_max: with the lock held no writer can be busy.
        let temporaries = [
            ".step-000000010.safetensors.tmp-\(getpid())", ".step-000000020.safetensors.tmp-99999999", ".best.safetensors.tmp-42",
        ]
        for name in temporaries + namesLikeTemporaryFiles {
            touch("\(scratch)/\(name)")
        }
        let removed = try directory.removeStaleTemporaryFiles(holdingLock: true)
        #expect(removed.sorted() == temporaries.map { "\(scratch)/\($0)" }.sorted())
        #expect(try entries(of: scratch) == namesLikeTemporaryFiles.sorted())
    }
}

@Test func withoutTheLockOnlyTemporaryFilesOfEndedProcessesAreStale() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        let live = ".step-000000010.safetensors.tmp-\(getpid())"
        let ended = ".step-000000020.safetensors.tmp-99999999"
        for name in [live, ended] + namesLikeTemporaryFiles {
            touch("\(scratch)/\(name)")
        }
        #expect(try directory.removeStaleTemporaryFiles(holdingLock: false) == ["\(scratch)/\(ended)"])
        #expect(try entries(of: scratch) == ([live] + namesLikeTemporaryFiles).sorted())
    }
}

@Test func aLockedDirectoryIsRefusedToAnotherRunNamingTheHolder() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        do {
            let held = try #require(try directory.lockForThisRun())
            withExtendedLifetime(held) {
                let error = #expect(throws: CheckpointDirectoryError.self) { try directory.lockForThisRun() }
                #expect(error == .inUse(directory: scratch, holder: "process \(getpid()) on \(hostName())"))
                #expect(error?.description.contains("is in use by another run") == true)
            }
        }
        // Released with its holder, the directory can be taken again.
        #expect(try directory.lockForThisRun() != nil)
    }
}

@Test func resumingFromAFileUsesThatFile() throws {
    try withScratchDirectory { scratch in
        let path = "\(scratch)/anything.safetensors"
        touch(path)
        let resolved = try CheckpointDirectory.resolveCheckpoint(path)
        #expect(resolved == path)
    }
}

@Test func resumingFromADirectoryUsesItsNewestCheckpoint() throws {
    try withScratchDirectory { scratch in
        let directory = try CheckpointDirectory(creatingIfNeeded: scratch)
        for step in [900, 1000, 80] {
            try writeAtomically([], to: directory.checkpointPath(forStep: step))
        }
        #expect(try CheckpointDirectory.resolveCheckpoint(scratch) == directory.checkpointPath(forStep: 1000))
    }
}

@Test func resumingFromADirectoryWithoutCheckpointsFails() throws {
    try withScratchDirectory { scratch in
        touch("\(scratch)/notes.txt")
        let error = #expect(throws: CheckpointDirectoryError.self) { try CheckpointDirectory.resolveCheckpoint(scratch) }
        #expect(error == .noCheckpoint(directory: scratch))
        #expect(error?.description == "\(scratch) holds no step-NNNNNNNNN.safetensors checkpoint")
    }
}

@Test func resumingFromAMissingPathFails() {
    #expect(throws: CheckpointDirectoryError.cannotOpenCheckpoint(path: "/nonexistent/ckpt", reason: "No such file or directory")) {
        try CheckpointDirectory.resolveCheckpoint("/nonexistent/ckpt")
    }
}
