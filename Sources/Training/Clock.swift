#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on a monotonic clock, for timing phases of a step.
@inline(__always)
public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

#if canImport(Glibc)
/// Glibc imports RUSAGE_SELF as an enum case where getrusage takes an Int32.
private let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
private let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

/// The largest resident set this process has had, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF_WHO, &usage)
    #if canImport(Darwin)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #else
    return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    #endif
}

/// Where the time of a run went, in seconds, on the reporting rank.
public struct TimeBreakdown: Sendable, Equatable {
    /// Forward and backward passes.
    public var compute = 0.0
    /// The gradient and loss all-reduces, including waiting for slower ranks.
    public var allReduce = 0.0
    public var optimizer = 0.0
    /// Filling batches from the shard.
    public var data = 0.0
    public var evaluation = 0.0
    public var checkpoint = 0.0

    /// Seconds spent in training steps proper.
    public var training: Double { compute + allReduce + optimizer + data }

    public var parts: [(name: String, seconds: Double)] {
        [("compute", compute), ("all-reduce", allReduce), ("optimizer", optimizer), ("data", data),
         ("evaluation", evaluation), ("checkpoint", checkpoint)]
    }
}
