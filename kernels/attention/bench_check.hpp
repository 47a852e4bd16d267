#pragma once
// Checking a decode kernel at large points on sampled rows (plain C++17, no CUDA header; host-tested in
// tests/test_attention_bench_csv.cpp): the CPU reference of ONE query row costs O(L·d), so a batch of 128
// sequences of 32k tokens is checked on a deterministic sample of (sequence, query row) pairs against the
// same double-precision math as decode_reference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace mlasim::attention {

/// Output row and natural-log softmax denominator of one query row.
struct RowReference {
  std::vector<double> out;  ///< [d_v]
  double lse = 0.0;
};

/// The reference of one query row (decode_reference's math: double accumulation, two-pass softmax): `q`
/// [d_qk]; token t's key at k + t·k_stride [d_qk] and value at v + t·v_stride [d_v]; the row sees tokens
/// [0, visible). visible >= 1.
inline RowReference reference_row(const float* q, const float* k, long long k_stride, const float* v,
                                  long long v_stride, int d_qk, int d_v, int visible, double softmax_scale) {
  std::vector<double> s(static_cast<std::size_t>(visible));
  double max_s = -std::numeric_limits<double>::infinity();
  for (int t = 0; t < visible; ++t) {
    const float* kt = k + static_cast<long long>(t) * k_stride;
    double dot = 0.0;
    for (int i = 0; i < d_qk; ++i) dot += static_cast<double>(q[i]) * static_cast<double>(kt[i]);
    s[static_cast<std::size_t>(t)] = dot * softmax_scale;
    max_s = std::max(max_s, s[static_cast<std::size_t>(t)]);
  }
  RowReference r;
  r.out.assign(static_cast<std::size_t>(d_v), 0.0);
  double sum = 0.0;
  for (int t = 0; t < visible; ++t) {
    const double p = std::exp(s[static_cast<std::size_t>(t)] - max_s);
    sum += p;
    const float* vt = v + static_cast<long long>(t) * v_stride;
    for (int i = 0; i < d_v; ++i) r.out[static_cast<std::size_t>(i)] += p * static_cast<double>(vt[i]);
  }
  for (double& o : r.out) o /= sum;
  r.lse = max_s + std::log(sum);
  return r;
}

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
inline std::vector<SampledRow> sample_rows(int batch, int rows_per_seq, int seqs, int per_seq,
                                           std::uint64_t salt) {
  auto draw = [&](std::uint64_t i) {
    std::uint64_t z = salt + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<int> chosen_seqs = {0};
  if (batch > 1) chosen_seqs.push_back(batch - 1);
  const int want_seqs = std::min(seqs, batch);
  for (std::uint64_t i = 0; static_cast<int>(chosen_seqs.size()) < want_seqs; ++i) {
    const int b = static_cast<int>(draw(i) % static_cast<std::uint64_t>(batch));
    if (std::find(chosen_seqs.begin(), chosen_seqs.end(), b) == chosen_seqs.end()) chosen_seqs.push_back(b);
  }
  std::vector<SampledRow> out;
  const int want_rows = std::min(per_seq, rows_per_seq);
  for (const int b : chosen_seqs) {
    std::vector<int> rows = {rows_per_seq - 1};
    for (std::uint64_t i = 0; static_cast<int>(rows.size()) < want_rows; ++i) {
      const int r = static_cast<int>(draw(1000003ull * static_cast<std::uint64_t>(b + 1) + i) %
                                     static_cast<std::uint64_t>(rows_per_seq));
      if (std::find(rows.begin(), rows.end(), r) == rows.end()) rows.push_back(r);
    }
    for (const int r : rows) out.push_back({b, r});
  }
  std::sort(out.begin(), out.end(),
            [](const SampledRow& a, const SampledRow& b) { return a.seq != b.seq ? a.seq < b.seq : a.row < b.row; });
  return out;
}

}  // namespace mlasim::attention
