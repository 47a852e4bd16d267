#pragma once
/// Attention what-if: evaluate a model with its attention replaced, everything else equal.
/// Syntax (CLI `--variant` and YAML `variant:`): native | mha | gqa:N | mqa | mla:D_C/D_R.
#include <string>
#include <string_view>
#include <vector>

#include "models/model_spec.hpp"

namespace mlasim {

/// A parsed variant request.
struct VariantSpec {
  enum class Kind { kNative, kMha, kGqa, kMqa, kMla };
  Kind kind = Kind::kNative;
  int n_kv_heads = 0;    ///< gqa:N
  int kv_lora_rank = 0;  ///< mla:D_C/D_R
  int rope_dim = 0;
  /// Canonical text: "native", "mha", "gqa:8", "mqa", "mla:512/64".
  [[nodiscard]] std::string to_string() const;
};

/// The accepted variant names, for error messages.
[[nodiscard]] std::vector<std::string> known_variant_forms();

/// Parses a variant. Throws InputError (no location; callers add it) listing the valid forms, with a
/// "did you mean" for near misses.
[[nodiscard]] VariantSpec parse_variant(std::string_view text);

/// Returns `model` with its attention replaced. Conversions keep the per-head width: MLA -> MHA family uses
/// d_h = v_head_dim (DeepSeek-V2 sets d_c = 4·d_h); MHA family -> MLA uses d_n = d_v = d_h and no q_lora
/// unless the model already had one. Throws InputError when the result is impossible (gqa:N with N not
/// dividing n_heads). The model name gets the variant appended: "Llama-3-70B [mla:512/64]".
[[nodiscard]] ModelSpec apply_variant(const ModelSpec& model, const VariantSpec& variant);

}  // namespace mlasim
