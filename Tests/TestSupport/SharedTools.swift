import Foundation

/// The project's read-only shared material (`../shared` beside the project root, or where
/// `MNIST_DDP_SHARED` says): the cluster and Slurm simulators that the multi-node tests drive.
public enum SharedTools {
    public static let directory: String? = {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["MNIST_DDP_SHARED"],
            ProcessRunner.packageRoot.deletingLastPathComponent().appendingPathComponent("shared").path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }()

    /// The path of `tool` (such as `cluster-sim/cluster-sim`), when it is there and executable.
    public static func tool(_ tool: String) -> String? {
        guard let directory else { return nil }
        let path = directory + "/" + tool
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Why a test that needs root and network namespaces cannot run here, or nil when it can.
    public static func whyNoNetworkNamespaces(tool: String) -> String? {
        if Self.tool(tool) == nil { return "\(tool) not found in ../shared (or $MNIST_DDP_SHARED)" }
        if getuid() != 0 { return "needs root for network namespaces" }
        let probe = "mnist-ddp-probe-\(getpid())"
        guard let added = try? ProcessRunner.run("/usr/bin/env", ["ip", "netns", "add", probe], timeout: 10),
              added.status == 0 else { return "cannot create a network namespace (ip netns add failed)" }
        _ = try? ProcessRunner.run("/usr/bin/env", ["ip", "netns", "del", probe], timeout: 10)
        return nil
    }
}
