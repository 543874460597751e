import CNN
import Data
import Distributed

/// The data-parallel identity: ranks each computing the gradient of their share of one batch,
/// scaled by the whole batch's size and summed by all-reduce, give the single-process gradient of
/// the whole batch. Checked per parameter tensor to a relative error of 1e-6.
func checkGradientIdentity(_ communicator: MPICommunicator, dataDirectory: String) throws -> [String] {
    let batchSize = 60
    let batch = try MNISTDataset.load(.train, from: dataDirectory, samples: 0..<batchSize)
    var imageBuffer = [Float](repeating: 0, count: batchSize * batch.pixelsPerImage)
    var labels = [Int32](repeating: 0, count: batchSize)
    imageBuffer.withUnsafeMutableBufferPointer { imagePointer in
        labels.withUnsafeMutableBufferPointer { labelPointer in
            batch.fillBatch(images: imagePointer.baseAddress!, labels: labelPointer.baseAddress!, positions: 0..<batchSize)
        }
    }

    let whole = SeedCNN(maxBatch: batchSize)
    whole.initialize(seed: 0)
    let wholeLoss = whole.computeGradients(
        images: imageBuffer, labels: labels, count: batchSize, gradientScale: 1 / Float(batchSize))

    let share = Sharding.range(of: batchSize, rank: communicator.rank, worldSize: communicator.size)
    let part = SeedCNN(maxBatch: batchSize)
    part.initialize(seed: 0)
    let partLoss = imageBuffer.withUnsafeBufferPointer { imagePointer in
        labels.withUnsafeBufferPointer { labelPointer in
            part.computeGradients(
                images: imagePointer.baseAddress! + share.lowerBound * batch.pixelsPerImage,
                labels: labelPointer.baseAddress! + share.lowerBound, count: share.count,
                gradientScale: 1 / Float(batchSize))
        }
    }
    part.withUnsafeMutableGradients { communicator.allReduceSum($0) }
    var loss = [partLoss]
    communicator.allReduceSum(&loss)

    var failures: [String] = []
    if abs(loss[0] - wholeLoss) > 1e-6 * abs(wholeLoss) {
        failures.append("summed loss \(loss[0]) differs from the whole batch's \(wholeLoss)")
    }
    let wholeGradients = whole.withUnsafeGradients(Array.init)
    let partGradients = part.withUnsafeGradients(Array.init)
    for tensor in ParameterLayout.tensors {
        var difference = 0.0, reference = 0.0
        for index in tensor.range {
            let expected = Double(wholeGradients[index])
            difference += (Double(partGradients[index]) - expected) * (Double(partGradients[index]) - expected)
            reference += expected * expected
        }
        let relativeError = (difference / reference).squareRoot()
        if !(relativeError <= 1e-6) {
            failures.append("\(tensor.name): all-reduced gradient differs from the single-process one by \(relativeError) (relative)")
        }
    }
    return failures
}
