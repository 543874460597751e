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
    /// (PyTorch's rule on ties, which ReLU makes common), 0 elsewhere, dropped rows and columns included.
    public static func maxPoolBackward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, count: Int
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
                for x in 0..<pooled.width {
                    let (value, at) = (largest[y * pooled.width + x], 2 * x)
                    let routed = gradient[y * pooled.width + x]
                    let atTopLeft = source[top + at] == value
                    let atTopRight = !atTopLeft && source[top + at + 1] == value
                    let atBottomLeft = !(atTopLeft || atTopRight) && source[bottom + at] == value
                    let atBottomRight = !(atTopLeft || atTopRight || atBottomLeft)
                    target[top + at] = atTopLeft ? routed : 0
                    target[top + at + 1] = atTopRight ? routed : 0
                    target[bottom + at] = atBottomLeft ? routed : 0
                    target[bottom + at + 1] = atBottomRight ? routed : 0
                }
                if width % 2 == 1 {
                    (target[top + width - 1], target[bottom + width - 1]) = (0, 0)
                }
            }
            if shape.height % 2 == 1 {
                (target + (shape.height - 1) * width).update(repeating: 0, count: width)
            }
        }
    }
}
