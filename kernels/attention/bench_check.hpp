#pragma once
// Checking a decode kernel at large points on sampled rows (plain C++17, no CUDA header; host-tested in
// tests/test_attention_bench_csv.cpp): the CPU reference of ONE query row costs O(L·d), so a batch of 128
// sequences of 32k tokens is checked on a deterministic sample of (sequence, query row) pairs against the
// same double-precision math as decode_reference.
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/attention/paging.hpp"

namespace mlasim::attention {

/// Output row and natural-log softmax denominator of one query row.
struct RowReference {
  std::vector<double> out;  ///< [d_v]
  double lse = 0.0;
};

/// The reference of one query row (decode_reference's math: double accumulation, two-pass softmax): `q`
/// [d_qk]; token t's key at k + t·k_stride [d_qk] and value at v + t·v_stride [d_v]; the row sees tokens
/// [0, visible). visible >= 1.
RowReference reference_row(const float* q, const float* k, long long k_stride, const float* v,
                           long long v_stride, int d_qk, int d_v, int visible, double softmax_scale);

/// One sampled (sequence, query row) pair; row = s·n_h + h as in the output layout [B][s_q][n_h][d_v].
struct SampledRow {
  int seq;
  int row;
  bool operator==(const SampledRow& o) const { return seq == o.seq && row == o.row; }
};

/// A deterministic sample of `per_seq` distinct query rows in each of `seqs` distinct sequences (fewer when
/// the batch or the rows are fewer): always the first and the last sequence, and in each sequence the last
/// row (the last head of the last new token, which sees the most tokens) plus rows drawn by a hash of `salt`.
/// Sorted by (seq, row).
std::vector<SampledRow> sample_rows(int batch, int rows_per_seq, int seqs, int per_seq, std::uint64_t salt);

/// The shape of a batch checked on sampled rows. Layouts as the kernels': q [B][s_q][n_h][d_qk], cache
/// [pages][page_tokens][n_kv][d_qk] (V likewise with d_v, or the first d_v of K when v_in_k), out
/// [B][s_q][n_h][d_v], lse [B][s_q][n_h].
struct SampledCheckShape {
  int batch = 0, s_q = 1, n_h = 0, n_kv = 1, d_qk = 0, d_v = 0;
  bool v_in_k = false;
  double softmax_scale = 1.0;
};

struct SampledCheckResult {
  double rel_l2_error = 0.0;       ///< over the sampled rows' outputs
  double lse_max_abs_error = 0.0;  ///< over the sampled rows; +inf when one is not finite
  long long rows = 0;
};

/// fetch_page(cache, phys_page, dst): see check_sampled_rows.
using FetchPageFn = std::function<void(int cache, int phys_page, std::uint16_t* dst)>;
/// fetch_seq(b, q_dst, out_dst): see check_sampled_rows.
using FetchSeqFn = std::function<void(int seq, std::uint16_t* q_dst, std::uint16_t* out_dst)>;

/// Compares the sampled rows of a decode output with reference_row, reading the inputs and outputs through
/// callbacks (the bench: cudaMemcpy from the device; tests: host arrays):
///   fetch_page(cache, phys_page, dst): bf16 bits of one page of the K (cache 0) or V (cache 1) cache,
///     page_tokens x n_kv x d elements;
///   fetch_seq(b, q_dst, out_dst): the bf16 bits of sequence b's query rows (s_q·n_h·d_qk) and output rows
///     (s_q·n_h·d_v).
/// `lse` is the whole lse output (fp32). `sample` must be sorted by sequence (sample_rows is).
SampledCheckResult check_sampled_rows(const SampledCheckShape& sh, const PageTable& pages,
                                      const std::vector<SampledRow>& sample, const std::vector<float>& lse,
                                      const FetchPageFn& fetch_page, const FetchSeqFn& fetch_seq);

}  // namespace mlasim::attention
