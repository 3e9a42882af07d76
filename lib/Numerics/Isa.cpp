//===- Isa.cpp - run-time selection of the numerics kernels ---------------===//

#include "quantc/Numerics/Isa.h"

#include "Kernels.h"

#include <atomic>

namespace quantc {
namespace {

/// All null: every operation runs the scalar reference.
constexpr detail::Kernels kScalarKernels = {};

const detail::Kernels *kernelsOf(Isa isa) {
  const detail::Kernels *kernels = nullptr;
  switch (isa) {
  case Isa::AVX512:
    kernels = detail::avx512Kernels();
    break;
  case Isa::AVX2:
    kernels = detail::avx2Kernels();
    break;
  case Isa::Scalar:
    break;
  }
  return kernels ? kernels : &kScalarKernels;
}

struct Selection {
  explicit Selection(Isa isa) : isa(isa), kernels(kernelsOf(isa)) {}
  std::atomic<Isa> isa;
  std::atomic<const detail::Kernels *> kernels;
};

Selection &selection() {
  static Selection selected(detectIsa());
  return selected;
}

} // namespace

Isa detectIsa() {
#if defined(__x86_64__)
  // These also check that the OS saves the vector state (XCR0).
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("f16c"))
    return Isa::Scalar;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::AVX512;
  return Isa::AVX2;
#endif
  return Isa::Scalar;
}

Isa getNumericsIsa() { return selection().isa.load(std::memory_order_relaxed); }

Isa setNumericsIsa(Isa isa) {
  Isa best = detectIsa();
  Isa chosen = isa <= best ? isa : best;
  Selection &selected = selection();
  selected.isa.store(chosen, std::memory_order_relaxed);
  selected.kernels.store(kernelsOf(chosen), std::memory_order_release);
  return chosen;
}

std::string_view isaName(Isa isa) {
  switch (isa) {
  case Isa::Scalar:
    return "scalar";
  case Isa::AVX2:
    return "avx2";
  case Isa::AVX512:
    return "avx512";
  }
  return "unknown";
}

std::optional<Isa> lookupIsa(std::string_view name) {
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512})
    if (isaName(isa) == name)
      return isa;
  return std::nullopt;
}

namespace detail {
const Kernels &activeKernels() {
  return *selection().kernels.load(std::memory_order_acquire);
}
} // namespace detail

} // namespace quantc
