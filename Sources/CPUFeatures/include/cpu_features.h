#ifndef MNIST_DDP_CPU_FEATURES_H
#define MNIST_DDP_CPU_FEATURES_H

#include <stdbool.h>

/// What `-target-cpu haswell` compiles for (x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE),
/// and the operating system saves the 256-bit ymm state.
bool cpu_features_has_avx2_fma(void);

/// The above and what `-target-cpu skylake-avx512` adds: AVX-512 F, CD, BW, DQ and VL (Skylake-SP
/// and later, Zen 4 and later), and the operating system
/// saves the opmask and 512-bit zmm state.
bool cpu_features_has_avx512(void);

#endif
