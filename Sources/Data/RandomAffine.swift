import SeededRandom

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training-time augmentation: each image turned by a random angle up to ±`maxRotationDegrees`
/// about its centre and moved by up to ±`maxShift` pixels along each axis, sampled bilinearly
/// with zero (background) beyond the edges, then scaled to byte/255. Never mirrored: a mirrored
/// 6 would read as a 9's cousin, not a 6.
///
/// The draw for a sample depends only on (seed, epoch, the sample's index in the training file),
/// so a run is reproducible on any world size and a resumed run draws what the uninterrupted one
/// would have. Writing an image allocates nothing.
public struct RandomAffine: SampleTransform, Sendable {
    public let maxRotationDegrees: Float
    public let maxShift: Float
    /// The seed of this epoch's draws, from which each sample's generator is derived by index.
    private let epochKey: UInt64

    public init(maxRotationDegrees: Float, maxShift: Float, seed: UInt64, epoch: Int) {
        self.maxRotationDegrees = maxRotationDegrees
        self.maxShift = maxShift
        // A stream of its own, apart from the data order's (seed, epoch, rank) streams.
        var generator = SeededGenerator(seed: seed, stream: [UInt64(epoch), 0x6175_676D_656E_74])
        epochKey = generator.next()
    }

    /// The rotation (radians) and shift (pixels along columns and rows) drawn for the sample at
    /// `sampleIndex`.
    public func draw(sampleIndex: Int) -> (angle: Float, dx: Float, dy: Float) {
        // SplitMix64 seeding spreads consecutive seeds over unrelated states.
        var generator = SeededGenerator(seed: epochKey &+ UInt64(sampleIndex))
        let degrees = maxRotationDegrees > 0 ? generator.nextFloat(symmetricBound: maxRotationDegrees) : 0
        let dx = maxShift > 0 ? generator.nextFloat(symmetricBound: maxShift) : 0
        let dy = maxShift > 0 ? generator.nextFloat(symmetricBound: maxShift) : 0
        return (degrees * .pi / 180, dx, dy)
    }

    public func write(
        pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, sampleIndex: Int, into image: UnsafeMutablePointer<Float>
    ) {
        image.update(repeating: 0, count: rows * columns)
        // Only points within a pixel of the ink can take any: the rest of the image (most of an
        // MNIST digit's frame) stays background without sampling.
        guard let ink = inkBounds(pixels, rows: rows, columns: columns) else { return }
        let (angle, dx, dy) = draw(sampleIndex: sampleIndex)
        let map = InverseMap(
            cosine: cosf(angle), sine: sinf(angle), dx: dx, dy: dy, rows: rows, columns: columns,
            lowX: Float(ink.columns.lowerBound) - 1, highX: Float(ink.columns.upperBound),
            lowY: Float(ink.rows.lowerBound) - 1, highY: Float(ink.rows.upperBound))
        // The image with a frame of zero bytes, so that the four bytes around any point near the
        // ink are read without bounds checks; under 1 KiB for 28×28, so it lives on the stack.
        let stride = columns + 2
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: (rows + 2) * stride) { framed in
            framed.initialize(repeating: 0)
            for row in ink.rows {
                (framed.baseAddress! + (row + 1) * stride + ink.columns.lowerBound + 1)
                    .update(from: pixels + row * columns + ink.columns.lowerBound, count: ink.columns.count)
            }
            for y in 0 ..< rows {
                map.sampleRow(y, from: UnsafePointer(framed.baseAddress!), stride: stride, into: image + y * columns)
            }
        }
    }

    /// The rows and columns holding any ink; nil for a blank image.
    private func inkBounds(
        _ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int
    ) -> (rows: Range<Int>, columns: Range<Int>)? {
        var (top, bottom, left, right) = (rows, -1, columns, -1)
        for row in 0 ..< rows {
            let line = pixels + row * columns
            guard let first = firstInk(line, columns: columns) else { continue }
            top = min(top, row)
            bottom = row
            left = min(left, first)
            // Only columns right of the rightmost ink so far can move the bound.
            var last = columns - 1
            while last > max(right, first) && line[last] == 0 { last -= 1 }
            right = max(right, last)
        }
        return bottom < 0 ? nil : (top ..< bottom + 1, left ..< right + 1)
    }

    /// The first non-zero byte of a row, eight at a time: most rows of a digit are blank.
    @inline(__always)
    private func firstInk(_ line: UnsafePointer<UInt8>, columns: Int) -> Int? {
        var column = 0
        while column + 8 <= columns {
            let word = UInt64(littleEndian: UnsafeRawPointer(line + column).loadUnaligned(as: UInt64.self))
            if word != 0 { return column + word.trailingZeroBitCount / 8 }
            column += 8
        }
        while column < columns {
            if line[column] != 0 { return column }
            column += 1
        }
        return nil
    }
}

/// The map from an output pixel back to the input point the turn and shift carry onto it, and
/// the bilinear sampling there, a row of lanes at a time. The inverse map writes every output
/// pixel once; along a row the source point moves by a constant step, so the trigonometry is
/// done once per image and only the columns whose points can reach the ink are sampled.
///
/// Each pixel is computed with the same floating-point operations in the same order as the
/// per-pixel definition (source = row start + cos·x; blend across, then down; divide by 255), so
/// the result does not depend on the lane width or on which columns are skipped.
private struct InverseMap {
    typealias Lanes = SIMD4<Float>
    typealias Indices = SIMD4<UInt32>

    let cosine, sine: Float
    let centreX, centreY: Float
    let dx, dy: Float
    let rows, columns: Int
    /// Points strictly inside these bounds (the ink's rows and columns widened by one) can take ink.
    let lowX, highX, lowY, highY: Float
    private let inverseCosine, inverseSine: Float

    init(
        cosine: Float, sine: Float, dx: Float, dy: Float, rows: Int, columns: Int,
        lowX: Float, highX: Float, lowY: Float, highY: Float
    ) {
        (self.cosine, self.sine, self.dx, self.dy) = (cosine, sine, dx, dy)
        (inverseCosine, inverseSine) = (1 / cosine, 1 / sine)
        (self.rows, self.columns) = (rows, columns)
        (centreX, centreY) = (Float(columns - 1) / 2, Float(rows - 1) / 2)
        (self.lowX, self.highX, self.lowY, self.highY) = (lowX, highX, lowY, highY)
    }

    /// Writes the samples of output row `y` that can take ink into `output` (already zero),
    /// reading the input through `framed`, the image inside a one-byte frame of zeros.
    @inline(__always)
    func sampleRow(_ y: Int, from framed: UnsafePointer<UInt8>, stride: Int, into output: UnsafeMutablePointer<Float>) {
        let v = Float(y) - centreY - dy
        let rowX = centreX - sine * v - cosine * (centreX + dx)
        let rowY = centreY + cosine * v - sine * (centreX + dx)
        // Rounding aside, a point is inside the bounds on an interval of the row: a column or so
        // wider, the points that may be; a hair narrower, those that surely are, which need
        // neither a bounds test nor care for where they read.
        let margin: Float = 1 / 64
        guard let reach = columns(rowX: rowX, rowY: rowY, inset: -margin, widening: 1) else { return }
        let sure = columns(rowX: rowX, rowY: rowY, inset: margin, widening: 0) ?? 0 ..< 0
        var column = Lanes(repeating: Float(reach.lowerBound))
        for lane in 0 ..< Lanes.scalarCount { column[lane] += Float(lane) }
        var x = reach.lowerBound
        while x < reach.upperBound {
            defer {
                x += Lanes.scalarCount
                column += Float(Lanes.scalarCount)
            }
            let sourceX = Lanes(repeating: rowX) + cosine * column
            let sourceY = Lanes(repeating: rowY) + sine * column
            if x >= sure.lowerBound && x + Lanes.scalarCount <= sure.upperBound {
                let value = bilinear(x: sourceX, y: sourceY, framed: framed, stride: stride, anywhere: false)
                UnsafeMutableRawPointer(output + x).storeBytes(of: value, as: Lanes.self)
                continue
            }
            let inside = (sourceX .> lowX) .& (sourceX .< highX) .& (sourceY .> lowY) .& (sourceY .< highY)
            guard any(inside) else { continue }
            let value = bilinear(x: sourceX, y: sourceY, framed: framed, stride: stride, anywhere: true)
                .replacing(with: 0, where: .!inside)
            if x + Lanes.scalarCount <= columns {
                UnsafeMutableRawPointer(output + x).storeBytes(of: value, as: Lanes.self)
            } else {
                for lane in 0 ..< columns - x { output[x + lane] = value[lane] }
            }
        }
    }

    /// The columns of the row starting at (rowX, rowY) whose source points lie more than `inset`
    /// pixels inside the bounds, the interval widened by `widening` columns either side; nil if none.
    @inline(__always)
    private func columns(rowX: Float, rowY: Float, inset: Float, widening: Float) -> Range<Int>? {
        guard
            let across = interval(low: lowX + inset, high: highX - inset, start: rowX, step: cosine, inverse: inverseCosine),
            let down = interval(low: lowY + inset, high: highY - inset, start: rowY, step: sine, inverse: inverseSine)
        else { return nil }
        let first = max(0, max(across.first, down.first) - widening)
        let last = min(Float(columns - 1), min(across.last, down.last) + widening)
        // Both are within [0, columns - 1] here, where truncation is the floor.
        guard first <= last else { return nil }
        let firstColumn = Int(first) + (Float(Int(first)) < first ? 1 : 0)
        return firstColumn <= Int(last) ? firstColumn ..< Int(last) + 1 : nil
    }

    /// The reals x where low < start + step·x < high; nil if there are none.
    @inline(__always)
    private func interval(low: Float, high: Float, start: Float, step: Float, inverse: Float) -> (first: Float, last: Float)? {
        if step == 0 { return start > low && start < high ? (-.infinity, .infinity) : nil }
        let (a, b) = ((low - start) * inverse, (high - start) * inverse)
        return (min(a, b), max(a, b))
    }

    /// The bytes around each point blended by distance: across, then down, then scaled to /255.
    /// Points may lie `anywhere` (those outside the bounds then read somewhere inside the frame,
    /// for the caller to discard), or all inside the bounds.
    @inline(__always)
    private func bilinear(x: Lanes, y: Lanes, framed: UnsafePointer<UInt8>, stride: Int, anywhere: Bool) -> Lanes {
        let (left, top) = (Self.floor(x), Self.floor(y))
        let (fx, fy) = (x - left, y - top)
        // The framed image holds input (row, column) at (row + 1, column + 1).
        var framedIndex = (top + 1) * Float(stride) + left + 1
        if anywhere {
            let lastPair = Float((rows + 1) * stride - 2)
            framedIndex = framedIndex.replacing(with: 0, where: framedIndex .< 0)
                .replacing(with: lastPair, where: framedIndex .> lastPair)
        }
        let index = Self.integers(framedIndex)
        let bytes = UnsafeRawPointer(framed)
        @inline(__always) func pair(_ lane: Int, _ row: Int) -> UInt32 {
            UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(index[lane]) + row, as: UInt16.self)))
        }
        let upperPairs = Indices(pair(0, 0), pair(1, 0), pair(2, 0), pair(3, 0))
        let lowerPairs = Indices(pair(0, stride), pair(1, stride), pair(2, stride), pair(3, stride))
        let (topLeft, topRight) = (Self.floats(upperPairs & 0xFF), Self.floats(upperPairs &>> 8))
        let (bottomLeft, bottomRight) = (Self.floats(lowerPairs & 0xFF), Self.floats(lowerPairs &>> 8))
        let upper = topLeft * (1 - fx) + topRight * fx
        let lower = bottomLeft * (1 - fx) + bottomRight * fx
        return (upper * (1 - fy) + lower * fy) / 255
    }

    /// floor(v) for |v| < 2^22.
    @inline(__always)
    private static func floor(_ v: Lanes) -> Lanes {
        let nearest = (v + magic) - magic
        return nearest.replacing(with: nearest - 1, where: nearest .> v)
    }

    // Conversions between floats and small integers through the bits of 2^23 + n, whose low
    // mantissa bits hold n: a few vector instructions, where the standard library's generic
    // lane-by-lane conversions cost a function call per lane.

    /// 1.5·2^23: adding it rounds a float of magnitude below 2^22 to an integer, in the low bits.
    private static let magic: Float = 12_582_912

    /// The integers held by `whole` (each a whole number in [0, 2^22)).
    @inline(__always)
    private static func integers(_ whole: Lanes) -> Indices {
        unsafeBitCast(whole + magic, to: Indices.self) &- magic.bitPattern
    }

    /// `n` as floats, for each n in [0, 2^22).
    @inline(__always)
    private static func floats(_ n: Indices) -> Lanes {
        unsafeBitCast(n | magic.bitPattern, to: Lanes.self) - magic
    }
}
