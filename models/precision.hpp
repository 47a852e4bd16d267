#pragma once
/// Element types of weights, KV cache and activations, and their sizes.
#include <string>
#include <string_view>
#include <vector>

namespace mlasim {

enum class Dtype { kFp32, kBf16, kFp16, kFp8, kInt8, kInt4 };

/// Bytes per element: fp32 4, bf16/fp16 2, fp8/int8 1, int4 0.5.
[[nodiscard]] double dtype_bytes(Dtype d);
[[nodiscard]] std::string_view to_string(Dtype d);
/// Parses "bf16", "fp8", ...; throws InputError listing the known names.
[[nodiscard]] Dtype parse_dtype(std::string_view text);
[[nodiscard]] std::vector<std::string> known_dtypes();

/// What each class of tensor is stored in. GEMMs run at the weight dtype's peak (fp8 weights use fp8 tensor
/// cores, as DeepSeek-V3 inference does); attention at the KV-cache dtype's peak.
struct Precision {
  Dtype weights = Dtype::kBf16;
  Dtype kv_cache = Dtype::kBf16;
  Dtype activations = Dtype::kBf16;
};

}  // namespace mlasim
