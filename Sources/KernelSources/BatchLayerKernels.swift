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
