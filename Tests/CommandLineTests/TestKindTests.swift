import Foundation
import Testing
import TestSupport

/// `scripts/test.sh --fast` leaves out what starts processes through the `.startsProcesses` trait,
/// since Swift Testing's command line cannot skip by tag: the trait and the tag must go together.
@Suite("Tests by kind")
struct TestKindTests {
    /// The lines of the test sources but this checker's own (TestSupport declares the two).
    static func traitLines() throws -> [(place: String, line: String)] {
        let tests = ProcessRunner.packageRoot.appendingPathComponent("Tests")
        let files = try FileManager.default.subpathsOfDirectory(atPath: tests.path)
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("TestSupport/") && !$0.hasSuffix("/TestKindTests.swift") }
        return try files.flatMap { file -> [(place: String, line: String)] in
            try String(contentsOf: tests.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                .map { (place: "Tests/\(file):\($0.offset + 1)", line: String($0.element)) }
        }
    }

    @Test("every suite or test tagged processes is left out by --fast, and nothing else is")
    func processesTagGoesWithTheFastSkip() throws {
        let lines = try Self.traitLines()
        let tagged = lines.filter { $0.line.contains(".tags(.processes") }
        #expect(tagged.count > 15, "too few tagged suites found")
        for (place, line) in lines where line.contains(".tags(.processes") != line.contains(".startsProcesses") {
            Issue.record("\(place): .tags(.processes …) and .startsProcesses go together: \(line)")
        }
    }
}
