import Foundation
import Testing
import TestSupport

/// scripts/pytorch_model.py builds any network from mnist-ddp's canonical description; the one
/// description it holds itself, for checkpoints that record none, is the seed network's.
@Suite("scripts/pytorch_model.py", .startsProcesses, .tags(.processes))
struct PyTorchModelScriptTests {
    @Test func itsSeedDescriptionIsWhatMnistDDPPrintsForTheSeed() throws {
        let result = try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), ["model", "seed", "--canonical"], timeout: 30)
        #expect(result.status == 0, "\(result.output)")
        let script = try String(
            contentsOf: ProcessRunner.packageRoot.appendingPathComponent("scripts/pytorch_model.py"), encoding: .utf8)
        let line = try #require(script.split(separator: "\n").first { $0.hasPrefix("SEED_MODEL = ") })
        #expect("SEED_MODEL = \"\(result.standardOutput.trimmingCharacters(in: .newlines))\"" == line)
    }
}
