#include "models/precision.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <string>
#include <utility>

#include "sim/error.hpp"

namespace mlasim {

namespace {
constexpr std::array<std::pair<Dtype, std::string_view>, 6> kDtypes{{{Dtype::kFp32, "fp32"},
                                                                     {Dtype::kBf16, "bf16"},
                                                                     {Dtype::kFp16, "fp16"},
                                                                     {Dtype::kFp8, "fp8"},
                                                                     {Dtype::kInt8, "int8"},
                                                                     {Dtype::kInt4, "int4"}}};
}  // namespace

double dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::kFp32:
      return 4.0;
    case Dtype::kBf16:
    case Dtype::kFp16:
      return 2.0;
    case Dtype::kFp8:
    case Dtype::kInt8:
      return 1.0;
    case Dtype::kInt4:
      return 0.5;
  }
  return 2.0;
}

std::string_view to_string(Dtype d) {
  for (const auto& [dt, name] : kDtypes) {
    if (dt == d) return name;
  }
  return "?";
}

std::vector<std::string> known_dtypes() {
  std::vector<std::string> out;
  for (const auto& entry : kDtypes) out.emplace_back(entry.second);
  return out;
}

Dtype parse_dtype(std::string_view original) {
  // Case-insensitive: `BF16` and `FP8` (as Hugging Face and vendor tables write them) are bf16 and fp8.
  std::string lower(original);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string_view text = lower;
  for (const auto& [dt, name] : kDtypes) {
    if (name == text) return dt;
  }
  if (text == "bfloat16") return Dtype::kBf16;
  if (text == "float16" || text == "half") return Dtype::kFp16;
  if (text == "float32") return Dtype::kFp32;
  if (text == "fp8_e4m3" || text == "e4m3") return Dtype::kFp8;
  throw InputError(fmt::format("unknown dtype `{}`; known: {}", original, fmt::join(known_dtypes(), ", ")));
}

}  // namespace mlasim
