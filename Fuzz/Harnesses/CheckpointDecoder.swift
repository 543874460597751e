// libFuzzer harness: the checkpoint decoder, and what a run does with what it accepts (its
// network rebuilt from the metadata, its epoch plan, the position mapped to another plan, an
// Adam step, the reports' formatting, the class names it records).
//
// An input that starts with "metadata\n" is lines of `key=value` made into a checkpoint of zero
// tensors (the seed network's) with a correct checksum, so that the fuzzer reaches the checks
// behind the checksum, the network's `model` and `input_shape` among them; any other input is a
// whole file.
import CNN
import SafeTensors
@testable import Training

private let metadataMode = Array("metadata\n".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.starts(with: metadataMode) { bytes = checkpoint(metadataLines: bytes.dropFirst(metadataMode.count)) }
    guard let file = try? CheckpointFormat.open(bytes: bytes, source: "fuzz"),
          let snapshot = try? CheckpointFormat.decode(file)
    else { return 0 }

    _ = try? CheckpointFormat.classNames(of: file)
    let plan = snapshot.epochPlan
    let position = snapshot.position
    _ = plan.positions(step: position.stepInEpoch, rank: snapshot.worldSize - 1)
    _ = plan.globalSampleCount(step: position.stepInEpoch)
    for ranks in [1, 3] where ranks <= snapshot.trainingSamples {
        for batch in [BatchSize.perRank(1), .global(snapshot.trainingSamples)] {
            let other = EpochPlan(sampleCount: snapshot.trainingSamples, worldSize: ranks, batchSize: batch)
            let mapped = position.mapped(from: plan, to: other)
            precondition(mapped.stepInEpoch < other.stepsPerEpoch, "mapped past the end of the epoch")
        }
    }
    _ = snapshot.model.summary(batch: 1)
    var adam = Adam(parameterCount: snapshot.model.parameterCount)
    adam.step = snapshot.adamStep
    var parameters = snapshot.parameters
    parameters.withUnsafeMutableBufferPointer { parameters in
        adam.update(parameters: parameters, gradients: UnsafeBufferPointer(parameters), learningRate: 1e-3)
    }
    for value in snapshot.parameters.prefix(16) {
        _ = fixed(Double(value), 4)
        _ = grouped(Double(value) * 1e30)
    }
    return 0
}

/// A checkpoint of zero tensors whose metadata is `lines` of `key=value`, checksummed as its
/// `format_version` says.
private func checkpoint(metadataLines lines: ArraySlice<UInt8>) -> [UInt8] {
    var metadata: [String: String] = [:]
    for line in lines.split(separator: UInt8(ascii: "\n")) {
        let parts = line.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        metadata[String(decoding: parts[0], as: UTF8.self)] = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
    }
    let zeros = [Float](repeating: 0, count: ParameterLayout.count)
    let snapshot = TrainingSnapshot(
        model: ParameterLayout.seedPlan, parameters: zeros, adamStep: 0, firstMoment: zeros, secondMoment: zeros, position: .start,
        worldSize: 1, batchSizes: [1], trainingSamples: 1, seed: 0, shuffle: false, runID: RunID(value: 0))
    metadata[CheckpointFormat.checksumKey] = CheckpointFormat.checksum(
        of: snapshot, metadata: metadata["format_version"] == "1" ? nil : metadata)
    var tensors: [NamedTensor] = []
    for prefix in ["", CheckpointFormat.firstMomentPrefix, CheckpointFormat.secondMomentPrefix] {
        for tensor in ParameterLayout.tensors {
            tensors.append(NamedTensor(name: prefix + tensor.name, shape: tensor.shape, floats: Array(zeros[tensor.range])))
        }
    }
    return SafeTensorsFile.serialize(tensors, metadata: metadata)
}
