import ArgumentParser

/// Data-parallel training of a small CNN on MNIST, alone or across MPI ranks.
@main
struct MNISTDDP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist-ddp",
        abstract: "Data-parallel training of a small CNN on MNIST, alone or across MPI ranks.",
        discussion: """
            Run it as a plain process to train alone, or under mpirun to train on every rank:
              mnist-ddp train
              mpirun -np 4 mnist-ddp train
            """,
        subcommands: [Train.self, Evaluate.self]
    )

    /// `--resume` may stand alone (resume from the checkpoint directory) or take a path; the
    /// argument parser wants a value, so a bare `--resume` is given the empty path.
    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        for index in arguments.indices.reversed() where arguments[index] == "--resume" {
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            if next == nil || next!.hasPrefix("-") { arguments.insert("", at: index + 1) }
        }
        main(arguments)
    }
}
