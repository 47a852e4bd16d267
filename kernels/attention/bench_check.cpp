// Checking a decode kernel at large points on sampled rows (bench_check.hpp).
#include "kernels/attention/bench_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/attention/bf16.hpp"

namespace mlasim::attention {

RowReference reference_row(const float* q, const float* k, long long k_stride, const float* v,
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

std::vector<SampledRow> sample_rows(int batch, int rows_per_seq, int seqs, int per_seq, std::uint64_t salt) {
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
  std::sort(out.begin(), out.end(), [](const SampledRow& a, const SampledRow& b) {
    return a.seq != b.seq ? a.seq < b.seq : a.row < b.row;
  });
  return out;
}

SampledCheckResult check_sampled_rows(const SampledCheckShape& sh, const PageTable& pages,
                                      const std::vector<SampledRow>& sample, const std::vector<float>& lse,
                                      const FetchPageFn& fetch_page, const FetchSeqFn& fetch_seq) {
  const int rows_per_seq = sh.s_q * sh.n_h;
  const int group = sh.n_h / sh.n_kv;
  const std::size_t page_elems =
      static_cast<std::size_t>(pages.page_tokens) * static_cast<std::size_t>(sh.n_kv);
  // A sequence's cache rows [tokens][n_kv][d] (whole pages, in token order).
  auto gather = [&](int cache, int b, int d) {
    const int n_pages = pages_for(pages.context_lens[static_cast<std::size_t>(b)], pages.page_tokens);
    std::vector<std::uint16_t> bits(static_cast<std::size_t>(n_pages) * page_elems *
                                    static_cast<std::size_t>(d));
    for (int pg = 0; pg < n_pages; ++pg) {
      const int phys =
          pages.block_table[static_cast<std::size_t>(b) * static_cast<std::size_t>(pages.max_pages_per_seq) +
                            static_cast<std::size_t>(pg)];
      fetch_page(cache, phys,
                 bits.data() + static_cast<std::size_t>(pg) * page_elems * static_cast<std::size_t>(d));
    }
    return bits;
  };
  // KV head g's rows [tokens][d] as floats.
  auto head_rows = [&](const std::vector<std::uint16_t>& bits, int g, int d) {
    const std::size_t row = static_cast<std::size_t>(sh.n_kv) * static_cast<std::size_t>(d);
    const std::size_t tokens = bits.size() / row;
    std::vector<float> f(tokens * static_cast<std::size_t>(d));
    for (std::size_t t = 0; t < tokens; ++t) {
      for (int i = 0; i < d; ++i) {
        f[t * static_cast<std::size_t>(d) + static_cast<std::size_t>(i)] =
            bf16_bits_to_float(bits[t * row + static_cast<std::size_t>(g) * static_cast<std::size_t>(d) +
                                    static_cast<std::size_t>(i)]);
      }
    }
    return f;
  };
  SampledCheckResult r;
  double diff2 = 0.0, ref2 = 0.0;
  std::size_t i = 0;
  while (i < sample.size()) {
    const int b = sample[i].seq;
    const int len = pages.context_lens[static_cast<std::size_t>(b)];
    const std::vector<std::uint16_t> k_bits = gather(0, b, sh.d_qk);
    const std::vector<std::uint16_t> v_bits = sh.v_in_k ? std::vector<std::uint16_t>() : gather(1, b, sh.d_v);
    std::vector<std::uint16_t> q_bits(static_cast<std::size_t>(rows_per_seq) *
                                      static_cast<std::size_t>(sh.d_qk));
    std::vector<std::uint16_t> o_bits(static_cast<std::size_t>(rows_per_seq) *
                                      static_cast<std::size_t>(sh.d_v));
    fetch_seq(b, q_bits.data(), o_bits.data());
    int cached_g = -1;
    std::vector<float> kf, vf;
    for (; i < sample.size() && sample[i].seq == b; ++i) {
      const int row = sample[i].row;  // s·n_h + h
      const int s_tok = row / sh.n_h, h = row % sh.n_h, g = h / group;
      if (g != cached_g) {
        kf = head_rows(k_bits, g, sh.d_qk);
        if (!sh.v_in_k) vf = head_rows(v_bits, g, sh.d_v);
        cached_g = g;
      }
      std::vector<float> q(static_cast<std::size_t>(sh.d_qk));
      for (int j = 0; j < sh.d_qk; ++j) {
        q[static_cast<std::size_t>(j)] =
            bf16_bits_to_float(q_bits[static_cast<std::size_t>(row) * static_cast<std::size_t>(sh.d_qk) +
                                      static_cast<std::size_t>(j)]);
      }
      const int visible = len - sh.s_q + s_tok + 1;
      const RowReference ref = sh.v_in_k ? reference_row(q.data(), kf.data(), sh.d_qk, kf.data(), sh.d_qk,
                                                         sh.d_qk, sh.d_v, visible, sh.softmax_scale)
                                         : reference_row(q.data(), kf.data(), sh.d_qk, vf.data(), sh.d_v,
                                                         sh.d_qk, sh.d_v, visible, sh.softmax_scale);
      for (int j = 0; j < sh.d_v; ++j) {
        const double o =
            bf16_bits_to_float(o_bits[static_cast<std::size_t>(row) * static_cast<std::size_t>(sh.d_v) +
                                      static_cast<std::size_t>(j)]);
        const double e = ref.out[static_cast<std::size_t>(j)];
        diff2 += (o - e) * (o - e);
        ref2 += e * e;
      }
      const double l = lse[(static_cast<std::size_t>(b) * static_cast<std::size_t>(sh.s_q) +
                            static_cast<std::size_t>(s_tok)) *
                               static_cast<std::size_t>(sh.n_h) +
                           static_cast<std::size_t>(h)];
      const double le = std::isfinite(l) ? std::abs(l - ref.lse) : std::numeric_limits<double>::infinity();
      r.lse_max_abs_error = std::max(r.lse_max_abs_error, le);
      ++r.rows;
    }
  }
  r.rel_l2_error =
      ref2 > 0.0 && std::isfinite(diff2) ? std::sqrt(diff2 / ref2) : std::numeric_limits<double>::infinity();
  return r;
}

}  // namespace mlasim::attention
