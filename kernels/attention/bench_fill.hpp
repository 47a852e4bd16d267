#pragma once
// The values mlasim_attention_bench fills its device inputs with, and the checksum it publishes for the
// PyTorch peers (kernels/attention/peers.py), in plain C++17 plus MLASIM_HD: the fill kernel calls the same
// function on the device, and host tests pin its values (tests/test_attention_bench_csv.cpp), which
// peers.py's self-test pins too, so the bench, its host replica and the Python replica cannot drift apart
// unnoticed.
//
// Element i of a tensor filled with seed s: the splitmix64 finaliser of z = s + 0x9e3779b97f4a7c15·(i + 1)
// (mod 2^64); its top 24 bits m give the float m·2^-23 - 1 in [-1, 1) (exact in fp32), rounded to bf16 to
// nearest even; a value that rounds to zero becomes 0.5 (never zero: zeros hide unwritten outputs).
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/attention/mma_layout.hpp"  // MLASIM_HD

namespace mlasim::attention {

/// The 24-bit draw of element `index` of a tensor filled with `seed` (splitmix64, mod-2^64 arithmetic).
MLASIM_HD inline std::uint32_t fill_draw(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<std::uint32_t>(z >> 40);
}

/// The bf16 bit pattern of element `index` (see the header): m·2^-23 - 1 is exact in fp32, then rounded to
/// bf16 to nearest even with integer arithmetic (the same result as __float2bfloat16_rn for these finite
/// values); a zero becomes 0.5 (0x3f00).
MLASIM_HD inline std::uint16_t fill_bf16_bits(std::uint64_t seed, std::uint64_t index) {
  const float v = static_cast<float>(fill_draw(seed, index)) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
  std::uint32_t u = 0;
#ifdef __CUDA_ARCH__
  u = __float_as_uint(v);
#else
  std::memcpy(&u, &v, sizeof u);
#endif
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const auto bits = static_cast<std::uint16_t>(rounded);
  return (bits & 0x7fffu) == 0 ? std::uint16_t{0x3f00} : bits;
}

/// Checksum of a bf16 tensor as the peers recompute it: sum0 = Σ bits[i], sum1 = Σ bits[i]·((i mod 1024) +
/// 1), bits read as unsigned 16-bit integers, exact in 64 bits for up to 2^37 elements (so exact in torch's
/// int64 too).
struct FillChecksum {
  std::uint64_t sum0 = 0;
  std::uint64_t sum1 = 0;
};

/// The weight of element `index` in FillChecksum::sum1.
MLASIM_HD inline std::uint64_t checksum_weight(std::uint64_t index) {
  return (index & 1023u) + 1u;
}

/// Host checksum of elements [0, n) of a tensor filled with `seed` (tests; the bench sums on the device).
inline FillChecksum fill_checksum(std::uint64_t seed, std::uint64_t n) {
  FillChecksum c;
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t b = fill_bf16_bits(seed, i);
    c.sum0 += b;
    c.sum1 += b * checksum_weight(i);
  }
  return c;
}

}  // namespace mlasim::attention
