import ArgumentParser

/// Data-parallel training of a small CNN on MNIST, alone or across MPI ranks.
@main
struct MNISTDDP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist-ddp",
        abstract: "Data-parallel training of a small CNN on MNIST, alone or across MPI ranks."
    )
}
