import Testing
import Training

/// What the healing launcher decides, without processes: which statuses it retries, how long it
/// leaves a host out, and which hosts it starts ranks on.
@Suite("Healing policy")
struct HealingPolicyTests {
    @Test("a fault is retried until the restarts are used up, then ends with its own status")
    func faultsAreRetriedUntilExhausted() {
        var policy = RestartPolicy(maxRestarts: 2)
        #expect(policy.decide(afterStatus: ExitStatus.fault.rawValue) == .restart)
        #expect(policy.decide(afterStatus: 137) == .restart)
        #expect(policy.decide(afterStatus: 137) == .end(status: 137))
        #expect(policy.restarts == 2)
    }

    @Test("errors that would recur, a deliberate stop and success are never retried")
    func nonFaultsEndAtOnce() {
        for status in ExitStatus.allCases where status != .fault {
            var policy = RestartPolicy(maxRestarts: 3)
            #expect(policy.decide(afterStatus: status.rawValue) == .end(status: status.rawValue), "\(status)")
            #expect(policy.restarts == 0)
        }
    }

    @Test("a host's cooldown doubles with each failure in a row, up to the cap")
    func cooldownDoublesUpToCap() throws {
        let range = try #require(CooldownRange("5:30"))
        #expect((1...5).map { range.cooldown(afterFailures: $0) } == [5, 10, 20, 30, 30])
        #expect(CooldownRange("30:5") == nil && CooldownRange("0:5") == nil && CooldownRange("5") == nil)
    }

    @Test("a left-out host is due for a probe only after its cooldown, and answering takes it back")
    func leftOutHostComesBackAfterCooldown() throws {
        let hosts = HostSlots.parse(hostfile: "# nodes\nnode1 slots=2\nnode2\nnode3 slots=4 # spare\n")
        #expect(hosts == [HostSlots(name: "node1", slots: 2), HostSlots(name: "node2", slots: 1), HostSlots(name: "node3", slots: 4)])
        var pool = HostPool(hosts: hosts, cooldowns: try #require(CooldownRange("10:60")))
        pool.leaveOut("node3", now: 100)
        #expect(pool.available.map(\.name) == ["node1", "node2"] && pool.availableSlots == 3)
        #expect(pool.dueForProbe(now: 109.9).isEmpty)
        #expect(pool.dueForProbe(now: 110) == ["node3"])
        // It failed its probe again: twice as long now.
        pool.leaveOut("node3", now: 110)
        #expect(pool.dueForProbe(now: 129.9).isEmpty && pool.dueForProbe(now: 130) == ["node3"])
        pool.takeBack("node3")
        #expect(pool.availableSlots == 7 && pool.leftOutNames.isEmpty)
    }

    @Test("the hostfile read again adds new hosts at once and forgets removed ones")
    func hostfileReadAgain() throws {
        var pool = HostPool(hosts: HostSlots.parse(hostfile: "a\nb\n"), cooldowns: try #require(CooldownRange("1:2")))
        pool.leaveOut("b", now: 0)
        pool.update(hosts: HostSlots.parse(hostfile: "a\nc slots=2\n"))
        #expect(pool.available == [HostSlots(name: "a", slots: 1), HostSlots(name: "c", slots: 2)])
        #expect(pool.leftOutNames.isEmpty)
        #expect(HostSlots.parse(hostfile: HostSlots.hostfile(pool.available)) == pool.available)
    }
}
