import Foundation
import Testing
import TestSupport

/// `scripts/train.sh` as a user on a cluster calls it: from their own directory, with paths
/// relative to it, options for mpirun, and variables that must reach ranks on other nodes.
@Suite("scripts/train.sh", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct TrainScriptTests {
    static let script = ProcessRunner.packageRoot.appendingPathComponent("scripts/train.sh").path
    static let clusterSim = "cluster-sim/cluster-sim"

    /// A scratch directory to call the script from, the shipped MNIST linked into it as `data`.
    func callerDirectory() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        try FileManager.default.createSymbolicLink(atPath: directory.file("data"), withDestinationPath: ProcessRunner.shippedMNIST)
        return directory
    }

    /// The script with `arguments`, run from `directory` on the binary the tests built (a build
    /// from inside the tests would wait for their own lock on `.build`); `launch` goes first.
    func trainScript(
        _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String] = [:],
        launch: [String] = [], binary: String? = nil, timeout: Double = 120
    ) throws -> ProcessResult {
        try startTrainScript(arguments, in: directory, environment: environment, launch: launch, binary: binary)
            .wait(timeout: timeout)
    }

    /// The same call as `trainScript`, started in the background.
    func startTrainScript(
        _ arguments: [String], in directory: TemporaryDirectory, environment: [String: String] = [:],
        launch: [String] = [], binary: String? = nil
    ) throws -> RunningProcess {
        let command = launch + ["/bin/bash", Self.script, "--binary", try binary ?? ProcessRunner.product("mnist-ddp")] + arguments
        return try RunningProcess(
            command[0], Array(command.dropFirst()), environment: environment,
            workingDirectory: URL(fileURLWithPath: directory.path))
    }

    @Test("relative paths mean the caller's directory, and --mpi-args reach mpirun")
    func relativePathsAndMPIArguments() throws {
        let directory = try callerDirectory()
        defer { directory.remove() }
        try "localhost slots=2\n".write(toFile: directory.file("hosts"), atomically: true, encoding: .utf8)
        let result = try trainScript([
            "--np", "2", "--hostfile", "hosts", "--mpi-args", "--mca btl self,vader --tag-output",
            "--data-dir", "data", "--checkpoint-dir", "runs/a", "--metrics", "metrics.jsonl",
            "--max-steps", "10", "--quiet",
        ], in: directory)
        #expect(result.status == 0, "\(result.output)")
        // --tag-output is mpirun's own: each line names the rank that printed it.
        #expect(result.standardOutput.contains("[1,0]<stdout>:checkpoint \(directory.file("runs/a/step-000000010.safetensors"))"),
                "\(result.output)")
        #expect(FileManager.default.fileExists(atPath: directory.file("runs/a/step-000000010.safetensors")))
        #expect(FileManager.default.fileExists(atPath: directory.file("metrics.jsonl")))
    }

    @Test("every path reaches the ranks absolute, and the environment through -x")
    func launchCommand() throws {
        let directory = try callerDirectory()
        defer { directory.remove() }
        let result = try trainScript([
            "--dry-run", "--np", "3", "--mpi-args", "--mca btl_tcp_if_include 'eth0,eth1'", "--mpi-args", "--report-bindings",
            "--data-dir=data", "--metrics", "m.jsonl", "--init-from", "w.safetensors", "--resume", "old/ck", "--epochs", "2",
        ], in: directory, environment: ["MNIST_DATA_DIR": "elsewhere", "MNIST_DDP_EXAMPLE": "1"])
        #expect(result.status == 0, "\(result.output)")
        let words = result.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init)
        let here = directory.path
        for expected in [
            ["-np", "3"], ["-x", "MNIST_DATA_DIR"], ["-x", "MNIST_DDP_EXAMPLE"], ["--mca", "btl_tcp_if_include", "eth0\\,eth1"],
            ["--report-bindings"], ["--data-dir=\(here)/data"], ["--metrics", "\(here)/m.jsonl"],
            ["--init-from", "\(here)/w.safetensors"], ["--resume", "\(here)/old/ck"], ["--epochs", "2"],
            ["--checkpoint-dir", "\(here)/checkpoints"],
        ] {
            #expect(words.indices.contains { Array(words.dropFirst($0).prefix(expected.count)) == expected },
                    "no \(expected) in \(result.standardOutput)")
        }
        // mpirun's options come before the program, the program's after it.
        let program = try #require(words.firstIndex { $0.hasSuffix("/mnist-ddp") })
        #expect(words[program + 1] == "train" && words.firstIndex(of: "--report-bindings")! < program)
    }

    @Test("--max-restarts hands the placement and mpirun's options to the healing launcher, the train options after them")
    func healingLaunch() throws {
        let directory = try callerDirectory()
        defer { directory.remove() }
        try "localhost slots=2\n".write(toFile: directory.file("hosts"), atomically: true, encoding: .utf8)
        let result = try trainScript([
            "--dry-run", "--hostfile", "hosts", "--np", "2", "--max-restarts", "2", "--min-np", "1", "--restart-cooldown", "5:60",
            "--mpi-args", "--report-bindings", "--epochs", "2",
        ], in: directory)
        #expect(result.status == 0, "\(result.output)")
        let words = result.standardOutput.split(whereSeparator: \.isWhitespace).map(String.init)
        let separators = words.indices.filter { words[$0] == "--" }
        try #require(separators.count == 2, "\(result.standardOutput)")
        let (launch, mpirun, train) = (words[..<separators[0]], words[separators[0] + 1 ..< separators[1]], words[(separators[1] + 1)...])
        #expect(launch.first?.hasSuffix("/mnist-ddp") == true && launch.dropFirst().first == "launch", "\(launch)")
        for expected in ["--max-restarts 2", "--min-np 1", "--restart-cooldown 5:60", "--hostfile \(directory.path)/hosts", "--np 2"] {
            #expect(launch.joined(separator: " ").contains(expected), "no \(expected) in \(launch)")
        }
        #expect(mpirun.first == "mpirun" && mpirun.contains("--report-bindings") && !mpirun.contains("-np") && !mpirun.contains("--hostfile"),
                "\(mpirun)")
        #expect(Array(train) == ["--epochs", "2", "--checkpoint-dir", "\(directory.path)/checkpoints"], "\(train)")
    }

    @Test("a bare --resume stays bare: it resumes from the checkpoint directory")
    func bareResume() throws {
        let directory = try callerDirectory()
        defer { directory.remove() }
        let result = try trainScript(["--dry-run", "--local", "--resume", "--max-steps", "5"], in: directory)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.contains(" train --local --resume --max-steps 5 --checkpoint-dir \(directory.path)/checkpoints"),
                "\(result.output)")
    }

    @Test("an unmatched quote in --mpi-args is refused, naming it")
    func unmatchedQuote() throws {
        let directory = try callerDirectory()
        defer { directory.remove() }
        let result = try trainScript(["--dry-run", "--mpi-args", "--mca btl 'self"], in: directory)
        #expect(result.status != 0)
        #expect(result.standardError.contains("--mpi-args \"--mca btl 'self\": unmatched quote"), "\(result.output)")
    }

    @Test(
        "on two simulated nodes the ranks get MNIST_DATA_DIR and MNIST_DDP_* only through -x, and train",
        .tags(.namespaces),
        .enabled(if: SharedTools.whyNoNetworkNamespaces(tool: clusterSim) == nil,
                 "needs root, network namespaces and ../shared/cluster-sim"))
    func twoNodes() throws {
        let simulator = try #require(SharedTools.tool(Self.clusterSim))
        let prefix = "mntrainsh"
        let environment = ["CLUSTER_SIM_PREFIX": prefix]
        func sim(_ arguments: [String]) throws -> ProcessResult {
            try ProcessRunner.run(simulator, arguments, environment: environment, timeout: 30)
        }
        _ = try sim(["down"])
        let up = try sim(["up", "2"])
        defer { _ = try? sim(["down"]) }
        #expect(up.status == 0, "\(up.output)")
        let directory = try callerDirectory()
        defer { directory.remove() }
        try sim(["hostfile"]).standardOutput.write(toFile: directory.file("nodes"), atomically: true, encoding: .utf8)
        // What the nodes' network needs; each node starts with a fresh environment in $HOME.
        let network = [
            "--hostfile", "nodes", "--mpi-args",
            "--mca plm_rsh_agent '\(simulator) agent' --mca btl tcp,self --mca btl_tcp_if_include 10.200.0.0/24 --mca oob_tcp_if_include 10.200.0.0/24",
        ]
        let launch = ["/usr/bin/env", "ip", "netns", "exec", "\(prefix)0"]
        let variables = environment.merging(["MNIST_DATA_DIR": "data", "MNIST_DDP_EXAMPLE": "forwarded"]) { $1 }

        // Each rank says where it runs and what it was given.
        let probe = directory.file("probe.sh")
        try "#!/bin/sh\necho \"$(hostname): $MNIST_DATA_DIR $MNIST_DDP_EXAMPLE\"\n"
            .write(toFile: probe, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: probe)
        let probed = try trainScript(network, in: directory, environment: variables, launch: launch, binary: probe)
        #expect(probed.status == 0, "\(probed.output)")
        for node in ["node1", "node2"] {
            #expect(probed.standardOutput.contains("\(node): \(directory.path)/data forwarded"), "\(probed.output)")
        }

        let trained = try trainScript(
            network + ["--checkpoint-dir", "checkpoints", "--max-steps", "10", "--quiet"], in: directory,
            environment: variables, launch: launch)
        #expect(trained.status == 0, "\(trained.output)")
        #expect(trained.standardOutput.contains("2 ranks"), "\(trained.output)")
        #expect(FileManager.default.fileExists(atPath: directory.file("checkpoints/step-000000010.safetensors")))
    }
}
