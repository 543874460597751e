import ArgumentParser
import Training
// FoundationEssentials has the JSON encoder without Foundation's ICU data, which would cost
// every training rank megabytes of resident memory.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `mnist-ddp bench`: measurements of this machine, for tuning and for the scaling projection.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the kernels of a training step, or the MPI all-reduce between ranks.",
        discussion: """
            mnist-ddp bench                              the kernels of one training step (the default)
            mpirun -np 2 mnist-ddp bench allreduce       all-reduce and message times, and their cost model
            """,
        subcommands: [BenchKernels.self, BenchAllReduce.self],
        defaultSubcommand: BenchKernels.self
    )
}

/// Where a benchmark writes its results as JSON, besides or instead of the table.
struct JSONOutput: ParsableArguments {
    @Option(name: .customLong("json"), help: ArgumentHelp(
        "Also write the results as JSON to this file; `-` prints the JSON instead of the table.",
        valueName: "path"))
    var path: String?

    /// Whether the table goes to standard output (it does unless the JSON does).
    var printsTable: Bool { path != "-" }

    /// Encodes `results` with snake_case keys and writes them where `--json` said, if anywhere.
    func write(_ results: some Encodable) throws {
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(results)
        data.append(UInt8(ascii: "\n"))
        if path == "-" {
            print(String(decoding: data, as: UTF8.self), terminator: "")
            return
        }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure(message: "cannot write \(path): \(error)", status: .cannotWrite)
        }
    }
}

/// A plain-text table with a header row and right-aligned columns except the first, as
/// Markdown, so it reads in a terminal and pastes into documentation.
struct TextTable {
    let header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func append(_ row: String...) {
        precondition(row.count == header.count, "a table row needs one cell per column")
        rows.append(row)
    }

    var formatted: String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max()!
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - cells[column].count)
                return column == 0 ? cells[column] + padding : padding + cells[column]
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        // Markdown's alignment row: the first column left, the others right (a trailing colon).
        let rule = "|" + widths.indices.map { column in
            let dashes = String(repeating: "-", count: widths[column] + (column == 0 ? 2 : 1))
            return column == 0 ? dashes : dashes + ":"
        }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}
