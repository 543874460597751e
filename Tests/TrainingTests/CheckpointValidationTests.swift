import CNN
import Data
import Foundation
import SafeTensors
import TestSupport
import Testing
import Training

/// Version 2 checksums the metadata; every value of both versions is parsed strictly and checked
/// against the run it describes, so no checkpoint can make a run overflow, spin or trap.
extension CheckpointFormatTests {
    /// A checkpoint written by format version 1's writer (the fuzzer's seed).
    static let versionOne = ProcessRunner.packageRoot.appendingPathComponent("Fuzz/corpus/checkpoint-decoder/version-1.safetensors").path

    func encodedChanging(_ change: (inout TrainingSnapshot) -> Void) -> [UInt8] {
        var changed = snapshot()
        change(&changed)
        return CheckpointFormat.encode(changed, configuration: TrainingConfiguration(), classNames: Dataset.mnist.classNames)
    }

    func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try decode(bytes)
            return nil
        } catch {
            return (error as? TrainingError)?.description ?? "\(error)"
        }
    }

    @Test("version 2 is written, and its checksum covers every metadata entry", arguments: [
        ["seed": "1"], ["shuffle": "false"], ["config": "{}"], ["run_id": "fedcba9876543210"], ["dataset": "fashion"],
        ["config": nil], ["step": "43", "adam_step": "43"],
    ] as [[String: String?]])
    func tamperedMetadataIsCaught(changes: [String: String?]) throws {
        let bytes = encodedChanging { _ in }
        #expect(try SafeTensorsFile(bytes: bytes, source: "v2").metadata["format_version"] == "2")
        let refused = refusal(try rewriting(bytes) { for (key, value) in changes { $0[key] = value } })
        #expect(refused?.contains("checksum mismatch") == true, "\(refused ?? "accepted")")
    }

    @Test("values out of range are refused even under a valid checksum", arguments: [
        "adam_step too large", "training_samples too large", "batch_sizes too large", "batch_sizes zero",
        "epoch too large", "epoch beyond step", "step too large", "step_in_epoch beyond the epoch",
        "world_size zero", "world_size unlike batch_sizes", "adam_step unlike step",
    ])
    func outOfRangeValuesAreRefused(fault: String) {
        let refused = refusal(encodedChanging { snapshot in
            switch fault {
            case "adam_step too large": snapshot.adamStep = .max
            case "training_samples too large": snapshot.trainingSamples = .max
            case "batch_sizes too large": snapshot.batchSizes = [.max, 60, 60]
            case "batch_sizes zero": snapshot.batchSizes = [60, 0, 60]
            case "epoch too large": snapshot.position.epoch = .max
            case "epoch beyond step": snapshot.position.epoch = 43
            case "step too large": (snapshot.position.step, snapshot.adamStep) = (.max, .max)
            case "step_in_epoch beyond the epoch": snapshot.position.stepInEpoch = 100_000
            case "world_size zero": snapshot.worldSize = 0
            case "world_size unlike batch_sizes": snapshot.worldSize = 2
            default: snapshot.adamStep = 41
            }
        })
        let key = "\"" + fault.prefix { $0 != " " } + "\""
        #expect(refused?.contains(key) == true, "\(refused ?? "accepted")")
        #expect(refused?.contains("checksum") == false)
    }

    @Test("metadata numbers are exactly their decimal digits", arguments: ["+42", " 42", "42 ", "042", "4.2e1", "", "-0", "0x2a"])
    func numbersAreParsedStrictly(text: String) throws {
        let refused = refusal(try encoded(snapshot()) { $0["step"] = text })
        #expect(refused?.contains("metadata \"step\" is \"\(text)\", expected a non-negative integer") == true, "\(refused ?? "accepted")")
    }

    @Test("a version 1 checkpoint, as its writer wrote it, still loads")
    func versionOneLoads() throws {
        let snapshot = try CheckpointFormat.decode(CheckpointFormat.open(Self.versionOne))
        #expect(snapshot.position.step == 3 && snapshot.adamStep == 3)
    }

    @Test("a version 1 checkpoint, whose checksum covers only the tensors, has its metadata range-checked", arguments: [
        ("adam_step", "9223372036854775807"), ("training_samples", "9223372036854775807"),
        ("batch_sizes", "9223372036854775807,60,60"), ("epoch", "9223372036854775807"), ("step_in_epoch", "100000"),
    ])
    func versionOneValuesAreRangeChecked(key: String, value: String) throws {
        let bytes = try rewriting(versionOne(snapshot())) { $0[key] = value }
        let refused = refusal(bytes)
        #expect(refused?.contains("metadata \"\(key)\" is \(value.prefix { $0 != "," })") == true, "\(refused ?? "accepted")")
    }
}
