#include "models/variant.hpp"

#include <fmt/format.h>

#include <charconv>

#include "sim/error.hpp"
#include "sim/suggest.hpp"

namespace mlasim {

std::string VariantSpec::to_string() const {
  switch (kind) {
    case Kind::kNative:
      return "native";
    case Kind::kMha:
      return "mha";
    case Kind::kGqa:
      return fmt::format("gqa:{}", n_kv_heads);
    case Kind::kMqa:
      return "mqa";
    case Kind::kMla:
      return fmt::format("mla:{}/{}", kv_lora_rank, rope_dim);
  }
  return "?";
}

std::vector<std::string> known_variant_forms() {
  return {"native", "mha", "gqa:N", "mqa", "mla:D_C/D_R"};
}

namespace {

int parse_positive(std::string_view text, std::string_view whole, std::string_view what) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || v <= 0) {
    throw InputError(fmt::format("variant `{}`: {} must be a positive integer, got `{}`", whole, what, text));
  }
  return v;
}

[[noreturn]] void unknown_variant(std::string_view text) {
  const std::string head(text.substr(0, text.find(':')));
  throw InputError(fmt::format("unknown attention variant `{}`{}; valid: {}", text,
                               did_you_mean(head, {"native", "mha", "gqa", "mqa", "mla"}),
                               fmt::join(known_variant_forms(), ", ")));
}

}  // namespace

VariantSpec parse_variant(std::string_view text) {
  VariantSpec v;
  if (text == "native") return v;
  if (text == "mha") {
    v.kind = VariantSpec::Kind::kMha;
    return v;
  }
  if (text == "mqa") {
    v.kind = VariantSpec::Kind::kMqa;
    return v;
  }
  if (text.substr(0, 4) == "gqa:") {
    v.kind = VariantSpec::Kind::kGqa;
    v.n_kv_heads = parse_positive(text.substr(4), text, "the number of KV heads");
    return v;
  }
  if (text.substr(0, 4) == "mla:") {
    const std::string_view rest = text.substr(4);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      throw InputError(fmt::format("variant `{}`: write MLA as mla:D_C/D_R, e.g. mla:512/64", text));
    }
    v.kind = VariantSpec::Kind::kMla;
    v.kv_lora_rank = parse_positive(rest.substr(0, slash), text, "the latent width D_C");
    v.rope_dim = parse_positive(rest.substr(slash + 1), text, "the rope width D_R");
    return v;
  }
  if (text == "gqa") throw InputError("variant `gqa` needs its number of KV heads: gqa:N, e.g. gqa:8");
  if (text == "mla") throw InputError("variant `mla` needs its widths: mla:D_C/D_R, e.g. mla:512/64");
  unknown_variant(text);
}

ModelSpec apply_variant(const ModelSpec& model, const VariantSpec& v) {
  if (v.kind == VariantSpec::Kind::kNative) return model;
  ModelSpec out = model;
  const AttentionSpec& a = model.attention;
  AttentionSpec& b = out.attention;
  // Per-head width for the MHA family: an MLA model's value head dim (DeepSeek-V2 sets d_c = 4·d_h).
  const int d_h = a.kind == AttentionKind::kMla ? a.v_head_dim : a.head_dim;
  switch (v.kind) {
    case VariantSpec::Kind::kMha:
    case VariantSpec::Kind::kGqa:
    case VariantSpec::Kind::kMqa: {
      b = AttentionSpec{};
      b.n_heads = a.n_heads;
      b.head_dim = d_h;
      if (v.kind == VariantSpec::Kind::kMha) {
        b.kind = AttentionKind::kMha;
        b.n_kv_heads = a.n_heads;
      } else if (v.kind == VariantSpec::Kind::kMqa) {
        b.kind = AttentionKind::kMqa;
        b.n_kv_heads = 1;
      } else {
        if (v.n_kv_heads > a.n_heads || a.n_heads % v.n_kv_heads != 0) {
          throw InputError(fmt::format("variant {}: n_kv_heads ({}) must divide n_heads ({}) of {}",
                                       v.to_string(), v.n_kv_heads, a.n_heads, model.name));
        }
        // gqa:N stays "gqa" even when N is n_heads or 1: the cost is the same as MHA / MQA (tested).
        b.kind = AttentionKind::kGqa;
        b.n_kv_heads = v.n_kv_heads;
      }
      break;
    }
    case VariantSpec::Kind::kMla: {
      const int q_lora = a.kind == AttentionKind::kMla ? a.q_lora_rank : 0;
      const int d_n = a.kind == AttentionKind::kMla ? a.qk_nope_head_dim : a.head_dim;
      const int d_v = a.kind == AttentionKind::kMla ? a.v_head_dim : a.head_dim;
      b = AttentionSpec{};
      b.kind = AttentionKind::kMla;
      b.n_heads = a.n_heads;
      b.n_kv_heads = 1;
      b.kv_lora_rank = v.kv_lora_rank;
      b.qk_rope_head_dim = v.rope_dim;
      b.qk_nope_head_dim = d_n;
      b.v_head_dim = d_v;
      b.q_lora_rank = q_lora;
      break;
    }
    case VariantSpec::Kind::kNative:
      break;
  }
  b.sliding_window = a.sliding_window;  // the variant changes the heads, not which tokens they attend to
  out.name = fmt::format("{} [{}]", model.name, v.to_string());
  return out;
}

}  // namespace mlasim
