// The augmentation's bilinear sampler, compiled once per instruction set (see Package.swift) with
// lanes as wide as its vector registers. Every output pixel is computed with the same floating-
// point operations in the same order as the per-pixel definition (source point = row start +
// cos·column; blend across, then down; divide by 255), so all builds write the same bits.

#if LANES16
typealias Lanes = SIMD16<Float>
typealias LaneBytes = SIMD16<UInt8>
/// Each lane's offset in its chunk.
private var laneIndex: Lanes { Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
/// The most rows below its first lane's that a chunk's points may reach for the row-at-a-time
/// read: (16 − 1)·sin 10° < 3, so a turn of up to 10° never needs more.
private let maxSpan: Float = 3
private let maxSpanRows = 3
#elseif LANES8
typealias Lanes = SIMD8<Float>
typealias LaneBytes = SIMD8<UInt8>
private var laneIndex: Lanes { Lanes(0, 1, 2, 3, 4, 5, 6, 7) }
private let maxSpan: Float = 2
private let maxSpanRows = 2
#else
typealias Lanes = SIMD4<Float>
typealias LaneBytes = SIMD4<UInt8>
private var laneIndex: Lanes { Lanes(0, 1, 2, 3) }
private let maxSpan: Float = 1
private let maxSpanRows = 1
#endif

/// Lanes of a chunk: output pixels sampled together, consecutive along a row.
private let laneCount = Lanes.scalarCount

public enum AffineSampler {
    /// Writes the `rows × columns` image at `pixels`, turned about its centre by the angle whose
    /// cosine and sine are given and moved by (`dx`, `dy`) pixels, sampled bilinearly with zero
    /// beyond its edges and scaled to /255, into the `rows × columns` floats at `image`.
    public static func sample(
        _ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int, cosine: Float, sine: Float, dx: Float, dy: Float,
        into image: UnsafeMutablePointer<Float>
    ) {
        image.update(repeating: 0, count: rows * columns)
        guard let ink = InkBox(pixels, rows: rows, columns: columns) else { return }
        let map = InverseMap(cosine: cosine, sine: sine, dx: dx, dy: dy, rows: rows, columns: columns, ink: ink)
        guard columns >= laneCount else {
            map.samplePixelByPixel(pixels, into: image)
            return
        }
        let layout = ScratchLayout(rows: rows, columns: columns)
        if layout.count <= 2048 {
            var scratch = InlineArray<2048, Float>(repeating: 0)
            var span = scratch.mutableSpan
            span.withUnsafeMutableBufferPointer { scratch in
                map.sample(pixels, scratch: scratch.baseAddress!, layout: layout, into: image)
            }
        } else {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: layout.count) { scratch in
                scratch.initialize(repeating: 0)
                map.sample(pixels, scratch: scratch.baseAddress!, layout: layout, into: image)
            }
        }
    }
}

/// The rows and columns that hold ink (inclusive bounds).
struct InkBox {
    let top, bottom, left, right: Int

    /// The box of `pixels`' non-zero bytes; nil for a blank image.
    @inline(__always)
    init?(_ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int) {
        @inline(__always) func word(_ row: Int, _ offset: Int) -> UInt64 {
            UInt64(littleEndian: UnsafeRawPointer(pixels + row * columns + offset).loadUnaligned(as: UInt64.self))
        }
        // Rows are read as 8-byte words, the last overlapping its neighbour: ORing is unharmed.
        guard columns >= 8 else { return nil }
        let lastWord = columns - 8
        @inline(__always) func rowHasInk(_ row: Int) -> Bool {
            var any = word(row, lastWord)
            var offset = 0
            while offset < lastWord {
                any |= word(row, offset)
                offset += 8
            }
            return any != 0
        }
        var top = 0
        while top < rows && !rowHasInk(top) { top += 1 }
        guard top < rows else { return nil }
        var bottom = rows - 1
        while !rowHasInk(bottom) { bottom -= 1 }
        @inline(__always) func column(_ offset: Int) -> UInt64 {
            var any: UInt64 = 0
            for row in top ... bottom { any |= word(row, offset) }
            return any
        }
        var offset = 0
        var ink = column(offset)
        while ink == 0 {
            offset = min(offset + 8, lastWord)
            ink = column(offset)
        }
        let left = offset + ink.trailingZeroBitCount / 8
        offset = lastWord
        ink = column(offset)
        while ink == 0 {
            offset = max(offset - 8, 0)
            ink = column(offset)
        }
        let right = offset + 7 - ink.leadingZeroBitCount / 8
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }
}

/// Where each table lives in the sampler's scratch floats.
struct ScratchLayout {
    /// Zero pixels around the image in the framed copy, so that a chunk's rows of lanes read
    /// without bounds checks wherever its points fall near the image.
    static let padding = 6
    let stride: Int
    let frameCount: Int
    let count: Int
    /// cos·column and sin·column for every column, then each row's start point and sampled columns.
    let cosineColumns, sineColumns, rowX, rowY, rowFirst, rowEnd: Int

    init(rows: Int, columns: Int) {
        stride = columns + 2 * Self.padding
        frameCount = (rows + 2 * Self.padding) * stride
        let paddedRows = (rows + laneCount - 1) / laneCount * laneCount
        cosineColumns = frameCount
        sineColumns = cosineColumns + columns
        rowX = sineColumns + columns
        rowY = rowX + paddedRows
        rowFirst = rowY + paddedRows
        rowEnd = rowFirst + paddedRows
        count = rowEnd + paddedRows
    }
}

/// floor(v), exactly, for |v| < 2^22.
@inline(__always)
private func floor(_ v: Lanes) -> Lanes {
    #if arch(x86_64) && LANES4
    // SSE2 has no rounding instruction: adding 1.5·2^23 rounds to a whole number in the low bits.
    let magic: Float = 12_582_912
    let nearest = (v + magic) - magic
    return nearest.replacing(with: nearest - 1, where: nearest .> v)
    #else
    return v.rounded(.down)
    #endif
}

/// The map from an output pixel back to the input point the turn and shift carry onto it.
struct InverseMap {
    let cosine, sine, dx, dy: Float
    let rows, columns: Int
    let centreX, centreY: Float
    /// Points strictly inside these bounds (the ink box widened by a pixel) can take ink.
    let lowX, highX, lowY, highY: Float

    @inline(__always)
    init(cosine: Float, sine: Float, dx: Float, dy: Float, rows: Int, columns: Int, ink: InkBox) {
        (self.cosine, self.sine, self.dx, self.dy) = (cosine, sine, dx, dy)
        (self.rows, self.columns) = (rows, columns)
        (centreX, centreY) = (Float(columns - 1) / 2, Float(rows - 1) / 2)
        (lowX, highX) = (Float(ink.left) - 1, Float(ink.right) + 1)
        (lowY, highY) = (Float(ink.top) - 1, Float(ink.bottom) + 1)
    }

    /// The source point of output row `y`'s column 0: the row start.
    @inline(__always)
    func rowStart(_ y: Lanes) -> (x: Lanes, y: Lanes) {
        let v = y - centreY - dy
        return (centreX - sine * v - cosine * (centreX + dx), centreY + cosine * v - sine * (centreX + dx))
    }

    @inline(__always)
    func sample(_ pixels: UnsafePointer<UInt8>, scratch: UnsafeMutablePointer<Float>, layout: ScratchLayout, into image: UnsafeMutablePointer<Float>) {
        let pad = ScratchLayout.padding
        let stride = layout.stride
        let origin = scratch + pad * stride + pad
        let (inkTop, inkBottom) = (Int(lowY) + 1, Int(highY) - 1)
        for row in inkTop ... inkBottom {
            let source = UnsafeRawPointer(pixels + row * columns), target = UnsafeMutableRawPointer(origin + row * stride)
            var column = 0
            while true {
                let start = min(column, columns - laneCount)
                let bytes = source.loadUnaligned(fromByteOffset: start, as: LaneBytes.self)
                target.storeBytes(of: Lanes(bytes), toByteOffset: 4 * start, as: Lanes.self)
                column = start + laneCount
                if column >= columns { break }
            }
        }
        let (cosineColumns, sineColumns) = (scratch + layout.cosineColumns, scratch + layout.sineColumns)
        for column in 0 ..< columns {
            cosineColumns[column] = cosine * Float(column)
            sineColumns[column] = sine * Float(column)
        }
        let (rowXs, rowYs) = (scratch + layout.rowX, scratch + layout.rowY)
        let (rowFirsts, rowEnds) = (scratch + layout.rowFirst, scratch + layout.rowEnd)
        var y = 0
        while y < rows {
            let (x0, y0) = rowStart(Lanes(repeating: Float(y)) + laneIndex)
            let (first, end) = reach(rowX: x0, rowY: y0)
            UnsafeMutableRawPointer(rowXs + y).storeBytes(of: x0, as: Lanes.self)
            UnsafeMutableRawPointer(rowYs + y).storeBytes(of: y0, as: Lanes.self)
            UnsafeMutableRawPointer(rowFirsts + y).storeBytes(of: first, as: Lanes.self)
            UnsafeMutableRawPointer(rowEnds + y).storeBytes(of: end, as: Lanes.self)
            y += laneCount
        }
        let lowestA = Float(1 - pad), highestA = Float(columns + pad - laneCount - 1)
        let lowestB = Float(-pad), highestB = Float(rows + pad - 2)
        let rowBytes = stride * MemoryLayout<Float>.stride
        for y in 0 ..< rows {
            let end = Int(rowEnds[y])
            var x = Int(rowFirsts[y])
            guard x < end else { continue }
            let rowX = Lanes(repeating: rowXs[y]), rowY = Lanes(repeating: rowYs[y])
            let output = image + y * columns
            repeat {
                let start = min(x, columns - laneCount)
                let sourceX = rowX + UnsafeRawPointer(cosineColumns + start).loadUnaligned(as: Lanes.self)
                let sourceY = rowY + UnsafeRawPointer(sineColumns + start).loadUnaligned(as: Lanes.self)
                let inside = (sourceX .> lowX) .& (sourceX .< highX) .& (sourceY .> lowY) .& (sourceY .< highY)
                let (left, top) = (floor(sourceX), floor(sourceY))
                let (fx, fy) = (sourceX - left, sourceY - top)
                let a = left[0]
                let (firstTop, lastTop) = (top[0], top[laneCount - 1])
                let b = min(firstTop, lastTop), span = max(firstTop, lastTop) - b
                let straight = left .== Lanes(repeating: a) + laneIndex
                let lagging = left .== Lanes(repeating: a - 1) + laneIndex
                var topLeft: Lanes, topRight: Lanes, bottomLeft: Lanes, bottomRight: Lanes
                let fits = span <= maxSpan && a >= lowestA && a <= highestA && b >= lowestB && b + span <= highestB
                if fits && all(straight) {
                    let r = top - b
                    var row = UnsafeRawPointer(origin + Int(b) * stride + Int(a))
                    topLeft = row.loadUnaligned(as: Lanes.self)
                    topRight = row.loadUnaligned(fromByteOffset: 4, as: Lanes.self)
                    row += rowBytes
                    bottomLeft = row.loadUnaligned(as: Lanes.self)
                    bottomRight = row.loadUnaligned(fromByteOffset: 4, as: Lanes.self)
                    var (rowLeft, rowRight) = (bottomLeft, bottomRight)
                    var step: Float = 1
                    while step <= maxSpan {
                        let here = r .== step
                        topLeft = topLeft.replacing(with: rowLeft, where: here)
                        topRight = topRight.replacing(with: rowRight, where: here)
                        row += rowBytes
                        rowLeft = row.loadUnaligned(as: Lanes.self)
                        rowRight = row.loadUnaligned(fromByteOffset: 4, as: Lanes.self)
                        bottomLeft = bottomLeft.replacing(with: rowLeft, where: here)
                        bottomRight = bottomRight.replacing(with: rowRight, where: here)
                        step += 1
                    }
                } else if fits && all(straight .| lagging) {
                    let r = top - b
                    var row = UnsafeRawPointer(origin + Int(b) * stride + Int(a) - 1)
                    @inline(__always) func across(_ row: UnsafeRawPointer) -> (Lanes, Lanes) {
                        let l = row.loadUnaligned(as: Lanes.self)
                        let m = row.loadUnaligned(fromByteOffset: 4, as: Lanes.self)
                        let h = row.loadUnaligned(fromByteOffset: 8, as: Lanes.self)
                        return (l.replacing(with: m, where: straight), m.replacing(with: h, where: straight))
                    }
                    (topLeft, topRight) = across(row)
                    row += rowBytes
                    (bottomLeft, bottomRight) = across(row)
                    // Lanes whose points lie `step` rows below the chunk's first take that row
                    // and the next.
                    var (rowLeft, rowRight) = (bottomLeft, bottomRight)
                    var step: Float = 1
                    while step <= maxSpan {
                        let here = r .== step
                        topLeft = topLeft.replacing(with: rowLeft, where: here)
                        topRight = topRight.replacing(with: rowRight, where: here)
                        row += rowBytes
                        (rowLeft, rowRight) = across(row)
                        bottomLeft = bottomLeft.replacing(with: rowLeft, where: here)
                        bottomRight = bottomRight.replacing(with: rowRight, where: here)
                        step += 1
                    }
                } else {
                    (topLeft, topRight, bottomLeft, bottomRight) = gather(scratch, stride: stride, left: left, top: top)
                }
                let upper = topLeft * (1 - fx) + topRight * fx
                let lower = bottomLeft * (1 - fx) + bottomRight * fx
                let value = ((upper * (1 - fy) + lower * fy) / 255).replacing(with: 0, where: .!inside)
                UnsafeMutableRawPointer(output + start).storeBytes(of: value, as: Lanes.self)
                x = start + laneCount
            } while x < end
        }
    }

    /// For rows whose starts are (rowX, rowY): the first column and one past the last whose points
    /// may lie within the ink bounds: those that do, widened by a column for rounding.
    @inline(__always)
    func reach(rowX: Lanes, rowY: Lanes) -> (first: Lanes, end: Lanes) {
        let margin: Float = 1 / 64
        let (acrossA, acrossB) = ((lowX - margin - rowX) / cosine, (highX + margin - rowX) / cosine)
        var first = acrossA.replacing(with: acrossB, where: acrossB .< acrossA)
        var last = acrossA.replacing(with: acrossB, where: acrossB .> acrossA)
        if sine != 0 {
            let (downA, downB) = ((lowY - margin - rowY) / sine, (highY + margin - rowY) / sine)
            let downFirst = downA.replacing(with: downB, where: downB .< downA)
            let downLast = downA.replacing(with: downB, where: downB .> downA)
            first = first.replacing(with: downFirst, where: downFirst .> first)
            last = last.replacing(with: downLast, where: downLast .< last)
        } else {
            let within = (rowY .> lowY - margin) .& (rowY .< highY + margin)
            last = last.replacing(with: -1, where: .!within)
        }
        first = (first - 1).rounded(.up)
        first = first.replacing(with: 0, where: first .< 0)
        last = (last + 1).rounded(.down)
        let limit = Lanes(repeating: Float(columns - 1))
        last = last.replacing(with: limit, where: last .> limit)
        return (first, last + 1)
    }

    /// The four neighbours of each point read one lane at a time, for chunks too turned or too
    /// far out for the row-at-a-time read.
    @inline(never)
    func gather(_ scratch: UnsafeMutablePointer<Float>, stride: Int, left: Lanes, top: Lanes) -> (Lanes, Lanes, Lanes, Lanes) {
        let pad = ScratchLayout.padding
        let frameRows = rows + 2 * pad
        var corners = (Lanes(), Lanes(), Lanes(), Lanes())
        for lane in 0 ..< laneCount {
            // Outside the frame the point is outside the ink and its value is discarded.
            let row = min(max(Int(top[lane]) + pad, 0), frameRows - 2)
            let column = min(max(Int(left[lane]) + pad, 0), stride - 2)
            let corner = scratch + row * stride + column
            corners.0[lane] = corner[0]
            corners.1[lane] = corner[1]
            corners.2[lane] = corner[stride]
            corners.3[lane] = corner[stride + 1]
        }
        return corners
    }

    /// The definition itself, one pixel at a time: for images narrower than a chunk.
    func samplePixelByPixel(_ pixels: UnsafePointer<UInt8>, into image: UnsafeMutablePointer<Float>) {
        func byte(_ row: Int, _ column: Int) -> Float {
            (0 ..< rows).contains(row) && (0 ..< columns).contains(column) ? Float(pixels[row * columns + column]) : 0
        }
        for y in 0 ..< rows {
            let (rowX, rowY) = rowStart(Lanes(repeating: Float(y)))
            for x in 0 ..< columns {
                let sourceX = rowX[0] + cosine * Float(x), sourceY = rowY[0] + sine * Float(x)
                let (left, top) = (sourceX.rounded(.down), sourceY.rounded(.down))
                let (fx, fy) = (sourceX - left, sourceY - top)
                let (column, row) = (Int(left), Int(top))
                let upper = byte(row, column) * (1 - fx) + byte(row, column + 1) * fx
                let lower = byte(row + 1, column) * (1 - fx) + byte(row + 1, column + 1) * fx
                image[y * columns + x] = (upper * (1 - fy) + lower * fy) / 255
            }
        }
    }
}
