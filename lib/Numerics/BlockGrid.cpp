//===- BlockGrid.cpp - scalar code grids of the block formats -------------===//
//
// Offsets and bit positions follow the block layouts documented in
// LegacyQuants.cpp, KQuants.cpp and IQuants.cpp; each grid value repeats
// its dequantizer's float expression (same operands, same order), which
// the unit tests check against the dequantizers for every code.
//
//===----------------------------------------------------------------------===//

#include "BlockGrid.h"

#include "quantc/Numerics/IQuants.h"

#include "BlockBytes.h"

#include <cassert>
#include <cmath>

namespace quantc::detail {
namespace {

constexpr BlockGridInfo kGrids[] = {
    {Format::Q4_0, 32, 18, 32, 16, 8, nullptr},
    {Format::Q4_1, 32, 20, 32, 16, 0, nullptr},
    {Format::Q5_0, 32, 22, 32, 32, 16, nullptr},
    {Format::Q5_1, 32, 24, 32, 32, 0, nullptr},
    {Format::Q8_0, 32, 34, 32, 256, 128, nullptr},
    {Format::Q2_K, 256, 84, 16, 4, 0, nullptr},
    {Format::Q3_K, 256, 110, 16, 8, 4, nullptr},
    {Format::Q4_K, 256, 144, 32, 16, 0, nullptr},
    {Format::Q5_K, 256, 176, 32, 32, 0, nullptr},
    {Format::Q6_K, 256, 210, 16, 64, 32, nullptr},
    {Format::IQ4_NL, 32, 18, 32, 16, 0, kIQ4Levels},
    {Format::IQ4_XS, 256, 136, 32, 16, 0, kIQ4Levels},
};

/// Replaces `width` bits of `byte` at `shift` by `value`.
void putBits(uint8_t &byte, int shift, int width, int value) {
  unsigned mask = ((1u << width) - 1u) << shift;
  byte = static_cast<uint8_t>((byte & ~mask) |
                              ((static_cast<unsigned>(value) << shift) & mask));
}

int getBits(uint8_t byte, int shift, int width) {
  return (byte >> shift) & ((1 << width) - 1);
}

/// Legacy and IQ4 nibbles: element j < 16 in the low half of byte j,
/// element j + 16 in its high half.
uint8_t &nibbleByte(uint8_t *qs, int element) { return qs[element % 16]; }
int nibbleShift(int element) { return element < 16 ? 0 : 4; }

/// Q2_K/Q3_K 2-bit codes: in each 128-element half, element 32 s + l at
/// bits 2 s of byte l.
int twoBitByte(int element) {
  return (element / 128) * 32 + (element % 128) % 32;
}
int twoBitShift(int element) { return 2 * ((element % 128) / 32); }

/// Q4_K/Q5_K nibbles: sub-block j's element i in byte 32 (j / 2) + i, low
/// half for even j.
int k4Byte(int element) { return 32 * (element / 64) + element % 32; }
int k4Shift(int element) { return 4 * ((element / 32) % 2); }

/// Q6_K: low nibble and high two bits of element e.
int q6LowByte(int e) {
  return 64 * (e / 128) + e % 32 + 32 * ((e % 128) / 32 % 2);
}
int q6LowShift(int e) { return 4 * ((e % 128) / 32 / 2); }
int q6HighByte(int e) { return 128 + 32 * (e / 128) + e % 32; }
int q6HighShift(int e) { return 2 * ((e % 128) / 32); }

int q3Scale(const uint8_t *packed, int j) {
  int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
  int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void k4ScaleMin(const uint8_t *packed, int j, int &scale, int &min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
    min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

SubBlockGrid plain(float scale) { return {scale, 0.0f, false}; }
SubBlockGrid withOffset(float scale, float offset) {
  return {scale, offset, true};
}

} // namespace

const BlockGridInfo *getBlockGridInfo(Format format) {
  for (const BlockGridInfo &info : kGrids)
    if (info.format == format) {
      assert(getFormatInfo(format).blockSize ==
                 static_cast<uint32_t>(info.blockSize) &&
             getFormatInfo(format).bytesPerBlock ==
                 static_cast<uint32_t>(info.bytesPerBlock));
      return &info;
    }
  return nullptr;
}

SubBlockGrid readSubBlockGrid(const BlockGridInfo &info, const uint8_t *block,
                              int sub) {
  switch (info.format) {
  case Format::Q4_0:
  case Format::Q5_0:
  case Format::Q8_0:
  case Format::IQ4_NL:
    return plain(loadHalf(block));
  case Format::Q4_1:
  case Format::Q5_1:
    return withOffset(loadHalf(block), loadHalf(block + 2));
  case Format::Q2_K: {
    // scale * q - min; adding -min rounds exactly as subtracting min.
    const float d = loadHalf(block + 80);
    const float dmin = loadHalf(block + 82);
    const float scale = d * static_cast<float>(block[sub] & 0xF);
    const float min = dmin * static_cast<float>(block[sub] >> 4);
    return withOffset(scale, -min);
  }
  case Format::Q3_K:
    return plain(loadHalf(block + 108) *
                 static_cast<float>(q3Scale(block + 96, sub)));
  case Format::Q4_K:
  case Format::Q5_K: {
    int sc, m;
    k4ScaleMin(block + 4, sub, sc, m);
    const float scale = loadHalf(block) * static_cast<float>(sc);
    const float min = loadHalf(block + 2) * static_cast<float>(m);
    return withOffset(scale, -min);
  }
  case Format::Q6_K:
    // The decoder computes d * scale * code left to right.
    return plain(loadHalf(block + 208) *
                 static_cast<float>(static_cast<int8_t>(block[192 + sub])));
  case Format::IQ4_XS: {
    const unsigned high = static_cast<unsigned>(block[2] | (block[3] << 8));
    const int l =
        static_cast<int>(((block[4 + sub / 2] >> (4 * (sub % 2))) & 0xFu) |
                         (((high >> (2 * sub)) & 3u) << 4)) -
        32;
    return plain(loadHalf(block) * static_cast<float>(l));
  }
  default:
    break;
  }
  assert(false && "format without a scalar grid");
  return plain(0.0f);
}

int nearestGridCode(const BlockGridInfo &info, const SubBlockGrid &grid,
                    double x) {
  const int last = info.codes - 1;
  auto distance = [&](int code) {
    return std::fabs(x - static_cast<double>(gridValue(info, grid, code)));
  };
  // Values are monotone in the code, so the distance falls then rises: walk
  // from a guess to the top of the nearest run, then down to its lowest
  // code. The guess is exact up to rounding for uniform grids.
  int code = info.codes / 2;
  if (!info.levels && grid.scale != 0.0f) {
    double t =
        (x - (grid.hasOffset ? grid.offset : 0.0)) / grid.scale + info.codeBias;
    if (t >= 0.0 && t <= last)
      code = static_cast<int>(std::nearbyint(t));
    else if (t > last)
      code = last;
    else if (t < 0.0)
      code = 0;
  }
  double best = distance(code);
  while (code < last) {
    double next = distance(code + 1);
    if (!(next <= best))
      break;
    ++code;
    best = next;
  }
  while (code > 0) {
    double previous = distance(code - 1);
    if (!(previous <= best))
      break;
    --code;
    best = previous;
  }
  return code;
}

void writeBlockCode(const BlockGridInfo &info, uint8_t *block, int e,
                    int code) {
  assert(e >= 0 && e < info.blockSize && code >= 0 && code < info.codes);
  switch (info.format) {
  case Format::Q4_0:
  case Format::IQ4_NL:
    putBits(nibbleByte(block + 2, e), nibbleShift(e), 4, code);
    return;
  case Format::Q4_1:
    putBits(nibbleByte(block + 4, e), nibbleShift(e), 4, code);
    return;
  case Format::Q5_0:
  case Format::Q5_1: {
    uint8_t *qh = block + (info.format == Format::Q5_0 ? 2 : 4);
    putBits(nibbleByte(qh + 4, e), nibbleShift(e), 4, code & 0xF);
    putBits(qh[e / 8], e % 8, 1, code >> 4);
    return;
  }
  case Format::Q8_0:
    block[2 + e] = static_cast<uint8_t>(code - 128);
    return;
  case Format::Q2_K:
    putBits(block[16 + twoBitByte(e)], twoBitShift(e), 2, code);
    return;
  case Format::Q3_K:
    putBits(block[32 + twoBitByte(e)], twoBitShift(e), 2, code & 3);
    putBits(block[e % 32], e / 32, 1, code >> 2);
    return;
  case Format::Q4_K:
    putBits(block[16 + k4Byte(e)], k4Shift(e), 4, code);
    return;
  case Format::Q5_K:
    putBits(block[48 + k4Byte(e)], k4Shift(e), 4, code & 0xF);
    putBits(block[16 + e % 32], e / 32, 1, code >> 4);
    return;
  case Format::Q6_K:
    putBits(block[q6LowByte(e)], q6LowShift(e), 4, code & 0xF);
    putBits(block[q6HighByte(e)], q6HighShift(e), 2, code >> 4);
    return;
  case Format::IQ4_XS:
    putBits(nibbleByte(block + 8 + 16 * (e / 32), e % 32), nibbleShift(e % 32),
            4, code);
    return;
  default:
    break;
  }
  assert(false && "format without a scalar grid");
}

int readBlockCode(const BlockGridInfo &info, const uint8_t *block, int e) {
  switch (info.format) {
  case Format::Q4_0:
  case Format::IQ4_NL:
    return getBits(block[2 + e % 16], nibbleShift(e), 4);
  case Format::Q4_1:
    return getBits(block[4 + e % 16], nibbleShift(e), 4);
  case Format::Q5_0:
  case Format::Q5_1: {
    const uint8_t *qh = block + (info.format == Format::Q5_0 ? 2 : 4);
    return getBits(qh[4 + e % 16], nibbleShift(e), 4) |
           (getBits(qh[e / 8], e % 8, 1) << 4);
  }
  case Format::Q8_0:
    return static_cast<int8_t>(block[2 + e]) + 128;
  case Format::Q2_K:
    return getBits(block[16 + twoBitByte(e)], twoBitShift(e), 2);
  case Format::Q3_K:
    return getBits(block[32 + twoBitByte(e)], twoBitShift(e), 2) |
           (getBits(block[e % 32], e / 32, 1) << 2);
  case Format::Q4_K:
    return getBits(block[16 + k4Byte(e)], k4Shift(e), 4);
  case Format::Q5_K:
    return getBits(block[48 + k4Byte(e)], k4Shift(e), 4) |
           (getBits(block[16 + e % 32], e / 32, 1) << 4);
  case Format::Q6_K:
    return getBits(block[q6LowByte(e)], q6LowShift(e), 4) |
           (getBits(block[q6HighByte(e)], q6HighShift(e), 2) << 4);
  case Format::IQ4_XS:
    return getBits(block[8 + 16 * (e / 32) + e % 16], nibbleShift(e % 32), 4);
  default:
    break;
  }
  assert(false && "format without a scalar grid");
  return 0;
}

} // namespace quantc::detail
