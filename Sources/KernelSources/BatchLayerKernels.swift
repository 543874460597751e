import CNNKernelInterface

/// The layer kernels of any sequential network in this module's instruction set. Each layer's
/// forward and backward pass lives in its own file (Conv2d.swift, MaxPool2d.swift, ReLU.swift,
/// Dropout.swift, Linear.swift, SoftmaxCrossEntropy.swift), as an extension of this type.
public enum BatchLayerKernels: LayerKernels {}

/// The `laneCount` floats at `source`, which need not be aligned.
@inline(__always)
func loadLanes(_ source: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(source).loadUnaligned(as: Lanes.self)
}

/// Stores `value` as the `laneCount` floats at `target`, which need not be aligned.
@inline(__always)
func storeLanes(_ value: Lanes, _ target: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(target).storeBytes(of: value, as: Lanes.self)
}

/// `value` rounded up to a multiple of `multiple`.
@inline(__always)
func roundedUp(_ value: Int, toMultipleOf multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}

/// Four rows of a row-major matrix from row `first` on, for a register block of four rows. A
/// block of `count` < 4 rows repeats its last row in the slots past it, so the block's loops need
/// no edge case; only its own `count` results are stored.
struct FourRows {
    let row0, row1, row2, row3: UnsafeMutablePointer<Float>

    init(_ matrix: UnsafeMutablePointer<Float>, first: Int, count: Int, rowLength: Int) {
        func row(_ slot: Int) -> UnsafeMutablePointer<Float> { matrix + (first + min(slot, count - 1)) * rowLength }
        (row0, row1, row2, row3) = (row(0), row(1), row(2), row(3))
    }

    init(_ matrix: UnsafePointer<Float>, first: Int, count: Int, rowLength: Int) {
        self.init(UnsafeMutablePointer(mutating: matrix), first: first, count: count, rowLength: rowLength)
    }
}

/// Eight rows of a row-major matrix from row `first` on, for register blocks of up to eight rows
/// (a block uses the first of them; the compiler drops the others). A block of `count` rows
/// repeats its last row in the slots past it, like `FourRows`.
struct EightRows {
    let row0, row1, row2, row3, row4, row5, row6, row7: UnsafeMutablePointer<Float>

    @inline(__always)
    init(_ matrix: UnsafeMutablePointer<Float>, first: Int, count: Int, rowLength: Int) {
        let last = first + count - 1
        row0 = matrix + first * rowLength
        row1 = matrix + min(first + 1, last) * rowLength
        row2 = matrix + min(first + 2, last) * rowLength
        row3 = matrix + min(first + 3, last) * rowLength
        row4 = matrix + min(first + 4, last) * rowLength
        row5 = matrix + min(first + 5, last) * rowLength
        row6 = matrix + min(first + 6, last) * rowLength
        row7 = matrix + min(first + 7, last) * rowLength
    }

    @inline(__always)
    init(_ matrix: UnsafePointer<Float>, first: Int, count: Int, rowLength: Int) {
        self.init(UnsafeMutablePointer(mutating: matrix), first: first, count: count, rowLength: rowLength)
    }
}

/// target[0..<count] = source[0..<count] (not overlapping), a vector at a time: the convolutions
/// copy many short rows, where a call to `memmove` per row cost more than the copy. A row of at
/// least a vector ends with a vector that overlaps the one before; shorter rows go by 8, 4 and 1.
@inline(__always)
func copyFloats(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    guard count >= laneCount else {
        var index = 0
        if laneCount > 8 && count >= 8 {
            UnsafeMutableRawPointer(target).storeBytes(
                of: UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
            index = 8
        }
        if laneCount > 4 && count - index >= 4 {
            UnsafeMutableRawPointer(target + index).storeBytes(
                of: UnsafeRawPointer(source + index).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            index += 4
        }
        while index < count {
            target[index] = source[index]
            index += 1
        }
        return
    }
    var index = 0
    while index + laneCount < count {
        storeLanes(loadLanes(source + index), target + index)
        index += laneCount
    }
    storeLanes(loadLanes(source + count - laneCount), target + count - laneCount)
}
