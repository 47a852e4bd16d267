#pragma once
// Host-side bfloat16 conversions (round to nearest, ties to even), written out so that the CPU references and
// tests need no CUDA header. The GPU kernels read the same 16-bit patterns as __nv_bfloat16. C++17: the GPU
// program (nvcc, C++17 in this project) includes it.
#include <cstdint>
#include <cstring>
#include <vector>

namespace mlasim::attention {

/// Rounds a float to the nearest bfloat16 (ties to even) and returns its 16 bits. NaN stays a (quiet) NaN.
inline std::uint16_t float_to_bf16_bits(float value) {
  std::uint32_t u = 0;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) {
    return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // keep NaN a NaN after truncation
  }
  const std::uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding_bias) >> 16);
}

/// The float whose upper 16 bits are `bits` (exact).
inline float bf16_bits_to_float(std::uint16_t bits) {
  const std::uint32_t u = static_cast<std::uint32_t>(bits) << 16;
  float f = 0.0f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// `value` rounded to bfloat16 precision, returned as a float.
inline float round_to_bf16(float value) {
  return bf16_bits_to_float(float_to_bf16_bits(value));
}

/// Converts floats (normally already bf16-exact) to bf16 bit patterns for upload.
inline std::vector<std::uint16_t> to_bf16_bits(const std::vector<float>& values) {
  std::vector<std::uint16_t> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = float_to_bf16_bits(values[i]);
  return out;
}

/// Converts downloaded bf16 bit patterns back to floats.
inline std::vector<float> from_bf16_bits(const std::vector<std::uint16_t>& bits) {
  std::vector<float> out(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) out[i] = bf16_bits_to_float(bits[i]);
  return out;
}

}  // namespace mlasim::attention
