import Foundation
import Testing
import TestSupport

/// The README and the guides in docs/ against the code they describe: the commands they show are
/// accepted, their links lead somewhere, and their options tables are the current `--help`.
@Suite("The README and docs/", .serialized, .startsProcesses, .tags(.processes))
struct DocumentationTests {
    /// The documents, relative to the package root.
    static let documents: [String] = {
        let docs = (try? FileManager.default.contentsOfDirectory(
            atPath: ProcessRunner.packageRoot.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }()

    static func text(of document: String) throws -> String {
        try String(contentsOf: ProcessRunner.packageRoot.appendingPathComponent(document), encoding: .utf8)
    }

    @Test("the README stays short: at most 250 lines, the rest in the guides it links to")
    func readmeIsShort() throws {
        let lines = try Self.text(of: "README.md").split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(lines <= 250)
    }

    // MARK: Commands

    /// A command as a document shows it: the words from `mnist-ddp` (or `scripts/NAME`) on.
    struct ShownCommand: CustomStringConvertible {
        let place: String
        let words: [String]
        var description: String { "\(place): \(words.joined(separator: " "))" }
    }

    /// The shell words of `line` up to a comment or a redirection, quotes removed.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = []
        var word: String?
        var quote: Character?
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word = (word ?? "") + String(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                word = word ?? ""
            } else if character == " " {
                if let done = word { words.append(done) }
                word = nil
            } else if word == nil && "#>|;&".contains(character) {
                break
            } else {
                word = (word ?? "") + String(character)
            }
        }
        if let done = word { words.append(done) }
        return words
    }

    /// The commands in `text`: every line of a ```sh block, and every `$ ` line of a plain block.
    static func commands(in text: String, document: String) -> [ShownCommand] {
        var found: [ShownCommand] = []
        var block: String?
        var pending = ""
        for (number, line) in text.components(separatedBy: "\n").enumerated() {
            if line.hasPrefix("```") {
                block = block == nil ? String(line.dropFirst(3)) : nil
                continue
            }
            guard let language = block else { continue }
            var command: String
            if language == "sh" {
                command = line
            } else if language.isEmpty, line.hasPrefix("$ ") {
                command = String(line.dropFirst(2))
            } else if language.isEmpty, !pending.isEmpty {
                command = line
            } else {
                continue
            }
            if command.hasSuffix("\\") {
                pending += command.dropLast() + " "
                continue
            }
            command = pending + command
            pending = ""
            let words = shellWords(command)
            if let start = words.firstIndex(where: { $0 == "mnist-ddp" || $0.hasSuffix("/mnist-ddp") || $0.hasPrefix("scripts/") }) {
                found.append(ShownCommand(place: "\(document):\(number + 1)", words: Array(words[start...])))
            }
        }
        return found
    }

    static func shownCommands() throws -> [ShownCommand] {
        try documents.flatMap { commands(in: try text(of: $0), document: $0) }
    }

    /// Scripts whose arguments, past their own, go to `mnist-ddp train`.
    static let trainingScripts = ["scripts/slurm.sbatch"]

    /// Why the current command line refuses `command`, or nil when it accepts it. `mnist-ddp`
    /// parses and validates it without running (`MNIST_DDP_PARSE_ONLY=1`); `scripts/train.sh`
    /// reads its own options and hands the rest to that same check through `--local`, or, with
    /// the healing launcher's options (which need mpirun), through `mnist-ddp launch`, which
    /// checks the train options too and starts no mpirun when only parsing; another script must
    /// exist, and its source must name every option shown.
    /// The options of scripts/train.sh that hand the job to the healing launcher.
    static let healingOptions: Set = ["--max-restarts", "--min-np", "--restart-cooldown"]

    /// `arguments` with each `--hostfile` that does not exist here (the reader's own, such as
    /// `hosts`, or one a shown session writes first) replaced by the top-level `hostfile`: the
    /// launcher reads the hostfile when it checks its options.
    static func withReadersHostfiles(_ arguments: [String]) throws -> [String] {
        let standIn = ProcessRunner.packageRoot.appendingPathComponent("hostfile").path
        func exists(_ path: String) -> Bool {
            FileManager.default.fileExists(atPath: path.hasPrefix("/") ? path : ProcessRunner.packageRoot.appendingPathComponent(path).path)
        }
        var result = arguments
        for index in result.indices.dropLast() where result[index] == "--hostfile" && !exists(result[index + 1]) {
            result[index + 1] = standIn
        }
        return result
    }

    static func refusal(of command: ShownCommand) throws -> String? {
        let binary = try ProcessRunner.product("mnist-ddp")
        let parseOnly = ["MNIST_DDP_PARSE_ONLY": "1"]
        let program = command.words[0]
        let arguments = Array(command.words.dropFirst())
        let result: ProcessResult
        if !program.hasPrefix("scripts/") {
            result = try ProcessRunner.run(binary, arguments, environment: parseOnly, timeout: 30)
        } else if program == "scripts/train.sh" {
            let healing = arguments.contains { healingOptions.contains(String($0.prefix { $0 != "=" })) }
            result = try ProcessRunner.run(
                ProcessRunner.packageRoot.appendingPathComponent(program).path,
                ["--binary", binary] + (healing ? [] : ["--local"]) + (try withReadersHostfiles(arguments)),
                environment: parseOnly, timeout: 30)
        } else if trainingScripts.contains(program) {
            result = try ProcessRunner.run(binary, ["train"] + arguments, environment: parseOnly, timeout: 30)
        } else {
            let path = ProcessRunner.packageRoot.appendingPathComponent(program).path
            guard FileManager.default.isExecutableFile(atPath: path) else { return "\(program) is not an executable script" }
            let source = try String(contentsOfFile: path, encoding: .utf8)
            let unknown = arguments.filter { $0.hasPrefix("--") }.map { String($0.prefix { $0 != "=" }) }
                .filter { !source.contains($0) }
            return unknown.isEmpty ? nil : "\(program) knows no \(unknown.joined(separator: ", "))"
        }
        return result.status == 0 ? nil : "exit status \(result.status): \(result.output)"
    }

    @Test("every command the README and docs/ show is accepted by the current command line")
    func shownCommandsAreAccepted() throws {
        let commands = try Self.shownCommands()
        #expect(commands.count > 40, "too few commands found: \(commands)")
        #expect(commands.contains { $0.words.first == "scripts/train.sh" })
        #expect(commands.contains { $0.words.first?.hasSuffix("mnist-ddp") == true })
        for command in commands {
            let refusal = try Self.refusal(of: command)
            #expect(refusal == nil, "\(command)\n\(refusal ?? "")")
        }
    }

    @Test("the check refuses a made-up option, subcommand or script", arguments: [
        "mnist-ddp train --no-such-option",
        "mnist-ddp no-such-command",
        "mnist-ddp train --epochs",
        "scripts/train.sh --np 2 --no-such-option",
        "scripts/train.sh --max-restarts 2 --no-such-option",
        "scripts/slurm.sbatch --no-such-option",
        "scripts/plot-metrics.sh --no-such-option",
        "scripts/no-such-script.sh",
    ])
    func madeUpCommandsAreRefused(_ command: String) throws {
        let shown = ShownCommand(place: "this test", words: Self.shellWords(command))
        #expect(try Self.refusal(of: shown) != nil, "\(shown)")
    }

    @Test("commands are read from sh blocks and prompted lines, without comments or redirections")
    func commandsAreFoundAsShown() {
        let text = """
            ```sh
            mpirun -np 2 .build/release/mnist-ddp train --mpi "a b"   # comment
            mnist-ddp --generate-completion-script bash > out
            echo not a command
            ```

            ```
            $ mnist-ddp show \\
                --count 4
            mnist-ddp output, not a command
            ```
            """
        let found = Self.commands(in: text, document: "doc.md").map(\.words)
        #expect(found == [
            [".build/release/mnist-ddp", "train", "--mpi", "a b"],
            ["mnist-ddp", "--generate-completion-script", "bash"],
            ["mnist-ddp", "show", "--count", "4"],
        ])
    }

    // MARK: Links

    /// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
    static func anchor(of heading: String) -> String {
        String(heading.lowercased().unicodeScalars.compactMap { scalar -> Character? in
            if scalar == " " { return "-" }
            if scalar == "-" || scalar == "_" || CharacterSet.alphanumerics.contains(scalar) { return Character(scalar) }
            return nil
        })
    }

    /// The anchors of a Markdown document's headings (outside code blocks), duplicates numbered.
    static func anchors(in text: String) -> Set<String> {
        var seen: [String: Int] = [:]
        var anchors: Set<String> = []
        var inBlock = false
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inBlock.toggle() }
            guard !inBlock, line.hasPrefix("#") else { continue }
            let base = anchor(of: line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces))
            let count = seen[base, default: 0]
            anchors.insert(count == 0 ? base : "\(base)-\(count)")
            seen[base] = count + 1
        }
        return anchors
    }

    @Test("headings are anchored as GitHub anchors them")
    func anchorsFollowGitHub() {
        #expect(Self.anchor(of: "Options of `mnist-ddp train`") == "options-of-mnist-ddp-train")
        #expect(Self.anchor(of: "Headline figures: the AMD EPYC (Zen 4) VM, 2026-11-29")
                == "headline-figures-the-amd-epyc-zen-4-vm-2026-11-29")
        #expect(Self.anchors(in: "# A\n```sh\n# not a heading\n```\n## A\n") == ["a", "a-1"])
    }

    @Test("no relative link or anchor in the README and docs/ points at nothing")
    func relativeLinksResolve() throws {
        let link = try Regex(#"\]\(([^)\s]+)\)"#)
        var checked = 0
        for document in Self.documents {
            let text = try Self.text(of: document)
            let directory = document.contains("/") ? String(document[...document.lastIndex(of: "/")!]) : ""
            for match in text.matches(of: link) {
                let target = String(match.output[1].substring ?? "")
                if target.contains("://") || target.hasPrefix("mailto:") { continue }
                checked += 1
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let file = parts[0].isEmpty ? document : directory + parts[0]
                let path = ProcessRunner.packageRoot.appendingPathComponent(file).standardizedFileURL.path
                #expect(FileManager.default.fileExists(atPath: path), "\(document): \(target): no \(file)")
                if parts.count == 2, file.hasSuffix(".md"), FileManager.default.fileExists(atPath: path) {
                    let anchors = Self.anchors(in: try String(contentsOfFile: path, encoding: .utf8))
                    #expect(anchors.contains(String(parts[1])), "\(document): \(target): no such heading in \(file)")
                }
            }
        }
        #expect(checked > 30, "too few links found")
    }

    // MARK: Options tables

    @Test("every options table equals what scripts/generate_docs.py makes of the current --help")
    func optionsTablesAreCurrent() throws {
        let result = try ProcessRunner.run(
            "/usr/bin/env",
            ["python3", ProcessRunner.packageRoot.appendingPathComponent("scripts/generate_docs.py").path,
             "--check", "--binary", try ProcessRunner.product("mnist-ddp")],
            timeout: 120)
        #expect(result.status == 0, "\(result.output)")
        let tables = try Self.documents.map { try Self.text(of: $0) }.joined()
            .components(separatedBy: "<!-- generated from: ").count - 1
        #expect(tables >= 6, "the guides hold \(tables) generated parts")
    }
}
