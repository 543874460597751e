import Foundation
import Testing

/// What a test needs beyond its own process. Swift Testing's command line here cannot skip by tag,
/// so each tagged suite or test also carries `.startsProcesses`, which `scripts/test.sh --fast`
/// turns into a skip.
extension Tag {
    /// Starts another process: `mnist-ddp`, a script, Python, qemu.
    @Tag public static var processes: Self
    /// Starts a real `mpirun` job.
    @Tag public static var mpi: Self
    /// Starts a real Slurm (`../shared/slurm-sim`).
    @Tag public static var slurm: Self
    /// Creates network namespaces to simulate nodes (`../shared/cluster-sim`).
    @Tag public static var namespaces: Self
}

extension Trait where Self == ConditionTrait {
    /// Skipped when `MNIST_DDP_UNIT_TESTS_ONLY=1` (`scripts/test.sh --fast`): for what is tagged
    /// `processes`, since it starts something.
    public static var startsProcesses: Self {
        .disabled(if: ProcessInfo.processInfo.environment["MNIST_DDP_UNIT_TESTS_ONLY"] == "1",
                  "scripts/test.sh --fast runs the unit tests alone, and this starts other processes")
    }
}
