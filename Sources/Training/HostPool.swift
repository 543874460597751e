/// A host of an MPI hostfile and the ranks it takes.
public struct HostSlots: Equatable, Sendable {
    public let name: String
    public let slots: Int

    public init(name: String, slots: Int) {
        self.name = name
        self.slots = slots
    }

    /// The hosts of a hostfile in Open MPI's form (`host slots=N`, one a line, `#` comments; a
    /// host without `slots=` takes one rank).
    public static func parse(hostfile text: String) -> [HostSlots] {
        text.split(separator: "\n").compactMap { line in
            let words = line.prefix { $0 != "#" }.split(whereSeparator: \.isWhitespace)
            guard let name = words.first else { return nil }
            let slots = words.dropFirst().lazy.compactMap { $0.hasPrefix("slots=") ? Int($0.dropFirst(6)) : nil }.first
            return HostSlots(name: String(name), slots: slots ?? 1)
        }
    }

    /// `hosts` as a hostfile.
    public static func hostfile(_ hosts: [HostSlots]) -> String {
        hosts.map { "\($0.name) slots=\($0.slots)\n" }.joined()
    }
}

/// How long a host that failed is left out before it is probed again: `minimum` seconds after
/// its first failure, doubling with each further one, up to `maximum` (`--restart-cooldown MIN:MAX`).
public struct CooldownRange: Equatable, Sendable {
    public let minimum: Double
    public let maximum: Double

    /// Parses `MIN:MAX` (seconds, 0 < MIN ≤ MAX), or nil.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let minimum = Double(parts[0]), let maximum = Double(parts[1]),
              minimum > 0, minimum <= maximum, maximum.isFinite else { return nil }
        self.minimum = minimum
        self.maximum = maximum
    }

    /// The cooldown after a host's `failures`-th failure in a row (from 1).
    public func cooldown(afterFailures failures: Int) -> Double {
        min(maximum, minimum * Double(1 << min(max(failures - 1, 0), 52)))
    }
}

/// The hosts a healing launcher may start ranks on: those of the hostfile, less those left out
/// after a failure until a probe after their cooldown finds them answering again.
public struct HostPool: Sendable {
    /// The hostfile's hosts, in its order, as last read.
    public private(set) var hosts: [HostSlots]
    private let cooldowns: CooldownRange
    /// Each left-out host's failures in a row and when it may be probed again.
    private var leftOut: [String: (failures: Int, probeAfter: Double)] = [:]

    public init(hosts: [HostSlots], cooldowns: CooldownRange) {
        self.hosts = hosts
        self.cooldowns = cooldowns
    }

    /// The hostfile as read again: hosts added since are in use at once (once a probe finds
    /// them answering); removed ones are forgotten.
    public mutating func update(hosts: [HostSlots]) {
        self.hosts = hosts
        leftOut = leftOut.filter { name, _ in hosts.contains { $0.name == name } }
    }

    /// The hosts in use, in hostfile order.
    public var available: [HostSlots] { hosts.filter { leftOut[$0.name] == nil } }
    public var availableSlots: Int { available.reduce(0) { $0 + $1.slots } }
    public var leftOutNames: [String] { hosts.map(\.name).filter { leftOut[$0] != nil } }

    /// Leaves `name` out after a failure at `now`, until its cooldown has passed.
    public mutating func leaveOut(_ name: String, now: Double) {
        let failures = (leftOut[name]?.failures ?? 0) + 1
        leftOut[name] = (failures, now + cooldowns.cooldown(afterFailures: failures))
    }

    /// Takes `name` back after it answered a probe.
    public mutating func takeBack(_ name: String) {
        leftOut[name] = nil
    }

    /// The left-out hosts whose cooldown has passed at `now`.
    public func dueForProbe(now: Double) -> [String] {
        hosts.map(\.name).filter { leftOut[$0].map { $0.probeAfter <= now } ?? false }
    }
}

/// Whether a healing launcher starts a job again after it ended with a status.
public struct RestartPolicy: Sendable {
    public let maxRestarts: Int
    public private(set) var restarts = 0

    public init(maxRestarts: Int) {
        self.maxRestarts = maxRestarts
    }

    public enum Decision: Equatable, Sendable {
        /// Start the job again from its newest checkpoint.
        case restart
        /// End with this status: the job's own when it finished, stopped or failed in a way a
        /// restart would not mend, the last failure's when the restarts are used up.
        case end(status: Int32)
    }

    /// What follows a job that ended with `status`; counts the restart it decides on.
    public mutating func decide(afterStatus status: Int32) -> Decision {
        guard ExitStatus.isFault(status), restarts < maxRestarts else { return .end(status: status) }
        restarts += 1
        return .restart
    }
}
