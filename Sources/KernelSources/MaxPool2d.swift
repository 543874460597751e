import CNNKernelInterface

// MaxPool2d(2): 2×2 windows, stride 2, an odd last row or column dropped (PyTorch's floor). Cheap
// next to the convolutions around it, so plain loops.

extension BatchLayerKernels {
    /// out[n][c][y][x] = max(in[n][c][2y+dy][2x+dx]), dy, dx ∈ {0, 1}    in: [count][shape], out: [count][shape.pooled]
    public static func maxPoolForward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        let pooled = shape.pooled
        for plane in 0..<count * shape.channels {
            let source = input + plane * shape.height * shape.width
            let target = output + plane * pooled.height * pooled.width
            for y in 0..<pooled.height {
                let (top, bottom) = (source + 2 * y * shape.width, source + (2 * y + 1) * shape.width)
                for x in 0..<pooled.width {
                    target[y * pooled.width + x] = max(max(top[2 * x], top[2 * x + 1]), max(bottom[2 * x], bottom[2 * x + 1]))
                }
            }
        }
    }

    /// din[window of (y, x)] = dout[y][x] at the window's first maximum in row-major order
    /// (PyTorch's rule on ties, which ReLU makes common), 0 elsewhere, dropped rows and columns included;
    /// with `rectified` (a ReLU's output pooled), also 0 where the maximum is not positive.
    /// Each pair of rows is zeroed, then each of its windows stores once, where its maximum is (in L1).
    public static func maxPoolBackward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, count: Int, rectified: Bool
    ) {
        let pooled = shape.pooled
        let width = shape.width
        for plane in 0..<count * shape.channels {
            let source = input + plane * shape.height * width
            let target = inputGradient + plane * shape.height * width
            let largest = output + plane * pooled.height * pooled.width
            let gradient = outputGradient + plane * pooled.height * pooled.width
            for y in 0..<pooled.height {
                let (top, bottom) = (2 * y * width, (2 * y + 1) * width)
                (target + top).update(repeating: 0, count: 2 * width)
                for x in 0..<pooled.width {
                    let (value, at) = (largest[y * pooled.width + x], 2 * x)
                    // Selects, not branches: where a window's maximum lies is data, and random.
                    let lower = source[bottom + at] == value ? bottom + at : bottom + at + 1
                    let upper = source[top + at + 1] == value ? top + at + 1 : lower
                    let routed = gradient[y * pooled.width + x]
                    target[source[top + at] == value ? top + at : upper] = !rectified || value > 0 ? routed : 0
                }
            }
            if shape.height % 2 == 1 {
                (target + (shape.height - 1) * width).update(repeating: 0, count: width)
            }
        }
    }
}
