/// The reports of one evaluation, on rank 0: each set scored, nil for a set that was not.
public struct Evaluations: Sendable {
    public var validation: ClassificationReport?
    public var test: ClassificationReport?

    /// The reports there are, validation first.
    var all: [ClassificationReport] { [validation, test].compactMap { $0 } }
}

/// What a finished run reports.
public struct TrainingSummary: Sendable {
    /// The test-set evaluation of the final model.
    public var testReport: ClassificationReport?
    /// The final model's score on the held-out validation samples (with `--validation-split`).
    public var validationReport: ClassificationReport?
    /// Where the model of the best validation accuracy was saved, and that accuracy (rank 0).
    public var bestModelPath: String?
    public var bestValidationAccuracy: Double?
    public var steps: Int
    /// Samples trained on by all ranks together in this run.
    public var samples: Int
    /// From the start of the process (or of `Trainer.run`) to the end of the final evaluation.
    public var wallSeconds: Double
    /// Seconds in training steps proper, on rank 0.
    public var trainingSeconds: Double
    public var times: TimeBreakdown
    /// The largest peak resident set over all ranks.
    public var peakResidentBytes: Int
    public var worldSize: Int
    /// The checkpoint written last, on rank 0.
    public var checkpointPath: String?
    /// From the start of the process to the first training step, on rank 0.
    public var startupSeconds: Double
    /// The part of `startupSeconds` spent starting MPI (0 alone).
    public var communicatorStartSeconds: Double
    /// The instruction set rank 0's kernels ran in (`KernelPath`).
    public var kernelPath: String
    /// Set when a signal stopped training before its end.
    public var stopped: StoppedRun?

    /// Samples per second through the training steps, evaluation and checkpoints excluded.
    public var samplesPerSecond: Double { trainingSeconds > 0 ? Double(samples) / trainingSeconds : 0 }
}

extension TrainingSummary {
    /// The report printed when training ends: accuracy, time, throughput, where the time went,
    /// memory, the checkpoint; with `verbose`, the per-class table and confusion matrix too.
    public func formatted(verbose: Bool) -> String {
        var lines: [String] = []
        for report in [validationReport, testReport].compactMap({ $0 }) {
            lines.append(report.summaryLine)
        }
        lines.append("\(grouped(steps)) steps in all, \(grouped(samples)) samples trained on in this run by \(worldSize) rank\(worldSize == 1 ? "" : "s"): \(fixed(wallSeconds, 2)) s wall, \(grouped(samplesPerSecond)) samples/s in training steps (\(kernelPath) kernels)")
        let shares = times.parts.map { part in
            "\(part.name) \(fixed(part.seconds, 2)) s (\(fixed(100 * part.seconds / max(wallSeconds, 1e-9), 0))%)"
        }
        lines.append("time on rank 0: " + shares.joined(separator: ", "))
        lines.append("start-up \(fixed(startupSeconds, 3)) s to the first step" + (communicatorStartSeconds > 0 ? " (MPI_Init \(fixed(communicatorStartSeconds, 3)) s)" : ""))
        lines.append("peak memory \(fixed(Double(peakResidentBytes) / 1_048_576, 1)) MiB (largest rank)")
        if let checkpointPath { lines.append("checkpoint \(checkpointPath)") }
        if let bestModelPath, let bestValidationAccuracy {
            lines.append("best model \(bestModelPath) (validation accuracy \(fixed(bestValidationAccuracy * 100, 2))%)")
        }
        if verbose, let testReport {
            lines.append("")
            lines.append(testReport.formatted)
        }
        return lines.joined(separator: "\n")
    }
}
