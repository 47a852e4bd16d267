#pragma once
// The kernel variants mlasim_attention_bench checks and times: ONE LINE PER VARIANT in decode_variants()
// below (kernels/attention/README.md, "Adding a kernel variant"). Every grid point is timed for every variant
// that applies to it, is selected (--variants) and can run here; every variant is checked against the CPU
// reference before timing.
#include <cuda_runtime.h>

#include <vector>

#include "kernels/attention/bench_variants.hpp"
#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/kernel_layout.hpp"

// 1 when the build compiled the sm_90a kernels (wgmma/TMA, mla_decode_sm90a.cu) into the bench: the build
// passes -DMLASIM_ATTENTION_HAVE_SM90A=1 to bench_main.cu together with those sources.
#ifndef MLASIM_ATTENTION_HAVE_SM90A
#define MLASIM_ATTENTION_HAVE_SM90A 0
#endif
// A launcher that exists only in an sm_90a build: nullptr otherwise (the line stays; its variant is then
// known to --variants but "not compiled in").
#if MLASIM_ATTENTION_HAVE_SM90A
#define MLASIM_SM90A_LAUNCHER(fn) (fn)
#else
#define MLASIM_SM90A_LAUNCHER(fn) nullptr
#endif

namespace mlasim::gpu {

using DecodeLauncher = LaunchInfo (*)(const DecodeArgs&, cudaStream_t);
using DecodeVariant = attention::Variant<DecodeLauncher>;

/// Row blocks of the kernels, in the registry's (s_q, n_h, n_kv) form.
inline int mla_row_blocks_64(int s_q, int n_h, int /*n_kv*/) {
  return attention::layout::mla::row_blocks(s_q, n_h);
}
inline int mla_sm90a_row_blocks_3(int s_q, int n_h, int /*n_kv*/) {
  return mla_sm90a_row_blocks(s_q, n_h);
}
inline int gqa_row_blocks_16(int s_q, int n_h, int n_kv) {
  return attention::layout::gqa::row_blocks(s_q, n_h, n_kv);
}

/// The registry, in the order variants are checked and timed (the baselines first: the old kernel beside the
/// new ones in every table).
inline const std::vector<DecodeVariant>& decode_variants() {
  namespace lay = attention::layout;
  // clang-format off
  static const std::vector<DecodeVariant> table = {
    // id               family applies (shapes)              launcher                                         CTAs/SM                   row blocks         compiled in                     needs sm_90a
    {"mla-d576",        "mla", attention::any_mla_shape,  launch_mla_decode,                                lay::mla::kCtasPerSm,     mla_row_blocks_64, true,                           false},
    {"gqa-d128",        "gqa", attention::gqa_d128_shape, launch_gqa_decode,                                lay::gqa::ctas_per_sm(128), gqa_row_blocks_16, true,                         false},
    {"gqa-d64",         "gqa", attention::gqa_d64_shape,  launch_gqa_decode,                                lay::gqa::ctas_per_sm(64), gqa_row_blocks_16, true,                          false},
    {"gqa-d128-deep",   "gqa", attention::gqa_d128_shape, launch_gqa_decode_d128_deep,                      gqa_deep_ctas_per_sm(128), gqa_deep_row_blocks, true,                        false},
    {"gqa-d64-deep",    "gqa", attention::gqa_d64_shape,  launch_gqa_decode_d64_deep,                       gqa_deep_ctas_per_sm(64), gqa_deep_row_blocks, true,                         false},
    {"gqa-d64-wide",    "gqa", attention::gqa_d64_large_group_shape, launch_gqa_decode_d64_wide,            kGqaWideCtasPerSm,        gqa_wide_row_blocks, true,                         false},
    {"mla-d576-sm90a",  "mla", attention::any_mla_shape,  MLASIM_SM90A_LAUNCHER(launch_mla_decode_sm90a), kMlaSm90aCtasPerSm,       mla_sm90a_row_blocks_3, MLASIM_ATTENTION_HAVE_SM90A != 0, true},
  };
  // clang-format on
  return table;
}

}  // namespace mlasim::gpu
