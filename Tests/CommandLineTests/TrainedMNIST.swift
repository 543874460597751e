import Foundation
import TestSupport

/// One short training run shared by the tests that need trained weights: one epoch on the
/// shipped MNIST (about 96 % accurate), with its metrics file. Trained at first use, removed when
/// the test process exits.
enum TrainedMNIST {
    struct Run: Sendable {
        let checkpointDirectory: String
        let metrics: String
    }

    static let run: Result<Run, TrainingFailed> = {
        do {
            let directory = try TemporaryDirectory()
            sharedDirectory = directory
            atexit { sharedDirectory?.remove() }
            let run = Run(checkpointDirectory: directory.file("checkpoints"), metrics: directory.file("mnist.jsonl"))
            let result = try ProcessRunner.run(
                try ProcessRunner.product("mnist-ddp"),
                ["train", "--quiet", "--epochs", "1", "--data-dir", ProcessRunner.shippedMNIST,
                 "--checkpoint-dir", run.checkpointDirectory, "--metrics", run.metrics],
                timeout: 300)
            guard result.status == 0 else { return .failure(TrainingFailed(message: "training failed: \(result.output)")) }
            return .success(run)
        } catch {
            return .failure(TrainingFailed(message: "\(error)"))
        }
    }()

    /// The checkpoint directory (its newest checkpoint is the trained one).
    static func checkpoint() throws -> String { try run.get().checkpointDirectory }
}

/// Held here so that it outlives every test using it.
private nonisolated(unsafe) var sharedDirectory: TemporaryDirectory?

struct TrainingFailed: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
