// The augmentation's bilinear sampler, compiled once per instruction set (see Package.swift) with
// lanes as wide as its vector registers. Every output pixel is computed with the same floating-
// point operations in the same order as the per-pixel definition (source point = row start +
// cos·column; blend across, then down; divide by 255), so every build writes the same bits.
//
// A chunk is `laneCount` consecutive pixels of an output row. Their source points advance by
// (cos, sin) per lane: for a turn of a few degrees the column under lane k is the chunk's first
// column + k, and the rows stay within a few of the first lane's. The image is copied once, as
// floats, into a frame of zeros, and each chunk then reads whole rows of lanes (plain vector
// loads) and picks each lane's row by blending, instead of fetching four pixels per lane.

#if LANES16
typealias Lanes = SIMD16<Float>
typealias LaneBytes = SIMD16<UInt8>
/// Each lane's place in its chunk.
private var laneIndex: Lanes { Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
#elseif LANES8
typealias Lanes = SIMD8<Float>
typealias LaneBytes = SIMD8<UInt8>
private var laneIndex: Lanes { Lanes(0, 1, 2, 3, 4, 5, 6, 7) }
#else
typealias Lanes = SIMD4<Float>
typealias LaneBytes = SIMD4<UInt8>
private var laneIndex: Lanes { Lanes(0, 1, 2, 3) }
#endif

/// Pixels per chunk.
private let laneCount = Lanes.scalarCount

/// The most rows past its first lane's that a chunk's points may cross and still be read row by
/// row: (lanes − 1)·sin 10° + 1 rounded down, so that the default turn of up to 10° always can.
private let maxRowSpan = laneCount == 16 ? 3 : laneCount == 8 ? 2 : 1

public enum AffineSampler {
    /// Writes the `rows × columns` image at `pixels`, turned about its centre by the angle whose
    /// cosine and sine are given and moved by (`dx`, `dy`) pixels, sampled bilinearly with zero
    /// beyond its edges and scaled to /255, into the `rows × columns` floats at `image`.
    /// Allocates nothing for images up to 28×28 (the frame lives on the stack).
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
        if #available(macOS 26, *), layout.count <= 1792 {
            var scratch = InlineArray<1792, Float>(repeating: 0)
            var floats = scratch.mutableSpan
            floats.withUnsafeMutableBufferPointer { map.sample(pixels, scratch: $0.baseAddress!, layout: layout, into: image) }
        } else {
            // Larger images (and older systems without InlineArray) take their scratch from the heap.
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

    /// The box of `pixels`' non-zero bytes; nil for a blank image. Reads rows as 8-byte words, the
    /// last overlapping its neighbour (harmless to an OR); images narrower than 8, byte by byte.
    @inline(__always)
    init?(_ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int) {
        guard columns >= 8 else {
            guard let box = Self.byteByByte(pixels, rows: rows, columns: columns) else { return nil }
            self = box
            return
        }
        @inline(__always) func word(_ row: Int, _ offset: Int) -> UInt64 {
            UInt64(littleEndian: UnsafeRawPointer(pixels + row * columns + offset).loadUnaligned(as: UInt64.self))
        }
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
        @inline(__always) func columnsHaveInk(_ offset: Int) -> UInt64 {
            var any: UInt64 = 0
            for row in top ... bottom { any |= word(row, offset) }
            return any
        }
        var offset = 0
        var ink = columnsHaveInk(offset)
        while ink == 0 {
            offset = min(offset + 8, lastWord)
            ink = columnsHaveInk(offset)
        }
        let left = offset + ink.trailingZeroBitCount / 8
        offset = lastWord
        ink = columnsHaveInk(offset)
        while ink == 0 {
            offset = max(offset - 8, 0)
            ink = columnsHaveInk(offset)
        }
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, offset + 7 - ink.leadingZeroBitCount / 8)
    }

    private init(top: Int, bottom: Int, left: Int, right: Int) {
        (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
    }

    private static func byteByByte(_ pixels: UnsafePointer<UInt8>, rows: Int, columns: Int) -> InkBox? {
        var (top, bottom, left, right) = (rows, -1, columns, -1)
        for row in 0 ..< rows {
            for column in 0 ..< columns where pixels[row * columns + column] != 0 {
                (top, bottom) = (min(top, row), row)
                (left, right) = (min(left, column), max(right, column))
            }
        }
        return bottom < 0 ? nil : InkBox(top: top, bottom: bottom, left: left, right: right)
    }
}

/// Where each table lives in the sampler's scratch floats.
struct ScratchLayout {
    /// Zero pixels around the image in its framed copy: a chunk's rows of lanes may reach past the
    /// image by this much and still be read with plain loads.
    static let padding = 6
    let stride: Int
    /// The framed image, then cos·column and sin·column for every column, then each row's start
    /// point and the columns sampled in it (first, end), padded to whole lanes of rows.
    let cosineColumns, sineColumns, rowX, rowY, rowFirst, rowEnd, count: Int

    init(rows: Int, columns: Int) {
        stride = columns + 2 * Self.padding
        let paddedRows = (rows + laneCount - 1) / laneCount * laneCount
        let paddedColumns = (columns + laneCount - 1) / laneCount * laneCount
        cosineColumns = (rows + 2 * Self.padding) * stride
        sineColumns = cosineColumns + paddedColumns
        rowX = sineColumns + paddedColumns
        rowY = rowX + paddedRows
        rowFirst = rowY + paddedRows
        rowEnd = rowFirst + paddedRows
        count = rowEnd + paddedRows
    }
}

/// How many rows past a chunk's first its points may cross: the chunk loop is compiled once for
/// each bound, so that each image's chunks read just the rows its turn can reach.
protocol RowSpan {
    static var rows: Int { get }
    /// Whether every chunk's points are known to lie within `rows` rows past the first lane's,
    /// so that the chunk loop need not check.
    static var isProven: Bool { get }
}
extension RowSpan { static var isProven: Bool { true } }
enum OneRow: RowSpan { static var rows: Int { 1 } }
enum TwoRows: RowSpan { static var rows: Int { 2 } }
enum ThreeRows: RowSpan { static var rows: Int { 3 } }
/// Turns too large to prove a bound: each chunk is checked, and read lane by lane if it fails.
enum CheckedRows: RowSpan {
    static var rows: Int { maxRowSpan }
    static var isProven: Bool { false }
}

/// 1.5·2^23: adding it to a float of magnitude below 2^22 rounds it to a whole number n, held in
/// the low bits of the significand.
private let wholeNumberShift: Float = 12_582_912

/// floor(v), exactly, for |v| < 2^22.
@inline(__always)
private func floor(_ v: Lanes) -> Lanes {
    #if arch(x86_64) && !LANES8 && !LANES16
    // SSE2 has no rounding instruction.
    let nearest = (v + wholeNumberShift) - wholeNumberShift
    return nearest.replacing(with: nearest - 1, where: nearest .> v)
    #else
    return v.rounded(.down)
    #endif
}

/// A whole number |v| < 2^22 as an Int32's bits, without `Int(v)`'s range checks.
@inline(__always)
private func wholeNumber(_ v: Float) -> UInt32 {
    wholeNumberBits(v + wholeNumberShift)
}

/// n from `wholeNumberShift` + n.
@inline(__always)
private func wholeNumberBits(_ shifted: Float) -> UInt32 {
    shifted.bitPattern &- wholeNumberShift.bitPattern
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
    func sample(
        _ pixels: UnsafePointer<UInt8>, scratch: UnsafeMutablePointer<Float>, layout: ScratchLayout,
        into image: UnsafeMutablePointer<Float>
    ) {
        let pad = ScratchLayout.padding
        let origin = scratch + pad * layout.stride + pad
        // The ink's rows, whole, as floats (the rest of the frame stays zero).
        for row in Int(lowY) + 1 ... Int(highY) - 1 {
            let source = UnsafeRawPointer(pixels + row * columns)
            let target = UnsafeMutableRawPointer(origin + row * layout.stride)
            var column = 0
            repeat {
                let start = min(column, columns - laneCount)
                let bytes = source.loadUnaligned(fromByteOffset: start, as: LaneBytes.self)
                target.storeBytes(of: Lanes(bytes), toByteOffset: 4 * start, as: Lanes.self)
                column = start + laneCount
            } while column < columns
        }
        var column = 0
        while column < columns {
            let at = Lanes(repeating: Float(column)) + laneIndex
            UnsafeMutableRawPointer(scratch + layout.cosineColumns + column).storeBytes(of: cosine * at, as: Lanes.self)
            UnsafeMutableRawPointer(scratch + layout.sineColumns + column).storeBytes(of: sine * at, as: Lanes.self)
            column += laneCount
        }
        var y = 0
        while y < rows {
            let (x0, y0) = rowStart(Lanes(repeating: Float(y)) + laneIndex)
            let (first, end) = reach(rowX: x0, rowY: y0)
            UnsafeMutableRawPointer(scratch + layout.rowX + y).storeBytes(of: x0, as: Lanes.self)
            UnsafeMutableRawPointer(scratch + layout.rowY + y).storeBytes(of: y0, as: Lanes.self)
            // Whole numbers, kept shifted so that the chunk loop reads them from the bits.
            UnsafeMutableRawPointer(scratch + layout.rowFirst + y).storeBytes(of: first + wholeNumberShift, as: Lanes.self)
            UnsafeMutableRawPointer(scratch + layout.rowEnd + y).storeBytes(of: end + wholeNumberShift, as: Lanes.self)
            y += laneCount
        }
        // Along a chunk the points fall (lanes − 1)·sin; with their rounding (under 1/256 for
        // images up to 256 pixels a side) they cross at most this many rows past the first's.
        let rowSpan = rows <= 256 && columns <= 256 ? Int(Float(laneCount - 1) * abs(sine) + 1 / 256) + 1 : .max
        switch rowSpan {
        case 1: sampleChunks(OneRow.self, scratch: scratch, layout: layout, into: image)
        case 2 where maxRowSpan >= 2: sampleChunks(TwoRows.self, scratch: scratch, layout: layout, into: image)
        case 3 where maxRowSpan >= 3: sampleChunks(ThreeRows.self, scratch: scratch, layout: layout, into: image)
        default: sampleChunks(CheckedRows.self, scratch: scratch, layout: layout, into: image)
        }
    }

    /// Samples every chunk of every row, reading rows of lanes where the chunk's points allow.
    @inline(__always)
    func sampleChunks<Span: RowSpan>(
        _: Span.Type, scratch: UnsafeMutablePointer<Float>, layout: ScratchLayout, into image: UnsafeMutablePointer<Float>
    ) {
        let (pad, stride) = (ScratchLayout.padding, layout.stride)
        let origin = scratch + pad * stride + pad
        let (cosineColumns, sineColumns) = (scratch + layout.cosineColumns, scratch + layout.sineColumns)
        // A chunk reads rows b … b + span + 1 from b, its first lane's row, or `span` rows above it
        // when the points climb along the row; and columns a − 1 … a + lanes, a its first lane's.
        let span = Float(Span.rows)
        let rowBias: Float = sine < 0 ? span : 0
        let (lowestA, rangeA) = (UInt32(bitPattern: Int32(1 - pad)), UInt32(columns + 2 * pad - laneCount - 2))
        let (lowestB, rangeB) = (UInt32(bitPattern: Int32(-pad)), UInt32(rows + 2 * pad - 2 - Span.rows))
        let lastStart = columns - laneCount
        for y in 0 ..< rows {
            let end = Int(Int32(bitPattern: wholeNumberBits(scratch[layout.rowEnd + y])))
            var x = Int(Int32(bitPattern: wholeNumberBits(scratch[layout.rowFirst + y])))
            guard x < end else { continue }
            let rowX = Lanes(repeating: scratch[layout.rowX + y]), rowY = Lanes(repeating: scratch[layout.rowY + y])
            let output = image + y * columns
            repeat {
                let start = min(x, lastStart)
                let sourceX = rowX + UnsafeRawPointer(cosineColumns + start).loadUnaligned(as: Lanes.self)
                let sourceY = rowY + UnsafeRawPointer(sineColumns + start).loadUnaligned(as: Lanes.self)
                let (left, top) = (floor(sourceX), floor(sourceY))
                let (fx, fy) = (sourceX - left, sourceY - top)
                let a = left[0], b = top[0] - rowBias
                let firstColumn = wholeNumber(a), firstRow = wholeNumber(b)
                let inFrame = firstColumn &- lowestA <= rangeA && firstRow &- lowestB <= rangeB
                let rowOffset = top - b
                let straight = left .== Lanes(repeating: a) + laneIndex
                let rowsFit = (rowOffset .>= 0) .& (rowOffset .<= span)
                // Read only when in the frame.
                let row = origin + Int(Int32(bitPattern: firstRow)) * stride + Int(Int32(bitPattern: firstColumn))
                let corners: Corners
                if inFrame && (Span.isProven ? all(straight) : all(straight .& rowsFit)) {
                    // Every lane reads columns a + lane and the next.
                    corners = Corners(Span.self, rows: row, stride: stride, rowOffsets: rowOffset)
                } else if inFrame && all((straight .| (left .== Lanes(repeating: a - 1) + laneIndex)) .& rowsFit) {
                    // Lanes past the column the turn drops read one column further left.
                    corners = Corners(Span.self, rows: row, stride: stride, rowOffsets: rowOffset, straight: straight)
                } else {
                    corners = gather(scratch, stride: stride, sourceX: sourceX, sourceY: sourceY, left: left, top: top)
                }
                let upper = corners.topLeft * (1 - fx) + corners.topRight * fx
                let lower = corners.bottomLeft * (1 - fx) + corners.bottomRight * fx
                UnsafeMutableRawPointer(output + start).storeBytes(of: (upper * (1 - fy) + lower * fy) / 255, as: Lanes.self)
                x = start + laneCount
            } while x < end
        }
    }

    /// For rows whose starts are (rowX, rowY): the first column and one past the last whose points
    /// may lie within the ink bounds: those that do, widened by a column for rounding.
    @inline(__always)
    func reach(rowX: Lanes, rowY: Lanes) -> (first: Lanes, end: Lanes) {
        let margin: Float = 1 / 64
        let (inverseCosine, inverseSine) = (1 / cosine, 1 / sine)
        let (acrossA, acrossB) = ((lowX - margin - rowX) * inverseCosine, (highX + margin - rowX) * inverseCosine)
        var first = acrossA.replacing(with: acrossB, where: acrossB .< acrossA)
        var last = acrossA.replacing(with: acrossB, where: acrossB .> acrossA)
        if sine != 0 {
            let (downA, downB) = ((lowY - margin - rowY) * inverseSine, (highY + margin - rowY) * inverseSine)
            let downFirst = downA.replacing(with: downB, where: downB .< downA)
            let downLast = downA.replacing(with: downB, where: downB .> downA)
            first = first.replacing(with: downFirst, where: downFirst .> first)
            last = last.replacing(with: downLast, where: downLast .< last)
        } else {
            let within = (rowY .> lowY - margin) .& (rowY .< highY + margin)
            last = last.replacing(with: -1, where: .!within)
        }
        // Clamped into 0 … columns, where the chunk loop reads them as whole numbers: a nearly
        // level turn puts the bounds ~1/sin away, and a NaN (from 0·∞) samples the whole row.
        let (none, all) = (Lanes(repeating: 0), Lanes(repeating: Float(columns)))
        first = (first - 1).rounded(.up)
        first = first.replacing(with: none, where: .!(first .> none)).replacing(with: all, where: first .> all)
        var end = (last + 1).rounded(.down) + 1
        end = end.replacing(with: all, where: .!(end .< all)).replacing(with: none, where: end .< none)
        return (first, end)
    }

    /// The four pixels around each lane's point read one lane at a time, for chunks turned too far
    /// or reaching too far out for rows of lanes; points outside the ink take zero.
    @inline(never)
    func gather(
        _ scratch: UnsafeMutablePointer<Float>, stride: Int, sourceX: Lanes, sourceY: Lanes, left: Lanes, top: Lanes
    ) -> Corners {
        let pad = ScratchLayout.padding
        let frameRows = rows + 2 * pad
        var corners = Corners(topLeft: Lanes(), topRight: Lanes(), bottomLeft: Lanes(), bottomRight: Lanes())
        let inside = (sourceX .> lowX) .& (sourceX .< highX) .& (sourceY .> lowY) .& (sourceY .< highY)
        for lane in 0 ..< laneCount where inside[lane] {
            // Inside the ink box widened by a pixel, so inside the frame.
            let corner = scratch + (Int(top[lane]) + pad) * stride + Int(left[lane]) + pad
            precondition(corner >= scratch && corner + stride + 1 < scratch + frameRows * stride)
            corners.topLeft[lane] = corner[0]
            corners.topRight[lane] = corner[1]
            corners.bottomLeft[lane] = corner[stride]
            corners.bottomRight[lane] = corner[stride + 1]
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

/// The four pixels around each lane's point: (top, left), its right, below and below-right.
struct Corners {
    var topLeft, topRight, bottomLeft, bottomRight: Lanes

    init(topLeft: Lanes, topRight: Lanes, bottomLeft: Lanes, bottomRight: Lanes) {
        (self.topLeft, self.topRight, self.bottomLeft, self.bottomRight) = (topLeft, topRight, bottomLeft, bottomRight)
    }

    /// Lane k's point lies in column k of `first`'s row and `rowOffsets`[k] rows below it.
    @inline(__always)
    init<Span: RowSpan>(_: Span.Type, rows first: UnsafePointer<Float>, stride: Int, rowOffsets: Lanes) {
        self.init(Span.self, rowOffsets: rowOffsets) { row in
            let line = UnsafeRawPointer(first + row * stride)
            return (line.loadUnaligned(as: Lanes.self), line.loadUnaligned(fromByteOffset: 4, as: Lanes.self))
        }
    }

    /// As above, but the lanes not `straight` lie one column further left.
    @inline(__always)
    init<Span: RowSpan>(
        _: Span.Type, rows first: UnsafePointer<Float>, stride: Int, rowOffsets: Lanes,
        straight: SIMDMask<Lanes.MaskStorage>
    ) {
        self.init(Span.self, rowOffsets: rowOffsets) { row in
            let line = UnsafeRawPointer(first + row * stride - 1)
            let (before, at, after) = (
                line.loadUnaligned(as: Lanes.self), line.loadUnaligned(fromByteOffset: 4, as: Lanes.self),
                line.loadUnaligned(fromByteOffset: 8, as: Lanes.self))
            return (before.replacing(with: at, where: straight), at.replacing(with: after, where: straight))
        }
    }

    /// Each row of lanes, `pair(row)` (each lane's pixel there and its right neighbour), read once
    /// and taken by the lanes whose points lie in it (`rowOffsets`) or just above it.
    @inline(__always)
    private init<Span: RowSpan>(
        _: Span.Type, rowOffsets: Lanes, pair: (_ row: Int) -> (left: Lanes, right: Lanes)
    ) {
        var below = pair(1)
        (topLeft, topRight) = pair(0)
        (bottomLeft, bottomRight) = below
        for row in 1 ... Span.rows {
            let here = rowOffsets .== Float(row)
            topLeft = topLeft.replacing(with: below.left, where: here)
            topRight = topRight.replacing(with: below.right, where: here)
            below = pair(row + 1)
            bottomLeft = bottomLeft.replacing(with: below.left, where: here)
            bottomRight = bottomRight.replacing(with: below.right, where: here)
        }
    }
}
