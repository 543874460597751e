import CMPI

/// An MPI communicator: the world, or a group split from it. MPI may be initialised once per
/// process and never again after it was finalised, so there is one world instance, reached
/// through `MPICommunicator.start()`; groups split from it last until MPI is finalised.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    private let world: MPI_Comm

    nonisolated(unsafe) private static var current: MPICommunicator?
    nonisolated(unsafe) private static var finalized = false

    private init(_ handle: MPI_Comm = cmpi_comm_world()) {
        world = handle
        var rank: Int32 = 0
        var size: Int32 = 0
        MPI_Comm_rank(world, &rank)
        MPI_Comm_size(world, &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Initialises MPI on first use and returns the world communicator; later calls return the
    /// same one. Throws once MPI has been finalised, since MPI_Init would then abort the process.
    public static func start() throws(CommunicatorError) -> MPICommunicator {
        if let current { return current }
        if finalized { throw .finalized }
        let code = MPI_Init(nil, nil)
        guard code == MPI_SUCCESS else { throw .mpi(call: "MPI_Init", code: code) }
        let communicator = MPICommunicator()
        current = communicator
        return communicator
    }

    /// The MPI library this process runs with, as it names itself, up to its first comma
    /// ("Open MPI v4.1.4"). MPI allows asking before MPI_Init, so asking starts nothing.
    public static var libraryVersion: String {
        var text = [CChar](repeating: 0, count: Int(cmpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&text, &length) == MPI_SUCCESS else { return "unknown" }
        let full = String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(full.prefix { $0 != "," && $0 != "\n" })
    }

    /// Finalises MPI (collective: every rank calls it). Idempotent.
    public func finalize() {
        guard MPICommunicator.current === self else { return }
        MPI_Finalize()
        MPICommunicator.current = nil
        MPICommunicator.finalized = true
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress else { return }
        MPI_Allreduce(cmpi_in_place(), base, Int32(buffer.count), cmpi_float(), cmpi_sum(), world)
    }

    public func allReduceSum(_ values: inout [Double]) {
        allReduce(&values, cmpi_sum())
    }

    public func allReduceMax(_ values: inout [Double]) {
        allReduce(&values, cmpi_max())
    }

    private func allReduce(_ values: inout [Double], _ operation: MPI_Op) {
        let count = Int32(values.count)
        _ = values.withUnsafeMutableBufferPointer { buffer in
            MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, count, cmpi_double(), operation, world)
        }
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) {
        // MPI counts are Int32: send large buffers in pieces.
        let chunk = Int(Int32.max)
        var offset = 0
        while offset < bytes.count {
            let length = min(chunk, bytes.count - offset)
            MPI_Bcast(bytes.baseAddress! + offset, Int32(length), cmpi_byte(), Int32(root), world)
            offset += length
        }
    }

    public func split(color: Int, key: Int) -> any Communicator {
        var group: MPI_Comm?
        MPI_Comm_split(world, Int32(color), Int32(key), &group)
        return MPICommunicator(group!)
    }

    public func barrier() {
        MPI_Barrier(world)
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        fatalError("MPI_Abort returned")
    }
}

/// Why MPI could not be started.
public enum CommunicatorError: Error, Equatable, CustomStringConvertible {
    /// MPI was already finalised in this process; MPI_Init would abort it.
    case finalized
    /// An MPI call failed with the given error code.
    case mpi(call: String, code: Int32)

    public var description: String {
        switch self {
        case .finalized: "MPI was already finalized in this process and cannot be started again"
        case .mpi(let call, let code): "\(call) failed with MPI error code \(code)"
        }
    }
}
