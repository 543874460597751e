#if canImport(Darwin)
import Darwin
#else
import Glibc
#endif
import CNNKernelInterface

// Mean softmax cross-entropy's terms and gradient, per sample from log-probabilities, with the
// same operations in the same order as the seed network's lane-block version.

extension BatchLayerKernels {
    /// loss[n] = −(logits[n][label] − max − log Σ_j exp(logits[n][j] − max));
    /// dlogits[n][j] = scale · (softmax[n][j] − [j = label])          logits: [count][classes]
    public static func softmaxCrossEntropy(
        classes: Int, logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
        logitGradient: UnsafeMutablePointer<Float>?, gradientScale: Float, predictions: UnsafeMutablePointer<Int32>?
    ) -> Double {
        var lossSum = 0.0
        for sample in 0..<count {
            let row = logits + sample * classes
            var largest = row[0]
            var predicted = 0
            for j in 1..<classes where largest < row[j] {
                (largest, predicted) = (row[j], j)
            }
            predictions?[sample] = Int32(predicted)
            var sumOfExponentials: Float = 0
            for j in 0..<classes { sumOfExponentials += expf(row[j] - largest) }
            let logSumExponentials = logf(sumOfExponentials)
            let label = Int(labels[sample])
            lossSum += Double(-((row[label] - largest) - logSumExponentials))
            if let gradient = logitGradient.map({ $0 + sample * classes }) {
                for j in 0..<classes {
                    let logProbability = (row[j] - largest) - logSumExponentials
                    gradient[j] = (expf(logProbability) - (j == label ? 1 : 0)) * gradientScale
                }
            }
        }
        return lossSum
    }
}
