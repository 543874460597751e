import ArgumentParser
import CNN
import Distributed
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

/// `mnist-ddp bench allreduce`: how long the MPI all-reduce and a single message take between
/// ranks, per message size, and the latency and per-byte cost fitted to them.
struct BenchAllReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time the MPI all-reduce and one-way messages at several sizes; fit t(n) = α + β·n.",
        discussion: """
            Run under mpirun with two or more ranks. Sizes go from 4 B up by factors of 4, plus the \
            size of our gradient (\(ParameterLayout.count) floats, \(BenchAllReduce.gradientBytes) B). \
            Each size is timed over several repeats of many back-to-back operations; a repeat \
            counts as long as its slowest rank, and the median repeat is reported. One-way \
            messages are timed as a ping-pong of broadcasts from rank 0 and rank 1 in turn, which \
            with two ranks is exactly one message each way. The fits weigh relative error, so that \
            small sizes (latency) and large ones (bandwidth) count alike; the one-way fit is the \
            α and β of the textbook ring and tree all-reduce models.
            """
    )

    static let gradientBytes = ParameterLayout.count * MemoryLayout<Float>.size

    @Option(help: ArgumentHelp("The largest message, in bytes.", valueName: "bytes"))
    var maxBytes = 4 << 20

    @Option(help: "Repeats per size; the median is reported.")
    var repeats = 11

    @Option(help: ArgumentHelp(
        "Bytes to move per repeat and size (bounds the operations per repeat to 10…1000).", valueName: "bytes"))
    var bytesPerRepeat = 16 << 20

    @OptionGroup var json: JSONOutput

    func validate() throws {
        guard (4...(1 << 30)).contains(maxBytes) else {
            throw ValidationError("--max-bytes must be from 4 (one float) to 1 GiB, not \(maxBytes)")
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, not \(repeats)") }
        guard bytesPerRepeat >= 1 else { throw ValidationError("--bytes-per-repeat must be positive, not \(bytesPerRepeat)") }
    }

    /// Powers of 4 from 4 B to `maxBytes`, and the gradient's size where it falls in that range.
    var sizes: [Int] {
        var sizes = Array(sequence(first: 4) { $0 * 4 }.prefix { $0 <= maxBytes })
        if Self.gradientBytes <= maxBytes { sizes.append(Self.gradientBytes) }
        return sizes.sorted()
    }

    func run() throws {
        let needsRanks = """
            bench allreduce times messages between MPI ranks: run it under mpirun with 2 or more ranks, \
            as in `mpirun -np 2 mnist-ddp bench allreduce`
            """
        guard LaunchMode.detect(environment: environmentVariables()) == .mpi else { throw Failure(message: needsRanks, status: .usage) }
        let communicator: MPICommunicator
        do {
            communicator = try MPICommunicator.start()
        } catch {
            throw Failure(message: "cannot start MPI: \(error)", status: .fault)
        }
        defer { communicator.finalize() }
        guard communicator.size >= 2 else { throw Failure(message: needsRanks, status: .usage) }

        let timer = CollectiveTimer(communicator: communicator, repeats: repeats)
        let measurements = sizes.map { bytes in
            let operations = min(1000, max(10, bytesPerRepeat / bytes))
            return SizeMeasurement(
                bytes: bytes, operations: operations,
                allReduceSeconds: timer.medianAllReduceSeconds(bytes: bytes, operations: operations),
                oneWaySeconds: timer.medianOneWaySeconds(bytes: bytes, operations: operations))
        }
        let hosts = (0..<2).map { root in
            String(decoding: communicator.broadcast(bytes: Array(hostName().utf8), root: root), as: UTF8.self)
        }
        guard communicator.isRoot else { return }

        let results = AllReduceBenchmarkResults(
            ranks: communicator.size, rank0Host: hosts[0], rank1Host: hosts[1], sizes: measurements)
        if json.printsTable { print(results.formatted) }
        try json.write(results)
    }
}

/// Times collectives of every rank together.
struct CollectiveTimer {
    let communicator: any Communicator
    let repeats: Int

    /// The median over repeats of the time of one in-place all-reduce of `bytes / 4` floats.
    func medianAllReduceSeconds(bytes: Int, operations: Int) -> Double {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: bytes / MemoryLayout<Float>.size)
        defer { buffer.deallocate() }
        // Zeros stay zero however often they are summed, so every repeat adds the same numbers.
        buffer.initialize(repeating: 0)
        return medianSeconds(operations: operations) { communicator.allReduceSum(buffer) }
    }

    /// The median over repeats of the time of one message of `bytes` from one rank to another:
    /// half a round of a broadcast from rank 0 and one from rank 1.
    func medianOneWaySeconds(bytes: Int, operations: Int) -> Double {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let roundSeconds = medianSeconds(operations: operations) {
            communicator.broadcast(buffer, root: 0)
            communicator.broadcast(buffer, root: 1)
        }
        return roundSeconds / 2
    }

    /// Runs `operation` `operations` times per repeat, after one repeat to warm up, and returns
    /// the median over repeats of the time per operation on the slowest rank.
    private func medianSeconds(operations: Int, _ operation: () -> Void) -> Double {
        var perOperation: [Double] = []
        for repeatIndex in -1..<repeats {
            communicator.barrier()
            let start = monotonicSeconds()
            for _ in 0..<operations { operation() }
            let seconds = (monotonicSeconds() - start) / Double(operations)
            if repeatIndex >= 0 { perOperation.append(seconds) }
        }
        communicator.allReduceMax(&perOperation)
        perOperation.sort()
        let middle = perOperation.count / 2
        return perOperation.count % 2 == 1 ? perOperation[middle] : (perOperation[middle - 1] + perOperation[middle]) / 2
    }
}

/// The times of one message size.
struct SizeMeasurement: Encodable {
    let bytes: Int
    /// Back-to-back operations per timed repeat.
    let operations: Int
    let allReduceSeconds: Double
    let oneWaySeconds: Double
}

/// t(n) = α + β·n: a fixed cost per operation and a cost per byte.
struct LinearCostModel: Encodable {
    let alphaSeconds: Double
    let betaSecondsPerByte: Double

    func seconds(bytes: Int) -> Double { alphaSeconds + betaSecondsPerByte * Double(bytes) }

    /// The model minimising the sum of squared relative errors, with α and β held non-negative.
    /// Relative errors keep the microsecond times of small messages from being drowned by the
    /// millisecond times of large ones.
    init(fitting points: [(bytes: Int, seconds: Double)]) {
        precondition(!points.isEmpty, "a cost model needs at least one measurement")
        // Weighted least squares with weights 1/t²: the normal equations of α and β.
        var (sw, swn, swnn, swt, swnt) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for (bytes, seconds) in points {
            let weight = 1 / (seconds * seconds)
            let size = Double(bytes)
            sw += weight
            swn += weight * size
            swnn += weight * size * size
            swt += weight * seconds
            swnt += weight * size * seconds
        }
        let determinant = sw * swnn - swn * swn
        var alpha = determinant > 0 ? (swt * swnn - swn * swnt) / determinant : swt / sw
        var beta = determinant > 0 ? (sw * swnt - swn * swt) / determinant : 0
        if alpha < 0 {
            alpha = 0
            beta = swnt / swnn
        } else if beta < 0 {
            beta = 0
            alpha = swt / sw
        }
        alphaSeconds = alpha
        betaSecondsPerByte = beta
    }

    var formatted: String {
        let bandwidth = betaSecondsPerByte > 0 ? ", \(fixed(1e-9 / betaSecondsPerByte, 2)) GB/s" : ""
        return "α = \(fixed(alphaSeconds * 1e6, 2)) µs, β = \(fixed(betaSecondsPerByte * 1e9, 4)) ns/B\(bandwidth)"
    }
}

/// An all-reduce benchmark as printed and as written to JSON.
struct AllReduceBenchmarkResults: Encodable {
    let ranks: Int
    let rank0Host: String
    let rank1Host: String
    let gradientBytes = BenchAllReduce.gradientBytes
    let statistic = "median over repeats of the slowest rank's time per operation"
    let sizes: [SizeMeasurement]
    /// Fitted to the one-way message times: the α and β of the ring and tree all-reduce models.
    let messageModel: LinearCostModel
    /// Fitted to the all-reduce times themselves, at this number of ranks.
    let allReduceModel: LinearCostModel

    init(ranks: Int, rank0Host: String, rank1Host: String, sizes: [SizeMeasurement]) {
        self.ranks = ranks
        self.rank0Host = rank0Host
        self.rank1Host = rank1Host
        self.sizes = sizes
        messageModel = LinearCostModel(fitting: sizes.map { ($0.bytes, $0.oneWaySeconds) })
        allReduceModel = LinearCostModel(fitting: sizes.map { ($0.bytes, $0.allReduceSeconds) })
    }

    var formatted: String {
        var table = TextTable("bytes", "operations", "all-reduce µs", "all-reduce GB/s", "one-way µs", "one-way GB/s")
        for size in sizes {
            table.append(
                size.bytes == gradientBytes ? "\(size.bytes) (gradient)" : "\(size.bytes)", "\(size.operations)",
                fixed(size.allReduceSeconds * 1e6, 2), fixed(Double(size.bytes) / size.allReduceSeconds / 1e9, 3),
                fixed(size.oneWaySeconds * 1e6, 2), fixed(Double(size.bytes) / size.oneWaySeconds / 1e9, 3))
        }
        let placement = rank0Host == rank1Host ? "both on \(rank0Host)" : "on \(rank0Host) and \(rank1Host)"
        var lines = [
            "MPI all-reduce (sum of floats, in place) and one-way messages, \(ranks) ranks; ranks 0 and 1 \(placement)",
            "Median over repeats of the slowest rank's time per operation",
            "",
            table.formatted,
            "",
            "One-way message fit, t(n) = α + β·n: \(messageModel.formatted)",
            "All-reduce fit at \(ranks) ranks:      \(allReduceModel.formatted)",
        ]
        if ranks > 2 {
            lines.append("""
                (With more than 2 ranks a broadcast passes through several ranks: the one-way fit is the \
                α and β of point-to-point messages only at 2 ranks.)
                """)
        }
        return lines.joined(separator: "\n")
    }
}
