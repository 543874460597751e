import CNNKernelInterface

// Dropout with PyTorch's inverted scaling. The mask is not stored: it is a pure function of
// (seed, layer, step, global sample, element) (`DropoutMask`), recomputed by the backward pass.

extension BatchLayerKernels {
    /// out[n][e] = in[n][e] · 1/(1−p) if kept, else 0       in, out: [count][sampleSize]
    public static func dropoutForward(
        _ mask: DropoutMask, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, sampleSize: Int,
        count: Int
    ) {
        applyMask(mask, to: input, into: output, sampleSize: sampleSize, count: count)
    }

    /// din[n][e] = dout[n][e] · 1/(1−p) if kept, else 0     [count][sampleSize]
    public static func dropoutBackward(
        _ mask: DropoutMask, outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
        sampleSize: Int, count: Int
    ) {
        applyMask(mask, to: outputGradient, into: inputGradient, sampleSize: sampleSize, count: count)
    }

    /// target = source scaled where `mask` keeps, 0 elsewhere: the forward and the backward pass alike.
    /// Eight elements at a time, without a branch on the random mask.
    private static func applyMask(
        _ mask: DropoutMask, to source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
        sampleSize: Int, count: Int
    ) {
        let scale = mask.keptScale
        for sample in 0..<count {
            let stream = mask.stream(sample: sample)
            let (values, results) = (source + sample * sampleSize, target + sample * sampleSize)
            var element = 0
            while element + 8 <= sampleSize {
                let kept = mask.keeps(stream: stream, elementsFrom: element)
                let scaled = UnsafeRawPointer(values + element).loadUnaligned(as: SIMD8<Float>.self) * scale
                UnsafeMutableRawPointer(results + element).storeBytes(
                    of: SIMD8<Float>.zero.replacing(with: scaled, where: kept), as: SIMD8<Float>.self)
                element += 8
            }
            for element in element..<sampleSize {
                results[element] = mask.keeps(stream: stream, element: element) ? values[element] * scale : 0
            }
        }
    }
}
