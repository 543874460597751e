import Foundation
import Training

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// SIGINT, SIGTERM and SIGUSR1 (a batch script's preemption warning) to the launcher, counted
/// rather than fatal: the first stops its job after a
/// step, a second one at least a second later ends the job at once. Unlike a C handler that
/// falls back to the default action, the launcher thus never dies leaving its mpirun running.
final class StopSignals: @unchecked Sendable {
    static let caught: [(number: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"), (SIGUSR1, "SIGUSR1")]
    private let lock = NSLock()
    private var received: [(number: Int32, name: String, at: Double)] = []
    private var sources: [DispatchSourceSignal] = []

    init() {
        for (number, name) in Self.caught {
            // Ignored, so that only the dispatch source sees it; children get the default back.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in
                lock.withLock { received.append((number, name, monotonicSeconds())) }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received, if any.
    var first: (number: Int32, name: String)? {
        lock.withLock { received.first.map { ($0.number, $0.name) } }
    }

    /// A signal received a second or more after the first (the same Ctrl-C reaching the launcher
    /// twice is not a second request).
    var urgent: (number: Int32, name: String)? {
        lock.withLock {
            guard let first = received.first else { return nil }
            return received.dropFirst().first { $0.at - first.at >= 1 }.map { ($0.number, $0.name) }
        }
    }
}
