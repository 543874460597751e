#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A group of one: every collective is the identity. It never touches MPI, so a plain process
/// starts instantly, with no MPI runtime or helper daemon behind it.
public final class LocalCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ values: inout [Double]) {}
    public func allReduceMax(_ values: inout [Double]) {}
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) {
        precondition(root == 0, "root \(root) outside a group of one")
    }
    public func split(color: Int, key: Int) -> any Communicator { LocalCommunicator() }
    public func barrier() {}
    public func abort(code: Int32) -> Never { exit(code) }
}
