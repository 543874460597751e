import Training

extension ExitStatus {
    /// What the status means to the person who sees it, in a line of `--help` (short enough not
    /// to wrap in 80 columns).
    var help: String {
        switch self {
        case .finished: "finished"
        case .fault: "a fault, which a restart may outlive (so is any status not listed)"
        case .usage: "wrong options"
        case .badInput: "data, a checkpoint or another input is missing, bad or does not fit"
        case .diverged: "training diverged"
        case .cannotWrite: "a checkpoint, metrics or another output cannot be written"
        case .stopped: "stopped by a signal after a checkpoint; resume to continue"
        }
    }

    /// Every status and its meaning, a line each, for `--help`.
    static var helpTable: String {
        allCases.map {
            let number = String($0.rawValue)
            return "  " + number + String(repeating: " ", count: 4 - number.count) + $0.help
        }.joined(separator: "\n")
    }
}
