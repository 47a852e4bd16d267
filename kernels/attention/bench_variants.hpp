#pragma once
// The kernel-variant registry of mlasim_attention_bench, in plain C++17 (no CUDA header): the entry type and
// the logic around it (which variants run at a grid point, their schedule options, whether the build and the
// device can run them, parsing --variants lists). The entry's launcher is a template parameter, so the bench
// instantiates it with its CUDA launchers (bench_registry.cuh holds the table) and host tests with a
// stand-in.
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/attention/schedule.hpp"

namespace mlasim::attention {

/// Whether a variant runs a shape: heads, KV heads, head dim of q·k (MLA: 576) and new tokens per sequence.
using VariantAppliesFn = bool (*)(int n_h, int n_kv, int d, int s_q);
/// CTAs that share one KV run at a shape (the scheduler's ScheduleOptions::row_blocks).
using VariantRowBlocksFn = int (*)(int s_q, int n_h, int n_kv);

/// One kernel variant: a registry line. `launch` is the CUDA launcher in the bench
/// (LaunchInfo (*)(const DecodeArgs&, cudaStream_t)), nullptr when the variant is not compiled in.
template <class Launcher>
struct Variant {
  const char* id;      ///< as --variants, check.csv and the timing CSVs spell it, e.g. "mla-d576-sm90a"
  const char* family;  ///< "mla" or "gqa": the grid points (GridPoint::kernel) it may run
  VariantAppliesFn applies;
  Launcher launch;
  int ctas_per_sm;  ///< resident CTAs per SM (the scheduler's ctas_per_sm)
  VariantRowBlocksFn row_blocks;
  bool compiled;     ///< the build compiled it (an sm_90a kernel only when the build targeted sm_90a)
  bool needs_sm90a;  ///< runs only on a compute capability 9.0 device (sm_90a code runs nowhere else)
};

// Shape predicates for registry lines.
inline bool any_mla_shape(int /*n_h*/, int /*n_kv*/, int d, int /*s_q*/) {
  return d == 576;
}
inline bool gqa_d128_shape(int /*n_h*/, int /*n_kv*/, int d, int /*s_q*/) {
  return d == 128;
}
inline bool gqa_d64_shape(int /*n_h*/, int /*n_kv*/, int d, int /*s_q*/) {
  return d == 64;
}
/// d = 64 with a query group of 32 heads or more (Falcon's 71 on one KV head): gqa-d64-wide's 128-row CTAs.
inline bool gqa_d64_large_group_shape(int n_h, int n_kv, int d, int /*s_q*/) {
  return d == 64 && n_kv > 0 && n_h / n_kv >= 32;
}

/// Whether `v` runs a point of kernel `kernel` ("mla" / "gqa") with this shape.
template <class L>
bool variant_runs(const Variant<L>& v, const std::string& kernel, int n_h, int n_kv, int d, int s_q) {
  return kernel == v.family && v.applies(n_h, n_kv, d, s_q);
}

/// Why `v` cannot run here ("" when it can): not compiled in, or sm_90a code on a device other than cc 9.0.
template <class L>
std::string variant_unavailable_reason(const Variant<L>& v, int cc_major, int cc_minor) {
  if (!v.compiled) return "not compiled in (the build did not target sm_90a)";
  if (v.needs_sm90a && !(cc_major == 9 && cc_minor == 0)) {
    return "needs sm_90a, the device is cc " + std::to_string(cc_major) + "." + std::to_string(cc_minor);
  }
  return "";
}

/// The scheduler's options for variant `v` at a shape, on `sms` SMs.
template <class L>
ScheduleOptions variant_schedule_options(const Variant<L>& v, int s_q, int n_h, int n_kv, int sms) {
  ScheduleOptions o;
  o.num_sms = sms;
  o.ctas_per_sm = v.ctas_per_sm;
  o.row_blocks = v.row_blocks(s_q, n_h, n_kv);
  return o;
}

/// The registry entry with this id, or nullptr.
template <class L>
const Variant<L>* find_variant(const std::vector<Variant<L>>& registry, const std::string& id) {
  for (const Variant<L>& v : registry) {
    if (id == v.id) return &v;
  }
  return nullptr;
}

/// The ids of the registry, comma-separated ("mla-d576, gqa-d128, ...") for messages.
template <class L>
std::string variant_ids_text(const std::vector<Variant<L>>& registry) {
  std::string out;
  for (const Variant<L>& v : registry) out += (out.empty() ? "" : ", ") + std::string(v.id);
  return out;
}

/// Parses a comma-separated list of variant ids (empty items ignored). Throws std::invalid_argument naming an
/// id the registry does not hold, with the known ones.
template <class L>
std::set<std::string> parse_variant_list(const std::string& text, const std::vector<Variant<L>>& registry) {
  std::set<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    if (find_variant(registry, item) == nullptr) {
      throw std::invalid_argument("unknown variant '" + item + "' (known: " + variant_ids_text(registry) +
                                  ")");
    }
    out.insert(item);
  }
  return out;
}

/// The variants that run a point, in registry order: of its kernel and shape, selected (`selected` empty:
/// all) and runnable here (`runnable` holds the ids that are compiled in and supported by the device).
template <class L>
std::vector<const Variant<L>*> variants_for_point(const std::vector<Variant<L>>& registry,
                                                  const std::string& kernel, int n_h, int n_kv, int d,
                                                  int s_q, const std::set<std::string>& selected,
                                                  const std::set<std::string>& runnable) {
  std::vector<const Variant<L>*> out;
  for (const Variant<L>& v : registry) {
    if (!variant_runs(v, kernel, n_h, n_kv, d, s_q)) continue;
    if (!selected.empty() && selected.count(v.id) == 0) continue;
    if (runnable.count(v.id) == 0) continue;
    out.push_back(&v);
  }
  return out;
}

}  // namespace mlasim::attention
