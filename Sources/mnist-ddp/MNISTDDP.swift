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
        version: Version.report,
        subcommands: [Train.self, Search.self, Evaluate.self, Predict.self, Show.self, Model.self, Bench.self, Launch.self]
    )

    /// Parses and runs the command. An error is one line on standard error, printed by rank 0
    /// alone when a launcher started several copies of us, and its `ExitStatus`.
    static func main() {
        do {
            var command = try parseAsRoot(normalized(Array(CommandLine.arguments.dropFirst())))
            if environmentVariables()[parseOnlyVariable] == "1" { terminate(0) }
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

    /// Set to 1, the command line is parsed and validated, and the process exits 0 without
    /// running it: a job script's arguments can be checked before the job is submitted, and the
    /// documentation's commands are checked so by the tests.
    static let parseOnlyVariable = "MNIST_DDP_PARSE_ONLY"

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

    /// The command line as the argument parser should read it.
    ///
    /// A negative number after an option (`--lr -1`) would be read as an option of its own, and
    /// the user told that `--lr` lacks a value; joined to its option (`--lr=-1`) it reaches the
    /// option's own check, which names the real problem (the range).
    ///
    /// `--resume` may stand alone (resume from the checkpoint directory) or take a path; the
    /// argument parser wants a value, so a bare `--resume` is given the empty path.
    static func normalized(_ arguments: [String]) -> [String] {
        var arguments: [String] = arguments.reduce(into: []) { joined, argument in
            if let option = joined.last, isLongOptionAwaitingValue(option), isNegativeNumber(argument) {
                joined[joined.count - 1] = option + "=" + argument
            } else {
                joined.append(argument)
            }
        }
        for index in arguments.indices.reversed() where arguments[index] == "--resume" {
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            if next == nil || next!.hasPrefix("-") { arguments.insert("", at: index + 1) }
        }
        return arguments
    }

    /// `--name` without an `=value` of its own.
    private static func isLongOptionAwaitingValue(_ argument: String) -> Bool {
        argument.hasPrefix("--") && argument.count > 2 && !argument.contains("=")
    }

    /// `-1`, `-0.5`, `-.5`, `-1e-3`, `-inf`, or a comma-separated list starting with one
    /// (`search --lr -1,0.001`): no option of ours is spelled so.
    private static func isNegativeNumber(_ argument: String) -> Bool {
        guard argument.hasPrefix("-"), argument.count > 1 else { return false }
        let first = argument.split(separator: ",", omittingEmptySubsequences: false)[0]
        return Double(first) != nil
    }
}

/// Ends the process with `status` (the command type's own `exit` hides the C one by name).
private func terminate(_ status: Int32) -> Never {
    exit(status)
}
