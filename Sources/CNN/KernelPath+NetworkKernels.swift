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
