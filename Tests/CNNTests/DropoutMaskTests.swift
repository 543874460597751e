import CNN
import CNNKernelInterface
import KernelPaths
import Testing

/// Dropout's mask is a pure function of (seed, layer, step, global sample, element), keeps about
/// 1 − p of the elements, and scales the kept ones by 1/(1 − p).
@Suite struct DropoutMaskTests {
    let sampleSize = 500

    /// The kernel's output for `count` samples of ones whose first has global index `firstSample`.
    func maskedOnes(_ kernelPath: KernelPath, probability: Double, firstSample: Int, count: Int, step: Int = 3) -> [Float] {
        let mask = DropoutMask(probability: probability, seed: 42, layer: 5, step: step, firstSample: firstSample)
        var output = [Float](repeating: .nan, count: count * sampleSize)
        kernelPath.layerKernels.dropoutForward(
            mask, input: [Float](repeating: 1, count: count * sampleSize), output: &output, sampleSize: sampleSize,
            count: count)
        return output
    }

    @Test(arguments: KernelPath.supported)
    func samplesSplitOverTwoRanksAreMaskedAsInOneCall(kernelPath: KernelPath) {
        let whole = maskedOnes(kernelPath, probability: 0.5, firstSample: 0, count: 6)
        let firstRank = maskedOnes(kernelPath, probability: 0.5, firstSample: 0, count: 4)
        let secondRank = maskedOnes(kernelPath, probability: 0.5, firstSample: 4, count: 2)
        #expect(firstRank + secondRank == whole)
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.9])
    func eightLanesDrawAsEightElements(probability: Double) {
        let mask = DropoutMask(probability: probability, seed: 42, layer: 5, step: 3, firstSample: 7)
        for sample in 0..<4 {
            let stream = mask.stream(sample: sample)
            for first in [0, 8, 13, 480] {
                let lanes = mask.keeps(stream: stream, elementsFrom: first)
                for lane in 0..<8 {
                    #expect(lanes[lane] == mask.keeps(stream: stream, element: first + lane), "sample \(sample), element \(first + lane)")
                }
            }
        }
    }

    @Test func anotherStepSeedOrLayerGivesAnotherMask() {
        let base = DropoutMask(probability: 0.5, seed: 42, layer: 5, step: 3, firstSample: 0)
        let others = [
            DropoutMask(probability: 0.5, seed: 43, layer: 5, step: 3, firstSample: 0),
            DropoutMask(probability: 0.5, seed: 42, layer: 6, step: 3, firstSample: 0),
            DropoutMask(probability: 0.5, seed: 42, layer: 5, step: 4, firstSample: 0),
            DropoutMask(probability: 0.5, seed: 42, layer: 5, step: 3, firstSample: 1),
        ]
        func kept(_ mask: DropoutMask) -> [Bool] { (0..<sampleSize).map { mask.keeps(stream: mask.stream(sample: 0), element: $0) } }
        for other in others { #expect(kept(other) != kept(base), "\(other)") }
    }

    @Test(arguments: KernelPath.supported)
    func probabilityZeroIsTheIdentity(kernelPath: KernelPath) {
        let mask = DropoutMask(probability: 0, seed: 1, layer: 0, step: 0, firstSample: 0)
        let values = randomFloats(3 * sampleSize, seed: 1)
        var output = [Float](repeating: .nan, count: values.count)
        kernelPath.layerKernels.dropoutForward(mask, input: values, output: &output, sampleSize: sampleSize, count: 3)
        #expect(output == values)
    }

    @Test(arguments: KernelPath.supported, [0.25, 0.5, 0.9])
    func aboutOneMinusPIsKeptAndScaledByItsInverse(kernelPath: KernelPath, probability: Double) {
        let output = maskedOnes(kernelPath, probability: probability, firstSample: 17, count: 40)
        let kept = output.filter { $0 != 0 }
        let fraction = Double(kept.count) / Double(output.count)
        // 20,000 draws: the standard deviation of the fraction is at most 0.0036.
        #expect(abs(fraction - (1 - probability)) < 0.015, "kept \(fraction)")
        #expect(kept.allSatisfy { $0 == Float(1 / (1 - probability)) })
    }
}
