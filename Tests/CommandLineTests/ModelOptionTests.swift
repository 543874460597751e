import Foundation
import Testing
import TestSupport

/// `--model` on `train` and `search`: documented in their help, and a bad description refused
/// before anything runs.
@Suite("--model on train and search", .serialized, .startsProcesses, .tags(.processes))
struct ModelOptionTests {
    func mnistDDP(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: 30)
    }

    @Test("the help of train and search lists the presets and points at mnist-ddp model --help", arguments: ["train", "search"])
    func helpListsThePresets(command: String) throws {
        let result = try mnistDDP([command, "--help"])
        #expect(result.status == 0, "\(result.output)")
        let help = result.standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("--model <network"), "\(result.output)")
        #expect(help.contains("seed, lenet5, keras-transfer") && help.contains("mnist-ddp model --help"), "\(result.output)")
    }

    @Test("search refuses a bad network among several in one line naming it, with the usage status, before training any")
    func searchRefusesABadNetwork() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let output = directory.file("search")
        let result = try mnistDDP(["search", "--model", "seed;conv(8,9) flatten linear", "--output", output])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.standardError.contains("--model: layer 1 'conv(8,9)': the kernel size must be a whole number from 1 to 7, not '9'"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}
