import ArgumentParser
import Distributed
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// `mnist-ddp evaluate`: scores saved model weights on the MNIST test set.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate saved model weights on the 10,000 test images.",
        discussion: """
            Takes one of our checkpoints, whose network is rebuilt from the description it \
            records, or any safetensors file holding the seed network's six tensors under PyTorch's \
            state_dict names (conv1.weight … fc1.bias), such as one written by \
            safetensors.torch.save_file(model.state_dict(), path). A checkpoint of ours is verified \
            (checksum included) before it is used.

            Under mpirun every rank reads the checkpoint and scores its own slice of the test set; \
            rank 0 prints the same figures as one process, to the last digit.
            """
    )

    @Option(help: ArgumentHelp(
        "The safetensors file to evaluate, or a checkpoint directory to evaluate its newest checkpoint.", valueName: "path"))
    var checkpoint: String

    @OptionGroup var data: DataOptions<DefaultsToCheckpoint>

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)
        let communicator = try startCommunicator(for: LaunchMode.detect(environment: environmentVariables()))
        defer { (communicator as? MPICommunicator)?.finalize() }
        do throws(TrainingError) {
            let (trained, report) = try TrainedModel.scoreOnTestSet(
                checkpoint, dataset: data.dataset, dataDirectory: { data.directory(of: $0) }, options: data.imageOptions,
                communicator: communicator)
            guard communicator.isRoot else { return }
            print("\(trained.path): \(report.summaryLine)")
            print()
            print(report.formatted)
        } catch {
            throw reportFailure(error, on: communicator)
        }
    }
}
