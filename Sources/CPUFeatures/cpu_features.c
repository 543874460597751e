#include "cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <stdint.h>

// CPUID.1:ECX, CPUID.(7,0):EBX, CPUID.80000001h:ECX, and the XCR0 state bits (Intel SDM vol. 1,
// 13.3). The compiler may use any instruction of the target CPU (`haswell`, `skylake-avx512`) in
// scalar code too, so all of them are checked, not only the vector ones.
enum {
    ecx1_fma = 1u << 12, ecx1_movbe = 1u << 22, ecx1_osxsave = 1u << 27, ecx1_avx = 1u << 28, ecx1_f16c = 1u << 29,
    ebx7_bmi1 = 1u << 3, ebx7_avx2 = 1u << 5, ebx7_bmi2 = 1u << 8, ebx7_avx512f = 1u << 16, ebx7_avx512dq = 1u << 17,
    ebx7_avx512cd = 1u << 28, ebx7_avx512bw = 1u << 30, ebx7_avx512vl = 1u << 31,
    ecx_extended_lzcnt = 1u << 5,
    xcr0_sse = 1u << 1, xcr0_ymm = 1u << 2, xcr0_opmask = 1u << 5, xcr0_zmm_low = 1u << 6, xcr0_zmm_high = 1u << 7,
};

/// The state components the operating system saves on a context switch; 0 if it enabled no XSAVE.
static uint64_t enabled_state(unsigned ecx1) {
    if (!(ecx1 & ecx1_osxsave)) return 0;
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

static bool has_all(uint64_t value, uint64_t bits) { return (value & bits) == bits; }

/// CPUID leaf 1's ECX and leaf 7's EBX, or false when the CPU has no leaf 7.
static bool feature_words(unsigned *ecx1, unsigned *ebx7) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    *ecx1 = ecx;
    if (__get_cpuid_max(0, 0) < 7) return false;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    *ebx7 = ebx;
    return true;
}

bool cpu_features_has_avx2_fma(void) {
    unsigned ecx1, ebx7;
    if (!feature_words(&ecx1, &ebx7)) return false;
    unsigned eax, ebx, ecx_extended, edx;
    if (!__get_cpuid(0x80000001, &eax, &ebx, &ecx_extended, &edx)) return false;
    return has_all(ecx1, ecx1_fma | ecx1_movbe | ecx1_avx | ecx1_f16c)
        && has_all(ebx7, ebx7_bmi1 | ebx7_avx2 | ebx7_bmi2) && has_all(ecx_extended, ecx_extended_lzcnt)
        && has_all(enabled_state(ecx1), xcr0_sse | xcr0_ymm);
}

bool cpu_features_has_avx512(void) {
    unsigned ecx1, ebx7;
    if (!feature_words(&ecx1, &ebx7)) return false;
    return cpu_features_has_avx2_fma()
        && has_all(ebx7, ebx7_avx512f | ebx7_avx512dq | ebx7_avx512cd | ebx7_avx512bw | ebx7_avx512vl)
        && has_all(enabled_state(ecx1), xcr0_sse | xcr0_ymm | xcr0_opmask | xcr0_zmm_low | xcr0_zmm_high);
}

#else

bool cpu_features_has_avx2_fma(void) { return false; }
bool cpu_features_has_avx512(void) { return false; }

#endif
