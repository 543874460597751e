import ArgumentParser
import CNN
import Data
import Training

/// `mnist-ddp evaluate`: scores saved model weights on the MNIST test set.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate saved model weights on the 10,000 test images.",
        discussion: """
            Takes one of our checkpoints, or any safetensors file holding the model's six tensors \
            under PyTorch's state_dict names (conv1.weight … fc1.bias), such as one written by \
            safetensors.torch.save_file(model.state_dict(), path). A checkpoint of ours is verified \
            (checksum included) before it is used.
            """
    )

    @Option(help: ArgumentHelp(
        "The safetensors file to evaluate, or a checkpoint directory to evaluate its newest checkpoint.", valueName: "path"))
    var checkpoint: String

    @OptionGroup var data: DataOptions<DefaultsToCheckpoint>

    func run() throws {
        let (trained, dataset) = try loadModel(checkpoint, dataset: data.dataset)
        let directory = data.directory(of: dataset)
        do throws(TrainingError) {
            let model = Network(maxBatch: 100)
            model.withUnsafeMutableParameters { _ = $0.update(fromContentsOf: trained.parameters) }
            let report = try Evaluator(model: Network.modelDescription, batch: model.maxBatch, classNames: dataset.classNames)
                .evaluate(model, on: MNISTTestSet(directory: directory))
            print("\(trained.path): \(report.summaryLine)")
            print()
            print(report.formatted)
        } catch {
            throw Failure(error)
        }
    }
}
