#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What rank 0 tells the user while training: a live progress bar on a terminal, plain lines
/// every `logEvery` steps otherwise (under mpirun, in a log file, in CI), a summary per epoch.
final class ProgressReporter {
    private let quiet: Bool
    private let logEvery: Int
    private let interactive: Bool
    private var lastDraw = 0.0

    init(quiet: Bool, logEvery: Int, interactive: Bool) {
        self.quiet = quiet
        self.logEvery = logEvery
        self.interactive = interactive
    }

    /// Whether step `step` (counted from 1) gets a record in the metrics file and, off a
    /// terminal, a line.
    func isLogStep(_ step: Int) -> Bool { step % logEvery == 0 }

    /// Called after every step; draws at most ten times a second on a terminal.
    func stepTaken(
        epoch: Int, epochs: Int, stepInEpoch: Int, stepsPerEpoch: Int, step: Int,
        loss: Double, samplesPerSecond: Double, secondsLeftInEpoch: Double
    ) {
        guard !quiet else { return }
        if interactive {
            let now = monotonicSeconds()
            guard now - lastDraw > 0.1 || stepInEpoch == stepsPerEpoch else { return }
            lastDraw = now
            let width = 30
            let filled = width * stepInEpoch / max(stepsPerEpoch, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = "epoch \(epoch + 1)/\(epochs) \(bar) \(stepInEpoch)/\(stepsPerEpoch)  "
                + "\(grouped(samplesPerSecond)) samples/s  loss \(fixed(loss, 4))  ETA \(clockTime(secondsLeftInEpoch))"
            print("\r\u{1B}[2K" + line, terminator: "")
            fflush(nil)
        } else if isLogStep(step) {
            print("epoch \(epoch + 1)/\(epochs)  step \(stepInEpoch)/\(stepsPerEpoch) (\(step) in all)  loss \(fixed(loss, 4))  \(grouped(samplesPerSecond)) samples/s")
        }
    }

    /// One line per epoch, replacing the progress bar.
    func epochFinished(_ line: String) {
        guard !quiet else { return }
        clearProgressBar()
        print(line)
    }

    /// Erases a progress bar left by an epoch that training ended in the middle of, so that what
    /// is printed next starts on a clean line.
    func clearProgressBar() {
        guard interactive && !quiet else { return }
        print("\r\u{1B}[2K", terminator: "")
    }

    /// Lines that --quiet silences.
    func note(_ text: String) {
        guard !quiet else { return }
        print(text)
    }
}

/// `seconds` as m:ss or h:mm:ss.
func clockTime(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0, seconds < 0x1p53 else { return "--:--" }
    let total = Int(seconds.rounded())
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
    let tail = (secs < 10 ? "0" : "") + String(secs)
    if hours > 0 { return "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes):" + tail }
    return "\(minutes):" + tail
}
