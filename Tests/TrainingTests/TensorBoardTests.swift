import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport
import Training

/// `--tensorboard`: what real runs write, read back by TensorBoard's own reader
/// (tensorboard_events.py beside this file) and by a real TensorBoard server. Short runs: an
/// epoch is 118 steps of 500 samples once 1,000 are held out for validation.
@Suite("TensorBoard event files", .serialized, .startsProcesses, .tags(.processes, .mpi))
struct TensorBoardTests {
    static let unavailable: String? = {
        let probe = try? ProcessRunner.run("/usr/bin/env", ["python3", "-c", "import tensorboard"], timeout: 60)
        return probe?.status == 0 ? nil : "the tensorboard Python package is missing (scripts/setup.sh installs it)"
    }()
    static let checker = ProcessRunner.packageRoot.appendingPathComponent("Tests/TrainingTests/tensorboard_events.py").path
    static let shortRun = ["--batch-size", "500", "--validation-split", "1000", "--log-every", "10", "--tensorboard"]

    /// Runs the checker's `command`; it prints "ok" or says which check failed.
    func check(_ command: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", Self.checker, command] + arguments, timeout: 120)
        #expect(result.status == 0 && result.standardOutput.hasPrefix("ok"), "\(result.output)", sourceLocation: sourceLocation)
    }

    @Test("two ranks' run: scalars equal to the metrics file, prediction grids and confusion matrix as PNG, histograms, the run's description",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func run() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: 2, Self.shortRun + [job.path("tb"), "--run-name", "two-ranks", "--epochs", "2",
                                                               "--metrics", job.path("metrics.jsonl")])
        #expect(result.status == 0, "\(result.output)")
        try check("run", [job.path("tb/two-ranks"), job.path("metrics.jsonl"), "2"])
    }

    @Test("a run's directory is its id by default")
    func runIDNamesTheRun() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: nil, Self.shortRun + [job.path("tb"), "--max-steps", "5"])
        #expect(result.status == 0, "\(result.output)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: job.path("tb"))
        #expect(runs.count == 1 && runs[0].count == 16 && runs[0].allSatisfy(\.isHexDigit), "\(runs)")
    }

    @Test("a resumed run appends to its run from the step after its checkpoint, each step once",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func resume() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let common = Self.shortRun + [job.path("tb"), "--run-name", "resumed", "--epochs", "2"]
        // The first run logs up to step 150, past the checkpoint of epoch 1 (step 118) that is resumed.
        let first = try job.train(ranks: nil, common + ["--max-steps", "150", "--metrics", job.path("first.jsonl")])
        #expect(first.status == 0, "\(first.output)")
        let resumed = try job.train(ranks: nil, common + [
            "--resume", job.path("checkpoints/step-000000118.safetensors"), "--metrics", job.path("resumed.jsonl"),
        ])
        #expect(resumed.status == 0, "\(resumed.output)")
        try check("resume", [job.path("tb/resumed"), job.path("first.jsonl"), job.path("resumed.jsonl"), "118"])
    }

    @Test("a search's HParams records list every configuration's values, validation accuracy and loss, and train time",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"))
    func search() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try ProcessRunner.run(
            try ProcessRunner.product("mnist-ddp"),
            ["search", "--data-dir", TrainerJob.dataDirectory, "--lr", "0.001,0.003", "--batch-size", "500", "--epochs", "1",
             "--validation-split", "1000", "--output", job.path("search"), "--tensorboard", job.path("tb"), "--run-name", "grid"],
            timeout: 180)
        #expect(result.status == 0, "\(result.output)")
        try check("search", [job.path("tb/grid"), job.path("search/results.json")])
    }

    @Test("an unwritable --tensorboard directory is refused before the first step, in one line on every rank's behalf")
    func unwritableDirectory() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        // A directory cannot be made under a regular file, not even by root.
        FileManager.default.createFile(atPath: job.path("file"), contents: Data())
        let result = try job.train(ranks: 2, Self.shortRun + [job.path("file/tb"), "--max-steps", "10", "--log-every", "1"], timeout: 60)
        #expect(result.status == Training.ExitStatus.cannotWrite.rawValue, "\(result.output)")
        let errors = result.standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp: error: ") }
        #expect(errors.count == 1 && errors[0].contains("cannot write TensorBoard events \(job.path("file"))"), "\(result.output)")
        #expect(job.checkpoints(in: job.path("checkpoints")).isEmpty)
    }

    static let noMount: String? = {
        if getuid() != 0 { return "mounting a small file system needs root" }
        let probe = try? ProcessRunner.run("/usr/bin/env", ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], timeout: 30)
        return probe?.status == 0 ? nil : "cannot mount a tmpfs in a mount namespace (unshare -m)"
    }()

    @Test("a full --tensorboard file system stops the run with one line, as a full metrics file does, and leaves whole records",
          .enabled(if: unavailable == nil && noMount == nil, "skipped: \(unavailable ?? noMount ?? "")"))
    func fullFileSystem() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let binary = try ProcessRunner.product("mnist-ddp")
        // 48 KiB hold the description and some steps, not the first evaluation's images; the
        // file system lives in a mount namespace of its own, so the files are copied out at the end.
        let script = """
            mount -t tmpfs -o size=48k tmpfs "$1/full" || exit 99
            "$0" train --quiet --data-dir "$2" --checkpoint-dir "$1/checkpoints" --tensorboard "$1/full" \
                --run-name r --batch-size 500 --validation-split 1000 --log-every 1 --max-steps 200
            status=$?
            cp -r "$1/full/." "$1/copy"
            exit $status
            """
        try FileManager.default.createDirectory(atPath: job.path("full"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: job.path("copy"), withIntermediateDirectories: true)
        let result = try ProcessRunner.run(
            "/usr/bin/env", ["unshare", "-m", "sh", "-c", script, binary, job.path(""), TrainerJob.dataDirectory], timeout: 60)
        #expect(result.status == Training.ExitStatus.cannotWrite.rawValue, "\(result.output)")
        let errors = result.standardError.split(separator: "\n").filter { $0.hasPrefix("mnist-ddp: error: ") }
        #expect(errors.count == 1 && errors[0].contains("No space left on device"), "\(result.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: job.path("copy/r")).map { job.path("copy/r/" + $0) }
        try check("framing", files)
    }

    @Test("a live TensorBoard server on loopback serves the run's scalars through its HTTP API",
          .enabled(if: unavailable == nil, "skipped: \(unavailable ?? "")"), .timeLimit(.minutes(3)))
    func liveServer() throws {
        let job = try TrainerJob()
        defer { job.remove() }
        let result = try job.train(ranks: nil, Self.shortRun + [job.path("tb"), "--run-name", "live", "--max-steps", "50",
                                                                 "--metrics", job.path("metrics.jsonl")])
        #expect(result.status == 0, "\(result.output)")
        let logged = try job.metrics(job.path("metrics.jsonl")).filter { $0["type"] as? String == "step" }

        let port = try freeLoopbackPort()
        let server = try RunningProcess(
            "/usr/bin/env", ["python3", "-m", "tensorboard.main", "--logdir", job.path("tb"), "--host", "127.0.0.1",
                             "--port", String(port)])
        defer {
            server.signal(SIGKILL)
            _ = try? server.wait(timeout: 10)
        }
        let url = URL(string: "http://127.0.0.1:\(port)/data/plugin/scalars/scalars?run=live&tag=train%2Floss")!
        var points: [[Double]] = []
        // Until the server listens and has loaded all the steps, at most 60 s.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && points.count < logged.count && server.isRunning {
            if let body = try? get(url), let decoded = try? JSONSerialization.jsonObject(with: body) as? [[Double]] {
                points = decoded
            }
            if points.count < logged.count { usleep(500_000) }
        }
        #expect(points.map { Int($0[1]) } == logged.map { $0["step"] as! Int }, "steps served: \(points)")
        for (point, record) in zip(points, logged) {
            #expect(abs(point[2] - (record["loss"] as! Double)) < 1e-6)
        }
    }

    /// The body of an HTTP GET, with a 5 s limit.
    func get(_ url: URL) throws -> Data {
        var request = URLRequest(url: url)
        request.timeoutInterval = 5
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var body: Data?
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if (response as? HTTPURLResponse)?.statusCode == 200 { body = data }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        guard let body else { throw TestFailure("no answer from \(url)") }
        return body
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now: the kernel's pick for a socket bound to port 0.
    func freeLoopbackPort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("cannot bind a loopback socket") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Why a step of a test could not be taken.
private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
