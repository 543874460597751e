import ArgumentParser
import CNN
import KernelPaths
import Distributed
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

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

            Exit statuses, alike on every rank and from mpirun:
            \(ExitStatus.helpTable)
            """,
        subcommands: [Train.self, Search.self, Evaluate.self, Predict.self, Show.self, Model.self, Bench.self, Launch.self]
    )

    /// Parses and runs the command. An error is one line on standard error, printed by rank 0
    /// alone when a launcher started several copies of us, and its `ExitStatus`.
    static func main() {
        do {
            var command = try parseAsRoot(normalized(Array(CommandLine.arguments.dropFirst())))
            checkKernelPath()
            try command.run()
        } catch {
            let code = (error as? Failure).map { ExitCode($0.status.rawValue) } ?? exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
            } else if LaunchMode.launcherRank(environment: environmentVariables()) ?? 0 == 0 {
                let message = message(for: error)
                if !message.isEmpty { fputs("mnist-ddp: error: \(message)\n", stderr) }
            }
            terminate(code.rawValue)
        }
    }

    /// Ends the process with one line and the usage status if `MNIST_DDP_KERNELS` names a kernel
    /// path this CPU cannot run: a restart would meet the same setting on the same CPU. Every rank
    /// checks (and reports) its own CPU, since nodes of a cluster may differ.
    static func checkKernelPath() {
        do throws(KernelSelectionError) {
            _ = try KernelPath.selected(forced: environmentVariables()[KernelPath.environmentVariable])
        } catch {
            fputs("mnist-ddp: error: \(error)\n", stderr)
            terminate(ExitStatus.usage.rawValue)
        }
    }

    /// `--resume` may stand alone (resume from the checkpoint directory) or take a path; the
    /// argument parser wants a value, so a bare `--resume` is given the empty path.
    static func normalized(_ arguments: [String]) -> [String] {
        var arguments = arguments
        for index in arguments.indices.reversed() where arguments[index] == "--resume" {
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            if next == nil || next!.hasPrefix("-") { arguments.insert("", at: index + 1) }
        }
        return arguments
    }
}

/// Ends the process with `status` (the command type's own `exit` hides the C one by name).
private func terminate(_ status: Int32) -> Never {
    exit(status)
}
