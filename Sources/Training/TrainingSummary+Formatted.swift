extension TrainingSummary {
    /// The report printed when training ends: accuracy, time, throughput, where the time went,
    /// memory, the checkpoint; with `verbose`, the per-class table and confusion matrix too.
    public func formatted(verbose: Bool) -> String {
        var lines: [String] = []
        if let testReport {
            lines.append(testReport.summaryLine)
        }
        lines.append("\(grouped(steps)) steps in all, \(grouped(samples)) samples trained on in this run by \(worldSize) rank\(worldSize == 1 ? "" : "s"): \(fixed(wallSeconds, 2)) s wall, \(grouped(Int(samplesPerSecond))) samples/s in training steps")
        let shares = times.parts.map { part in
            "\(part.name) \(fixed(part.seconds, 2)) s (\(fixed(100 * part.seconds / max(wallSeconds, 1e-9), 0))%)"
        }
        lines.append("time on rank 0: " + shares.joined(separator: ", "))
        lines.append("start-up \(fixed(startupSeconds, 3)) s to the first step" + (communicatorStartSeconds > 0 ? " (MPI_Init \(fixed(communicatorStartSeconds, 3)) s)" : ""))
        lines.append("peak memory \(fixed(Double(peakResidentBytes) / 1_048_576, 1)) MiB (largest rank)")
        if let checkpointPath { lines.append("checkpoint \(checkpointPath)") }
        if verbose, let testReport {
            lines.append("")
            lines.append(testReport.formatted)
        }
        return lines.joined(separator: "\n")
    }
}
