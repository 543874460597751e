import Foundation
import Testing
import TestSupport
import Training

/// A run owns its checkpoint directory: it never clobbers or prunes another run's checkpoints,
/// a fresh run into a directory with checkpoints must be told what to do with them, and the
/// checkpoint the summary names always exists.
@Suite("A run owns its checkpoint directory", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct RunOwnershipTests {
    /// Ten steps per epoch whatever the ranks, so that short runs write epoch-end checkpoints.
    static let tenStepEpochs = ["--global-batch-size", "6000", "--eval-every", "100"]

    /// The checkpoint a run's summary names; it must exist.
    func printedCheckpoint(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let line = try #require(
            result.standardOutput.split(separator: "\n").last { $0.hasPrefix("checkpoint ") },
            "no checkpoint line in:\n\(result.output)", sourceLocation: sourceLocation)
        let path = String(line.dropFirst("checkpoint ".count))
        #expect(FileManager.default.fileExists(atPath: path), "\(path) printed but absent", sourceLocation: sourceLocation)
        return path
    }

    func runID(_ path: String) throws -> RunID {
        try CheckpointFormat.decode(CheckpointFormat.open(path)).runID
    }

    func bytes(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("--overwrite deletes the checkpoints in the directory and starts over; the printed checkpoint exists")
    func overwriteStartsOver() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let earlier = try job.train(ranks: 2, ["--max-steps", "30", "--keep", "1"])
        #expect(earlier.status == 0, "\(earlier.output)")
        _ = FileManager.default.createFile(atPath: job.path("checkpoints/notes.txt"), contents: Data())

        let result = try job.train(ranks: 2, ["--max-steps", "10", "--keep", "1", "--overwrite"])
        #expect(result.status == 0, "\(result.output)")
        #expect(try printedCheckpoint(result) == job.path("checkpoints/step-000000010.safetensors"))
        #expect(job.checkpoints(in: job.path("checkpoints")) == [job.path("checkpoints/step-000000010.safetensors")])
        #expect(FileManager.default.fileExists(atPath: job.path("checkpoints/notes.txt")))
    }

    @Test("--auto-resume starts fresh in an empty directory, then continues the run it finds there")
    func autoResume() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let first = try job.train(ranks: 2, ["--max-steps", "20", "--auto-resume"])
        #expect(first.status == 0, "\(first.output)")
        let firstCheckpoint = try printedCheckpoint(first)
        let fresh = try CheckpointFormat.decode(CheckpointFormat.open(firstCheckpoint))
        #expect(fresh.position.step == 20 && fresh.adamStep == 20)

        let second = try job.train(ranks: 2, ["--max-steps", "40", "--auto-resume"])
        #expect(second.status == 0, "\(second.output)")
        let resumed = try CheckpointFormat.decode(CheckpointFormat.open(try printedCheckpoint(second)))
        #expect(resumed.position.step == 40 && resumed.adamStep == 40, "did not continue from step 20")
        #expect(resumed.runID == fresh.runID, "a resumed run keeps its id")
    }

    @Test("a fresh run has a new id; resuming keeps it")
    func runIDs() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        for directory in ["a", "b"] {
            let result = try job.train(ranks: nil, ["--max-steps", "10", "--checkpoint-dir", job.path(directory)])
            #expect(result.status == 0, "\(result.output)")
        }
        let resumed = try job.train(ranks: nil, ["--max-steps", "20", "--checkpoint-dir", job.path("a"), "--resume"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let first = try runID(job.path("a/step-000000010.safetensors"))
        #expect(try runID(job.path("b/step-000000010.safetensors")) != first)
        #expect(try runID(job.path("a/step-000000020.safetensors")) == first)
    }

    @Test("stale temporary files of interrupted writes are removed at start, other files are not")
    func staleTemporaryFilesRemoved() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let directory = job.path("checkpoints")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // What `kill -9` of rank 0 in mid-write leaves, and files that only look like it.
        let stale = [".step-000000010.safetensors.tmp-99999999", ".step-000000500.safetensors.tmp-12345"]
        let others = [".notes.tmp-1", "notes.txt", ".step-000000010.safetensors.bak"]
        for name in stale + others {
            _ = FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data([1, 2, 3]))
        }
        let result = try job.train(ranks: 2, ["--max-steps", "10"])
        #expect(result.status == 0, "\(result.output)")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(left == (others + [CheckpointDirectoryLock.fileName, "step-000000010.safetensors"]).sorted())
    }

    @Test("--keep never removes another run's checkpoint")
    func keepSparesAnotherRun() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let other = try job.train(ranks: nil, ["--max-steps", "10", "--seed", "7", "--checkpoint-dir", job.path("other")])
        #expect(other.status == 0, "\(other.output)")
        let ours = try job.train(ranks: 2, ["--max-steps", "20"])
        #expect(ours.status == 0, "\(ours.output)")
        // Another run's checkpoint copied in beside ours, at a lower step.
        let copied = job.path("checkpoints/step-000000015.safetensors")
        try FileManager.default.copyItem(atPath: job.path("other/step-000000010.safetensors"), toPath: copied)

        let resumed = try job.train(ranks: 2, ["--resume", "--max-steps", "40", "--keep", "1"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let latest = try printedCheckpoint(resumed)
        #expect(job.checkpoints(in: job.path("checkpoints")) == [copied, latest])
        #expect(try bytes(copied) == bytes(job.path("other/step-000000010.safetensors")))
    }

    @Test("--keep never removes the checkpoint just written, even below the run's later ones")
    func keepSparesTheLatest() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let whole = try job.train(ranks: 2, Self.tenStepEpochs + ["--max-steps", "30", "--keep", "5"])
        #expect(whole.status == 0, "\(whole.output)")
        #expect(job.checkpoints(in: job.path("checkpoints")).count == 3)

        // Back to step 10 and on to 15: the run's own steps 20 and 30 are higher than the new one.
        let resumed = try job.train(ranks: 2, Self.tenStepEpochs + [
            "--resume", job.path("checkpoints/step-000000010.safetensors"), "--max-steps", "15", "--keep", "1",
        ])
        #expect(resumed.status == 0, "\(resumed.output)")
        let latest = try printedCheckpoint(resumed)
        #expect(latest == job.path("checkpoints/step-000000015.safetensors"))
        #expect(job.checkpoints(in: job.path("checkpoints")) == [latest])
    }
}

/// The refusals that keep a run from harming another's checkpoints: each before any work.
extension TrainingFailureTests {
    @Test("a fresh run into a directory holding checkpoints is refused, naming --resume and --overwrite")
    func freshRunIntoUsedDirectory() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // The case: with --keep 1 the second run used to delete its own checkpoint.
        let earlier = try job.train(ranks: 2, ["--max-steps", "30", "--keep", "1"])
        #expect(earlier.status == 0, "\(earlier.output)")
        let kept = job.path("checkpoints/step-000000030.safetensors")
        let before = try Data(contentsOf: URL(fileURLWithPath: kept))

        let result = try job.train(ranks: 2, ["--max-steps", "10", "--keep", "1"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: ["rank 0 of 2", job.path("checkpoints"), "already holds checkpoints", "--resume", "--overwrite"])
        #expect(!result.output.contains("step 1/"))
        #expect(job.checkpoints(in: job.path("checkpoints")) == [kept])
        #expect(try Data(contentsOf: URL(fileURLWithPath: kept)) == before)
    }

    @Test("a fresh run into a directory holding another run's best model is refused, naming it")
    func freshRunOverABestModel() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let best = job.path("checkpoints/\(CheckpointDirectory.bestModelFileName)")
        try FileManager.default.createDirectory(atPath: job.path("checkpoints"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: best, contents: Data([1, 2, 3]))
        let result = try job.train(ranks: 2, ["--max-steps", "10"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: [best, "--resume", "--overwrite"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: best)) == Data([1, 2, 3]))
    }

    @Test("options that decide the start differently are refused together", arguments: [
        ["--resume", "--overwrite"], ["--resume", "--auto-resume"], ["--auto-resume", "--overwrite"],
    ])
    func conflictingStarts(arguments: [String]) throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, arguments + ["--max-steps", "10"], timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: arguments + ["exclude each other"])
    }

    @Test("a directory in use by a live run is refused, naming the process that holds it")
    func directoryInUse() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let directory = try CheckpointDirectory(creatingIfNeeded: job.path("checkpoints"))
        let lock = try #require(try directory.lockForThisRun())
        try withExtendedLifetime(lock) {
            let result = try job.train(ranks: 2, ["--max-steps", "10"], timeout: Self.promptly)
            expectFailure(result, status: .usage, mentioning: ["is in use by another run", "process \(getpid()) on "])
        }
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    @Test("resuming below another run's checkpoint is refused: training on would overwrite it")
    func resumeBelowAnotherRun() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let other = try job.train(ranks: nil, ["--max-steps", "10", "--seed", "7", "--checkpoint-dir", job.path("other")])
        #expect(other.status == 0, "\(other.output)")
        let ours = try job.train(ranks: 2, ["--max-steps", "10"])
        #expect(ours.status == 0, "\(ours.output)")
        let copied = job.path("checkpoints/step-000000020.safetensors")
        try FileManager.default.copyItem(atPath: job.path("other/step-000000010.safetensors"), toPath: copied)

        let result = try job.train(
            ranks: 2, ["--resume", job.path("checkpoints/step-000000010.safetensors"), "--max-steps", "30"],
            timeout: Self.promptly)
        expectFailure(result, status: .usage, mentioning: [copied, "belongs to another run"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: copied))
            == Data(contentsOf: URL(fileURLWithPath: job.path("other/step-000000010.safetensors"))))
    }
}
