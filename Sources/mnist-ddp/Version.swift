import Distributed
import KernelPaths

/// What `mnist-ddp --version` prints: this release, the build it is, and what it runs with here.
enum Version {
    /// This release of mnist-ddp.
    static let release = "0.1.0"

    /// The release, the commit and compiler of the build, the MPI library this process loads
    /// (asked without starting MPI), and the kernel paths this CPU runs, fastest (the default) first.
    static var report: String {
        """
        mnist-ddp \(release)
        commit \(buildCommit)
        \(buildCompiler)
        \(MPICommunicator.libraryVersion)
        kernel paths this CPU runs: \(KernelPath.supported.map(\.rawValue).joined(separator: ", "))
        """
    }
}
