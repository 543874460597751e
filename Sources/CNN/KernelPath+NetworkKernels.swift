import CNNKernelInterface
#if arch(x86_64)
import KernelsAVX2
import KernelsAVX512
#endif
import KernelPaths
import KernelsBaseline

extension KernelPath {
    /// The implementation of this path.
    var kernels: any NetworkKernels.Type {
        switch self {
        case .baseline: KernelsBaseline.LaneBlockNetwork.self
        #if arch(x86_64)
        case .avx2: KernelsAVX2.LaneBlockNetwork.self
        case .avx512: KernelsAVX512.LaneBlockNetwork.self
        #endif
        }
    }
}

extension KernelPath {
    /// The layer kernels of this path, for networks of any plan.
    public var layerKernels: any LayerKernels.Type {
        switch self {
        case .baseline: KernelsBaseline.BatchLayerKernels.self
        #if arch(x86_64)
        case .avx2: KernelsAVX2.BatchLayerKernels.self
        case .avx512: KernelsAVX512.BatchLayerKernels.self
        #endif
        }
    }
}
