import CNNKernelInterface

// MaxPool2d(2): 2×2 windows, stride 2, an odd last row or column dropped (PyTorch's floor).
//
// A pair of input rows is pooled a run of windows at a time, as many as a vector V holds (the
// widest of `Lanes`, SIMD8 and SIMD4 that the row's windows fill), read as two vectors of each
// row's columns and taken apart into even and odd columns, one lane per window. The backward pass
// compares the four columns with the windows' maxima in row-major order, splits each window's
// gradient between them and interleaves them back, so it writes each input gradient once, in
// place. A row's last run overlaps the one before and computes its windows again, to the same
// values: no row needs a vector tail, and only rows of fewer than four windows go a window at a time.

extension BatchLayerKernels {
    /// out[n][c][y][x] = max(in[n][c][2y+dy][2x+dx]), dy, dx ∈ {0, 1}    in: [count][shape], out: [count][shape.pooled]
    public static func maxPoolForward(
        _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int
    ) {
        let pooled = shape.pooled
        for plane in 0..<count * shape.channels {
            let source = input + plane * shape.height * shape.width
            let target = output + plane * pooled.height * pooled.width
            switch pooled.width {
            case laneCount...: poolPlane(Lanes.self, shape, input: source, output: target)
            case 8...: poolPlane(SIMD8<Float>.self, shape, input: source, output: target)
            case 4...: poolPlane(SIMD4<Float>.self, shape, input: source, output: target)
            default:
                for y in 0..<pooled.height {
                    let (top, bottom) = (source + 2 * y * shape.width, source + (2 * y + 1) * shape.width)
                    for x in 0..<pooled.width {
                        target[y * pooled.width + x] = max(max(top[2 * x], top[2 * x + 1]), max(bottom[2 * x], bottom[2 * x + 1]))
                    }
                }
            }
        }
    }

    /// din[window of (y, x)] = dout[y][x] at the window's first maximum in row-major order
    /// (PyTorch's rule on ties, which ReLU makes common), 0 elsewhere, dropped rows and columns included;
    /// with `rectified` (a ReLU's output pooled), also 0 where the maximum is not positive.
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
            switch pooled.width {
            case laneCount...:
                routePlane(
                    Lanes.self, shape, input: source, values: largest, gradient: gradient, inputGradient: target,
                    rectified: rectified)
            case 8...:
                routePlane(
                    SIMD8<Float>.self, shape, input: source, values: largest, gradient: gradient, inputGradient: target,
                    rectified: rectified)
            case 4...:
                routePlane(
                    SIMD4<Float>.self, shape, input: source, values: largest, gradient: gradient, inputGradient: target,
                    rectified: rectified)
            default:
                target.update(repeating: 0, count: 2 * pooled.height * width)
                for y in 0..<pooled.height {
                    let (top, bottom) = (2 * y * width, (2 * y + 1) * width)
                    for x in 0..<pooled.width {
                        let (value, at) = (largest[y * pooled.width + x], 2 * x)
                        // Selects, not branches: where a window's maximum lies is data, and random.
                        let lower = source[bottom + at] == value ? bottom + at : bottom + at + 1
                        let upper = source[top + at + 1] == value ? top + at + 1 : lower
                        let routed = !rectified || value > 0 ? gradient[y * pooled.width + x] : 0
                        target[source[top + at] == value ? top + at : upper] = routed
                    }
                }
            }
            if shape.height % 2 == 1 {
                (target + (shape.height - 1) * width).update(repeating: 0, count: width)
            }
        }
    }
}

/// One plane of `shape` pooled, a row pair at a time, each a run of V.scalarCount ≤ its windows at a time.
@inline(__always)
private func poolPlane<V: PoolingVector>(
    _: V.Type, _ shape: PlanesShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
) {
    let (windows, width) = (shape.pooled.width, shape.width)
    for y in 0..<shape.pooled.height {
        let (top, bottom, row) = (input + 2 * y * width, input + (2 * y + 1) * width, output + y * windows)
        for start in stride(from: 0, to: windows, by: V.scalarCount) {
            let window = min(start, windows - V.scalarCount)
            let (topLeft, topRight) = columns(V.self, top + 2 * window)
            let (bottomLeft, bottomRight) = columns(V.self, bottom + 2 * window)
            storeVector(larger(larger(topLeft, topRight), larger(bottomLeft, bottomRight)), row + window)
        }
    }
}

/// The input gradient of one plane of `shape` but for a dropped last row, from its windows' maxima
/// `values` and `gradient`, a row pair at a time, each a run of V.scalarCount ≤ its windows at a
/// time: each window's gradient goes to the first of its columns equal to its maximum (top left,
/// top right, bottom left), else to the bottom right one.
@inline(__always)
private func routePlane<V: PoolingVector>(
    _: V.Type, _ shape: PlanesShape, input: UnsafePointer<Float>, values: UnsafePointer<Float>,
    gradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>, rectified: Bool
) {
    let (windows, width) = (shape.pooled.width, shape.width)
    for y in 0..<shape.pooled.height {
        let (top, bottom) = (2 * y * width, (2 * y + 1) * width)
        for start in stride(from: 0, to: windows, by: V.scalarCount) {
            let window = min(start, windows - V.scalarCount)
            let largest = loadVector(V.self, values + y * windows + window)
            var routed = loadVector(V.self, gradient + y * windows + window)
            if rectified { routed = V.zero.replacing(with: routed, where: largest .> V.zero) }
            let (topLeft, topRight) = columns(V.self, input + top + 2 * window)
            let bottomLeft = columns(V.self, input + bottom + 2 * window).even
            // What each column takes, and what is left for the columns after it.
            let (takenTopLeft, afterTopLeft) = split(routed, where: topLeft .== largest)
            let (takenTopRight, afterTopRight) = split(afterTopLeft, where: topRight .== largest)
            let (takenBottomLeft, takenBottomRight) = split(afterTopRight, where: bottomLeft .== largest)
            let (topLow, topHigh) = interleaved(takenTopLeft, takenTopRight)
            let (bottomLow, bottomHigh) = interleaved(takenBottomLeft, takenBottomRight)
            storeVector(topLow, inputGradient + top + 2 * window)
            storeVector(topHigh, inputGradient + top + 2 * window + V.scalarCount)
            storeVector(bottomLow, inputGradient + bottom + 2 * window)
            storeVector(bottomHigh, inputGradient + bottom + 2 * window + V.scalarCount)
        }
        if width % 2 == 1 {
            (inputGradient[top + width - 1], inputGradient[bottom + width - 1]) = (0, 0)
        }
    }
}

/// (`values` where `mask`, else 0; 0 where `mask`, else `values`), as bitwise ands of the float
/// bits: exact, and opaque to LLVM, which otherwise moves selects through the shuffles around them.
@inline(__always)
private func split<V: PoolingVector>(_ values: V, where mask: SIMDMask<V.MaskStorage>) -> (taken: V, left: V) {
    let bits = unsafeBitCast(values, to: V.MaskStorage.self)
    let ones = V.MaskStorage.zero.replacing(with: -1, where: mask)
    return (unsafeBitCast(bits & ones, to: V.self), unsafeBitCast(bits & ~ones, to: V.self))
}

/// A vector a row is pooled in. Its comparisons are requirements so that generic code calls the
/// concrete types' own (one instruction each); the SIMD protocol's generic ones compare lane by lane.
private protocol PoolingVector: SIMD where Scalar == Float, MaskStorage.MaskStorage == MaskStorage {
    static func .== (a: Self, b: Self) -> SIMDMask<MaskStorage>
    static func .> (a: Self, b: Self) -> SIMDMask<MaskStorage>
    static func .>= (a: Self, b: Self) -> SIMDMask<MaskStorage>
}

extension SIMD16<Float>: PoolingVector {}
extension SIMD8<Float>: PoolingVector {}
extension SIMD4<Float>: PoolingVector {}

/// max(x, y) lanewise as `Swift.max` picks, y on ties: the scalar loops' results to the bit.
@inline(__always)
private func larger<V: PoolingVector>(_ x: V, _ y: V) -> V {
    x.replacing(with: y, where: y .>= x)
}

/// The even and the odd columns of the 2·V.scalarCount floats at `row`.
@inline(__always)
private func columns<V: PoolingVector>(_: V.Type, _ row: UnsafePointer<Float>) -> (even: V, odd: V) {
    let half = V.scalarCount / 2
    let (low, high) = (loadVector(V.self, row), loadVector(V.self, row + V.scalarCount))
    var (even, odd) = (V(), V())
    for lane in 0..<half {
        (even[lane], odd[lane]) = (low[2 * lane], low[2 * lane + 1])
        (even[half + lane], odd[half + lane]) = (high[2 * lane], high[2 * lane + 1])
    }
    return (even, odd)
}

/// `even` and `odd` as alternate lanes, (even[0], odd[0], even[1], …), in two vectors: the inverse of `columns`.
@inline(__always)
private func interleaved<V: PoolingVector>(_ even: V, _ odd: V) -> (low: V, high: V) {
    let half = V.scalarCount / 2
    var (low, high) = (V(), V())
    for lane in 0..<half {
        (low[2 * lane], low[2 * lane + 1]) = (even[lane], odd[lane])
        (high[2 * lane], high[2 * lane + 1]) = (even[half + lane], odd[half + lane])
    }
    return (low, high)
}

@inline(__always)
private func loadVector<V: PoolingVector>(_: V.Type, _ source: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(source).loadUnaligned(as: V.self)
}

@inline(__always)
private func storeVector<V: PoolingVector>(_ value: V, _ target: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(target).storeBytes(of: value, as: V.self)
}
