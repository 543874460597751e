import ArgumentParser
import Foundation
import Training

/// `mnist-ddp launch`: runs `mnist-ddp train` under mpirun and starts it again from its newest
/// checkpoint after a fault, on the hosts that still answer (`scripts/train.sh --max-restarts`).
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run training under mpirun, and start it again from its newest checkpoint after a fault.",
        usage: "mnist-ddp launch [<options>] -- <mpirun> [<mpirun-options>] -- [<train-options>]",
        discussion: """
            A fault is a job that ended with a status a restart may outlive (listed below): a rank \
            killed, a node lost, the stall watchdog's abort, mpirun ending abnormally. After one, \
            the job starts again with --auto-resume, up to --max-restarts times; the launch then \
            exits with the last failure's status. Any other status (an error that would recur, a \
            deliberate stop) ends the launch at once with that status.

            Before each start every host of --hostfile (read again each time) is probed through \
            mpirun with its options, and hosts that do not answer within --probe-timeout are left \
            out while at least --min-np slots remain. A left-out host is probed again after a \
            cooldown that doubles with each failure (--restart-cooldown); when it answers, or a \
            host is added to the hostfile, the job is stopped after a step (SIGUSR1) and started \
            again on more ranks. SIGINT, SIGTERM or SIGUSR1 stops the job the same way, and the launch \
            exits with status \(ExitStatus.stopped.rawValue).

            Exit statuses, the job's own:
            \(ExitStatus.helpTable)
            """)

    /// `--checkpoint-interval` under a launcher that restarts, unless the run sets its own.
    static let defaultCheckpointInterval = 60
    /// The environment variable that names the launcher's step report to rank 0.
    static let stepReportVariable = "MNIST_DDP_STEP_REPORT"

    @Option(help: "Times to start the job again after a fault; 0 runs it once.")
    var maxRestarts = 0

    @Option(help: ArgumentHelp("The hosts and slots to run on, read again before each probe; without it, mpirun places the ranks (this machine, or a Slurm allocation).", valueName: "file"))
    var hostfile: String?

    @Option(name: .customLong("np"), help: "Ranks to start (at most the slots of the hosts that answer); without it, every slot.")
    var ranks: Int?

    @Option(name: .customLong("min-np"), help: "The fewest ranks worth going on with after hosts are left out.")
    var minimumRanks = 1

    @Option(help: ArgumentHelp("Seconds a failed host is left out before it is probed again, doubling with each failure up to MAX.", valueName: "min:max"))
    var restartCooldown = "30:600"

    @Option(help: ArgumentHelp("Seconds a host's probe may take.", valueName: "seconds"))
    var probeTimeout = 5.0

    @Option(help: ArgumentHelp("Seconds mpirun may outlive a failed job (it can wait many minutes for an unreachable node) before it is ended.", valueName: "seconds"))
    var mpirunGrace = 10.0

    @Argument(parsing: .postTerminator, help: "mpirun and its options, then `--` and the options of `mnist-ddp train`.")
    var command: [String] = []

    /// The mpirun command and its options (no program).
    var mpirun: [String] { Array(command.prefix { $0 != "--" }) }
    /// The options of `mnist-ddp train`.
    var trainArguments: [String] { Array(command.drop { $0 != "--" }.dropFirst()) }

    func validate() throws {
        guard !mpirun.isEmpty else { throw ValidationError("name mpirun after `--`: mnist-ddp launch [<options>] -- mpirun [<options>] -- [<train-options>]") }
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be at least 0, got \(maxRestarts)") }
        guard minimumRanks >= 1 else { throw ValidationError("--min-np must be at least 1, got \(minimumRanks)") }
        if let ranks, ranks < minimumRanks { throw ValidationError("--np \(ranks) is below --min-np \(minimumRanks)") }
        guard CooldownRange(restartCooldown) != nil else {
            throw ValidationError("--restart-cooldown \(restartCooldown): want MIN:MAX seconds, 0 < MIN <= MAX")
        }
        guard probeTimeout > 0, mpirunGrace > 0 else { throw ValidationError("--probe-timeout and --mpirun-grace must be positive") }
        if let hostfile, HostSlots.parse(hostfile: (try? String(contentsOfFile: hostfile, encoding: .utf8)) ?? "").isEmpty {
            throw ValidationError("--hostfile \(hostfile): cannot be read, or names no host")
        }
        do {
            _ = try Train.parse(MNISTDDP.normalized(trainArguments))
        } catch {
            throw ValidationError("train options: \(Train.message(for: error))")
        }
    }

    func run() throws {
        // Recorded, not fatal: the job is then stopped the way SIGUSR1 stops it.
        let signals = StopSignals()
        let train = try Train.parse(MNISTDDP.normalized(trainArguments))
        var supervisor = try Supervisor(launch: self, train: train, signals: signals)
        let status = supervisor.run()
        throw ExitCode(status)
    }
}

/// The launcher's state across the jobs it starts.
private struct Supervisor {
    let launch: Launch
    let checkpointDirectory: String
    let stepReport: String
    /// The options of the first start; restarts continue the run instead (`--auto-resume`).
    let firstArguments: [String]
    let restartArguments: [String]
    var pool: HostPool?
    var policy: RestartPolicy
    /// Seconds from each failure to training again, and the steps retrained.
    var recoverySeconds: [Double] = []
    var stepsLost = 0
    let programPath: String
    let signals: StopSignals

    init(launch: Launch, train: Train, signals: StopSignals) throws {
        self.launch = launch
        self.signals = signals
        checkpointDirectory = train.checkpointDir
        try FileManager.default.createDirectory(atPath: checkpointDirectory, withIntermediateDirectories: true)
        stepReport = checkpointDirectory + "/" + StepReport.fileName
        let interval = train.checkpointInterval == nil ? ["--checkpoint-interval", String(Launch.defaultCheckpointInterval)] : []
        firstArguments = launch.trainArguments + interval
        restartArguments = Self.withoutStartOptions(MNISTDDP.normalized(launch.trainArguments)) + interval + ["--auto-resume"]
        policy = RestartPolicy(maxRestarts: launch.maxRestarts)
        if let hostfile = launch.hostfile {
            pool = HostPool(hosts: Self.readHosts(hostfile), cooldowns: CooldownRange(launch.restartCooldown)!)
        }
        programPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `arguments` without how the first start began (`--resume`, `--overwrite`,
    /// `--auto-resume`): a restart continues the run in the checkpoint directory.
    static func withoutStartOptions(_ arguments: [String]) -> [String] {
        var kept: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            if argument == "--resume" { index += 2; continue }
            if argument.hasPrefix("--resume=") || argument == "--overwrite" || argument == "--auto-resume" { index += 1; continue }
            kept.append(argument)
            index += 1
        }
        return kept
    }

    static func readHosts(_ hostfile: String) -> [HostSlots] {
        HostSlots.parse(hostfile: (try? String(contentsOfFile: hostfile, encoding: .utf8)) ?? "")
    }

    func say(_ line: String) {
        FileHandle.standardError.write(Data("mnist-ddp launch: \(line)\n".utf8))
    }

    /// Whether `host` runs a trivial program through mpirun within the probe timeout.
    func probe(_ host: String) -> Bool {
        guard let child = try? Child(launch.mpirun + ["--host", host, "-np", "1", "hostname"], quiet: true) else { return false }
        let status = child.wait(timeout: launch.probeTimeout)
        return status == 0
    }

    /// Probes the hosts in use and the left-out ones whose cooldown has passed; returns the
    /// hosts left out and taken back.
    mutating func probeHosts(includingInUse: Bool) -> (leftOut: [String], takenBack: [String]) {
        guard var pool, let hostfile = launch.hostfile else { return ([], []) }
        pool.update(hosts: Self.readHosts(hostfile))
        var leftOut: [String] = []
        var takenBack: [String] = []
        let now = monotonicSeconds()
        let due = pool.dueForProbe(now: now)
        for host in includingInUse ? pool.available.map(\.name) : [] where !probe(host) {
            pool.leaveOut(host, now: now)
            leftOut.append(host)
        }
        for host in due {
            if probe(host) {
                pool.takeBack(host)
                takenBack.append(host)
            } else {
                pool.leaveOut(host, now: monotonicSeconds())
            }
        }
        self.pool = pool
        return (leftOut, takenBack)
    }

    /// The ranks of the next start, and the hostfile that places them. Without a hostfile, the
    /// ranks are `--np`, or nil for mpirun's own choice (every slot of a Slurm allocation).
    func placement(directory: String) throws -> (ranks: Int?, hostfile: String?, hosts: [String]) {
        guard let pool else { return (launch.ranks, nil, []) }
        let ranks = min(launch.ranks ?? pool.availableSlots, pool.availableSlots)
        let path = directory + "/hostfile"
        try HostSlots.hostfile(pool.available).write(toFile: path, atomically: true, encoding: .utf8)
        return (ranks, path, pool.available.map(\.name))
    }

    mutating func run() -> Int32 {
        let scratch = NSTemporaryDirectory() + "mnist-ddp-launch-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            try? FileManager.default.removeItem(atPath: stepReport)
        }
        var arguments = firstArguments
        var pendingLine: String?
        var failedAt: Double?
        var lastFailure: Int32 = ExitStatus.fault.rawValue
        while true {
            let (leftOut, takenBack) = probeHosts(includingInUse: true)
            let placement: (ranks: Int?, hostfile: String?, hosts: [String])
            do { placement = try self.placement(directory: scratch) } catch {
                say("cannot write the hostfile of the next start: \(error)")
                return ExitStatus.cannotWrite.rawValue
            }
            if let ranks = placement.ranks, ranks < launch.minimumRanks {
                say("only \(ranks) slots answer (left out: \(pool?.leftOutNames.joined(separator: ", ") ?? "")), fewer than --min-np \(launch.minimumRanks); giving up")
                return lastFailure
            }
            let reached = StepReport.steps(recordedAt: stepReport)
            if let line = pendingLine {
                let resume = (try? CheckpointDirectory(creatingIfNeeded: checkpointDirectory).newest())?.step ?? 0
                let lost = reached.map { max($0 - resume, 0) }
                stepsLost += lost ?? 0
                var parts = [line]
                if !leftOut.isEmpty { parts.append("left out \(leftOut.joined(separator: ", "))") }
                if !takenBack.isEmpty { parts.append("taken back \(takenBack.joined(separator: ", "))") }
                if let ranks = placement.ranks {
                    parts.append("\(ranks) rank\(ranks == 1 ? "" : "s")\(placement.hosts.isEmpty ? "" : " on " + placement.hosts.joined(separator: ", "))")
                }
                parts.append("resuming at step \(resume), \(lost.map(String.init) ?? "an unknown number of") steps lost")
                say(parts.joined(separator: "; "))
                pendingLine = nil
            } else if !leftOut.isEmpty {
                say("left out \(leftOut.joined(separator: ", ")) (no answer within \(fixed(launch.probeTimeout, 0)) s); starting on \(placement.hosts.joined(separator: ", "))")
            }
            try? FileManager.default.removeItem(atPath: stepReport)

            var words = launch.mpirun + (placement.ranks.map { ["-np", String($0)] } ?? [])
            if let hostfile = placement.hostfile { words += ["--hostfile", hostfile] }
            words += ["-x", "\(Launch.stepReportVariable)=\(stepReport)", programPath, "train"] + arguments
            let job: Child
            do { job = try Child(words, quiet: false) } catch {
                say("cannot start \(launch.mpirun[0]): \(error)")
                return ExitStatus.fault.rawValue
            }
            let outcome = supervise(job, hosts: placement.hosts, failedAt: failedAt)
            failedAt = nil
            if let recovery = outcome.recoverySeconds { recoverySeconds.append(recovery) }
            if outcome.stoppedBySignal {
                summarize()
                return outcome.status == 0 || outcome.status > 128 ? outcome.status : ExitStatus.stopped.rawValue
            }
            if !outcome.takenBack.isEmpty && outcome.status == ExitStatus.stopped.rawValue {
                pendingLine = "scaling up to take back \(outcome.takenBack.joined(separator: ", ")), stopped after a step"
                arguments = restartArguments
                continue
            }
            switch policy.decide(afterStatus: outcome.status) {
            case .end(let status):
                if ExitStatus.isFault(status) && launch.maxRestarts > 0 {
                    say("giving up after \(policy.restarts) restart\(policy.restarts == 1 ? "" : "s"): \(outcome.cause)")
                }
                summarize()
                return status
            case .restart:
                lastFailure = outcome.status
                failedAt = outcome.failedAt
                pendingLine = "restart \(policy.restarts) of \(launch.maxRestarts) after \(outcome.cause)"
                arguments = restartArguments
            }
        }
    }

    /// How long a job may take to stop after SIGUSR1 (a step and a checkpoint take well under a
    /// second) before it is ended.
    static let stopDeadline = 60.0

    struct Outcome {
        var status: Int32
        var cause: String
        var failedAt: Double
        var stoppedBySignal = false
        var recoverySeconds: Double?
        /// The hosts that answered again while the job ran, for which it was stopped.
        var takenBack: [String] = []
    }

    /// Waits for `job` to end: forwards a stop signal, ends a mpirun that outlives its failed
    /// ranks, and stops the job for a scale-up when a left-out or new host answers.
    mutating func supervise(_ job: Child, hosts: [String], failedAt: Double?) -> Outcome {
        var stoppedBySignal = false
        var answering: [String] = []
        var recoverySeconds: Double?
        var lastScaleCheck = monotonicSeconds()
        var endedByLauncher = false
        var stopSent: Double?
        while true {
            if let status = job.poll() {
                job.finishOutput()
                let failure = job.log.failureSeen ?? monotonicSeconds()
                var cause = job.log.cause ?? Child.describe(status: status)
                if job.log.cause != nil { cause += endedByLauncher ? " (mpirun ended by the launcher)" : " (mpirun status \(status))" }
                return Outcome(status: endedByLauncher ? ExitStatus.fault.rawValue : status, cause: cause, failedAt: failure,
                               stoppedBySignal: stoppedBySignal, recoverySeconds: recoverySeconds, takenBack: answering)
            }
            if let failedAt, recoverySeconds == nil, StepReport.steps(recordedAt: stepReport) != nil {
                recoverySeconds = monotonicSeconds() - failedAt
            }
            if let urgent = signals.urgent {
                say("got \(urgent.name) again; ending the job at once")
                job.kill()
                _ = job.poll()
                return Outcome(status: 128 + urgent.number, cause: "\(urgent.name)", failedAt: monotonicSeconds(), stoppedBySignal: true)
            }
            if !stoppedBySignal && signals.first != nil {
                say("got a stop signal; stopping the job after a step (SIGUSR1)")
                job.signal(SIGUSR1)
                stoppedBySignal = true
                stopSent = monotonicSeconds()
            }
            if let stopSent, !endedByLauncher, monotonicSeconds() - stopSent > Self.stopDeadline {
                say("the job did not stop within \(Int(Self.stopDeadline)) s of SIGUSR1; ending it")
                job.kill()
                endedByLauncher = true
            }
            if let seen = job.log.failureSeen, !endedByLauncher, monotonicSeconds() - seen > launch.mpirunGrace {
                say("mpirun outlived its failed job by \(fixed(launch.mpirunGrace, 0)) s; ending it")
                job.kill()
                endedByLauncher = true
            }
            if !stoppedBySignal && answering.isEmpty && pool != nil && monotonicSeconds() - lastScaleCheck >= 1,
               StepReport.steps(recordedAt: stepReport) != nil {
                lastScaleCheck = monotonicSeconds()
                let (_, takenBack) = probeHosts(includingInUse: false)
                // Hosts added to the hostfile since the job started: probed like the others, and
                // left out until their cooldown if they do not answer.
                var added: [String] = []
                for host in pool!.available.map(\.name) where !hosts.contains(host) && !takenBack.contains(host) {
                    if probe(host) { added.append(host) } else { pool!.leaveOut(host, now: monotonicSeconds()) }
                }
                answering = takenBack + added
                if !answering.isEmpty {
                    say("\(answering.joined(separator: ", ")) answer\(answering.count == 1 ? "s" : ""); stopping the job after a step to start it on more ranks")
                    job.signal(SIGUSR1)
                    stopSent = monotonicSeconds()
                }
            }
            usleep(100_000)
        }
    }

    func summarize() {
        let restarts = policy.restarts
        guard restarts > 0 || !recoverySeconds.isEmpty else { return }
        let seconds = recoverySeconds.reduce(0, +)
        say("\(restarts) restart\(restarts == 1 ? "" : "s"); \(String(format: "%.1f", seconds)) s from the failures to training again, \(stepsLost) steps lost")
    }
}
