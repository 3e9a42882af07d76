//===- TernaryQuants.cpp - llama.cpp's ternary formats --------------------===//
//
// Each element becomes a trit t = round(x / amax) in {-1, 0, 1}, stored as
// t + 1. TQ2_0 gives each trit two bits. TQ1_0 reads five trits (most
// significant first) as a base-3 number v < 243 and stores
// ceil(v * 256 / 243): trit n then sits in the top bits of the byte
// multiplied by 3^n, so the decoder needs no division.
//
//===----------------------------------------------------------------------===//

#include "quantc/Numerics/TernaryQuants.h"

#include "quantc/Numerics/Float.h"

#include "BlockBytes.h"

#include <cassert>
#include <cmath>

namespace quantc {
namespace {

using namespace detail;

constexpr int kBlock = 256;

// Block layouts (ggml-common.h), offsets in bytes; the fp16 d comes last.
//   TQ1_0: qs[48] (5 trits per byte), qh[4] (4 trits per byte), d.
//   TQ2_0: qs[64] (4 trits per byte, 2 bits each), d.
constexpr int kTQ1ScaleOffset = 52;
constexpr int kTQ2ScaleOffset = 64;

/// A run of TQ1_0 bytes: byte `firstByte + m` holds trit n of element
/// `firstElement + m + n * width`, for m < width and n < trits: qs holds a
/// 32-byte run (elements 0-159) and a 16-byte one (160-239), qh the last 16
/// elements four to a byte.
struct TritSpan {
  int firstByte;
  int firstElement;
  int width;
  int trits;
};
constexpr TritSpan kTQ1Spans[] = {
    {0, 0, 32, 5}, {32, 160, 16, 5}, {48, 240, 4, 4}};

/// 3^n for the trit positions of a byte.
constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

/// Largest magnitude of a block, ggml's d; its inverse (0 when d is 0)
/// scales the block into [-1, 1].
float blockAbsMax(const float *x) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    float a = std::fabs(x[j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

/// t + 1 for t = lroundf(v) (halves away from zero). |v| <= 1 up to the
/// rounding of x * (1 / amax), so comparing with +-0.5 is lroundf there.
unsigned tritCode(float v) { return v >= 0.5f ? 2u : (v <= -0.5f ? 0u : 1u); }

/// Trit n of a TQ1_0 byte, plus one: the top bits of byte * 3^n (mod 256).
int tritOfByte(uint8_t byte, int n) {
  auto shifted = static_cast<uint8_t>(byte * kPow3[n]);
  return (shifted * 3) >> 8;
}

void quantizeBlockTQ1_0(const float *x, uint8_t *out) {
  const float d = blockAbsMax(x);
  const float inverse = d != 0 ? 1.0f / d : 0.0f;
  for (const TritSpan &span : kTQ1Spans) {
    for (int m = 0; m < span.width; ++m) {
      unsigned value = 0;
      for (int n = 0; n < 5; ++n) {
        // The qh span has four trits; a zero fifth keeps them in the same
        // (most significant) positions as in the five-trit bytes.
        unsigned code =
            n < span.trits
                ? tritCode(x[span.firstElement + m + n * span.width] * inverse)
                : 0u;
        value = value * 3 + code;
      }
      out[span.firstByte + m] =
          static_cast<uint8_t>((value * 256 + (243 - 1)) / 243);
    }
  }
  storeHalf(out + kTQ1ScaleOffset, d);
}

void quantizeBlockTQ2_0(const float *x, uint8_t *out) {
  const float d = blockAbsMax(x);
  const float inverse = d != 0 ? 1.0f / d : 0.0f;
  // Byte j of each 32-byte half holds elements j, j+32, j+64, j+96 of that
  // half's 128 elements, lowest bits first.
  for (int half = 0; half < 2; ++half) {
    for (int m = 0; m < 32; ++m) {
      unsigned byte = 0;
      for (int n = 0; n < 4; ++n)
        byte |= tritCode(x[128 * half + m + 32 * n] * inverse) << (2 * n);
      out[32 * half + m] = static_cast<uint8_t>(byte);
    }
  }
  storeHalf(out + kTQ2ScaleOffset, d);
}

template <typename BlockFn>
size_t quantizeRow(Format format, const float *src, void *dst, int64_t n,
                   BlockFn block) {
  const FormatInfo &info = getFormatInfo(format);
  assert(n % kBlock == 0 && "row length must be a whole number of blocks");
  auto *out = static_cast<uint8_t *>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b)
    block(src + b * kBlock, out + b * info.bytesPerBlock);
  return static_cast<size_t>(n / kBlock) * info.bytesPerBlock;
}

template <typename BlockFn>
void dequantizeRow(Format format, const void *src, float *dst, int64_t n,
                   BlockFn block) {
  const FormatInfo &info = getFormatInfo(format);
  assert(n % kBlock == 0 && "row length must be a whole number of blocks");
  const auto *in = static_cast<const uint8_t *>(src);
  for (int64_t b = 0; b < n / kBlock; ++b)
    block(in + b * info.bytesPerBlock, dst + b * kBlock);
}

constexpr RowCodec kTernaryCodecs[] = {
    {Format::TQ1_0, quantizeRowTQ1_0, dequantizeRowTQ1_0},
    {Format::TQ2_0, quantizeRowTQ2_0, dequantizeRowTQ2_0},
};

} // namespace

size_t quantizeRowTQ1_0(const float *src, void *dst, int64_t n,
                        const float * /*importance*/) {
  return quantizeRow(Format::TQ1_0, src, dst, n, quantizeBlockTQ1_0);
}

size_t quantizeRowTQ2_0(const float *src, void *dst, int64_t n,
                        const float * /*importance*/) {
  return quantizeRow(Format::TQ2_0, src, dst, n, quantizeBlockTQ2_0);
}

void dequantizeRowTQ1_0(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::TQ1_0, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in + kTQ1ScaleOffset);
    for (const TritSpan &span : kTQ1Spans)
      for (int m = 0; m < span.width; ++m)
        for (int n = 0; n < span.trits; ++n)
          y[span.firstElement + m + n * span.width] =
              static_cast<float>(tritOfByte(in[span.firstByte + m], n) - 1) * d;
  });
}

void dequantizeRowTQ2_0(const void *src, float *dst, int64_t n) {
  dequantizeRow(Format::TQ2_0, src, dst, n, [](const uint8_t *in, float *y) {
    const float d = loadHalf(in + kTQ2ScaleOffset);
    for (int half = 0; half < 2; ++half)
      for (int m = 0; m < 32; ++m)
        for (int n = 0; n < 4; ++n)
          y[128 * half + m + 32 * n] =
              static_cast<float>(((in[32 * half + m] >> (2 * n)) & 3) - 1) * d;
  });
}

const RowCodec *getTernaryRowCodec(Format format) {
  for (const RowCodec &codec : kTernaryCodecs)
    if (codec.format == format)
      return &codec;
  return nullptr;
}

} // namespace quantc
