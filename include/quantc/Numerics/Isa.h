//===- Isa.h - instruction sets of the numerics kernels ---------*- C++ -*-===//
//
// The block codecs and 16-bit float conversions pick vector kernels at run
// time from what the CPU supports (the library is built for baseline
// x86-64). The scalar code is the reference: every vector kernel reproduces
// its bytes exactly, for every input. Tests and benchmarks force a path here
// to compare them. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTC_NUMERICS_ISA_H
#define QUANTC_NUMERICS_ISA_H

#include <cstdint>
#include <optional>
#include <string_view>

namespace quantc {

/// Kernel tiers, each a superset of the one before.
enum class Isa : uint8_t {
  Scalar,
  /// AVX2 with F16C.
  AVX2,
  /// AVX-512 F, BW, VL and DQ, besides AVX2 and F16C.
  AVX512,
};

/// The best tier this CPU and OS support.
Isa detectIsa();
/// The tier the kernels use now; detectIsa() until setNumericsIsa.
Isa getNumericsIsa();
/// Selects the kernels of `isa`, or of detectIsa() where that is lower, and
/// returns the tier in effect. Call it while no other thread quantizes.
Isa setNumericsIsa(Isa isa);

/// "scalar", "avx2", "avx512".
std::string_view isaName(Isa isa);
std::optional<Isa> lookupIsa(std::string_view name);

} // namespace quantc

#endif // QUANTC_NUMERICS_ISA_H
