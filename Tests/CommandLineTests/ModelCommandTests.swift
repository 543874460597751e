import Foundation
import Testing
import TestSupport

/// `mnist-ddp model` prints a network's summary, and refuses a bad description in one line.
@Suite("mnist-ddp model", .serialized, .startsProcesses, .tags(.processes))
struct ModelCommandTests {
    func mnistDDP(_ arguments: [String]) throws -> ProcessResult {
        try ProcessRunner.run(try ProcessRunner.product("mnist-ddp"), arguments, timeout: 30)
    }

    @Test func theSeedSummaryListsEveryLayerAndTheTotal() throws {
        let result = try mnistDDP(["model"])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == "input 1×28×28, 10 classes")
        #expect(lines.contains { $0.hasPrefix("conv1 (Conv2d)") && $0.contains("8×28×28") && $0.hasSuffix(" 80") })
        #expect(lines.contains { $0.hasPrefix("pool2 (MaxPool2d)") && $0.contains("16×7×7") && $0.hasSuffix(" 0") })
        #expect(lines.contains { $0.hasPrefix("fc1 (Linear)") && $0.hasSuffix(" 7,850") })
        #expect(lines.contains("Total params: 9,098 (35.5 KiB)"), "\(result.output)")
        #expect(lines.last?.hasPrefix("Memory per rank, batch 60: ") == true)
    }

    @Test func aNetworkIsReadFromAFileAndPlannedOnTheShapesGiven() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("net.txt")
        try "# three colour channels\nconv(4,3,pad=1) relu maxpool(2)\nflatten\nhead=linear\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let result = try mnistDDP(["model", "@" + file, "--input", "3x32x32", "--classes", "5"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.standardOutput.contains("head (Linear)"), "\(result.output)")
        // 4·3·9 + 4 for the convolution, 5·1024 + 5 for the head.
        #expect(result.standardOutput.contains("Total params: 5,237 "), "\(result.output)")
    }

    @Test(arguments: [
        (["model", "conv(8,3) relu pool flatten linear"], "layer 3 'pool': unknown layer 'pool'"),
        (["model", "conv(8,7) maxpool conv(8,7) maxpool conv(8,7) flatten linear"],
         "layer 5 (conv3): a 7×7 kernel with padding 0 is larger than its 2×2 input"),
        (["model", "lenet5", "--classes", "0"], "the data has 0 classes"),
        (["model", "@/nonexistent/net.txt"], "/nonexistent/net.txt: no such file"),
        (["model", "@/dev/null"], "/dev/null: not a regular file (a character device)"),
        (["model", "keras-transfer", "--batch", "100000000"], "of activations, more than the 8 GiB allowed"),
    ])
    func aBadDescriptionIsOneLineAndAUsageStatus(arguments: [String], message: String) throws {
        let result = try mnistDDP(arguments)
        #expect(result.status == 64, "\(result.output)")
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.first?.hasPrefix("Error: ") == true || lines.first?.hasPrefix("mnist-ddp: error: ") == true, "\(result.output)")
        #expect(lines.first?.contains(message) == true, "\(result.output)")
    }
}
