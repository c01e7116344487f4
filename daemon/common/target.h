// Compiling a region of a source file for an instruction set beyond the
// build's baseline (x86-64): its kernels are called only where the CPU has
// it (checked at run time), so the default build still runs on any x86-64.
// GCC and clang spell the region differently (clang builds the fuzzers);
// these macros spell it once.
//
//   DEDUPD_TARGET_BEGIN("avx2")
//   __m256i Eq32(__m256i v, char c) { return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)); }
//   DEDUPD_TARGET_END
//
// Every function defined between the two is compiled for the listed
// features (a comma-separated string, as GCC's target attribute takes it).
// Regions do not nest.
#pragma once

#define DEDUPD_TARGET_PRAGMA(x) _Pragma(#x)

#if defined(__clang__)
#define DEDUPD_TARGET_BEGIN(features) \
  DEDUPD_TARGET_PRAGMA(clang attribute push(__attribute__((target(features))), apply_to = function))
#define DEDUPD_TARGET_END DEDUPD_TARGET_PRAGMA(clang attribute pop)
#else
#define DEDUPD_TARGET_BEGIN(features) \
  DEDUPD_TARGET_PRAGMA(GCC push_options) DEDUPD_TARGET_PRAGMA(GCC target(features))
#define DEDUPD_TARGET_END DEDUPD_TARGET_PRAGMA(GCC pop_options)
#endif
