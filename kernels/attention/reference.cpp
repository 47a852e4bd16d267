#include "kernels/attention/reference.hpp"

#include <algorithm>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "kernels/attention/bf16.hpp"

namespace mlasim::attention {

namespace {

constexpr double kLog2e = 1.4426950408889634074;
constexpr double kLn2 = 0.6931471805599453094;

std::size_t sz(long long v) {
  return static_cast<std::size_t>(v);
}

/// Uniform in [-1, 1), rounded to bf16; a draw that rounds to zero is redrawn so no input is ever zero.
float random_bf16(std::mt19937_64& rng) {
  for (;;) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
    const float v = round_to_bf16(static_cast<float>(2.0 * u - 1.0));
    if (v != 0.0f) return v;
  }
}

std::vector<float> random_vector(std::size_t n, std::mt19937_64& rng) {
  std::vector<float> v(n);
  for (auto& x : v) x = random_bf16(rng);
  return v;
}

/// Tokens of a sequence of length `len` that query token `s` (of s_q new ones) may attend to.
int visible_tokens(int len, int s_q, int s) {
  return len - s_q + s + 1;
}

}  // namespace

long long DecodeProblem::total_context() const {
  long long sum = 0;
  for (const int len : pages.context_lens) sum += len;
  return sum;
}

void validate_problem(const DecodeProblem& p) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("decode problem: " + what); };
  if (p.batch < 1 || p.batch != p.pages.batch) fail("batch must be >= 1 and match the page table");
  if (p.s_q < 1) fail("s_q must be >= 1");
  if (p.n_kv_heads < 1 || p.n_q_heads < p.n_kv_heads || p.n_q_heads % p.n_kv_heads != 0) {
    fail("n_kv_heads (" + std::to_string(p.n_kv_heads) + ") must divide n_q_heads (" +
         std::to_string(p.n_q_heads) + ")");
  }
  if (p.d_qk < 1 || p.d_v < 1 || (p.v_in_k && p.d_v > p.d_qk)) fail("bad head dims");
  for (const int len : p.pages.context_lens) {
    if (len < p.s_q) fail("every context must hold at least the s_q new tokens");
  }
  const std::size_t slots = sz(p.pages.num_pages) * sz(p.pages.page_tokens) * sz(p.n_kv_heads);
  if (p.q.size() != sz(p.batch) * sz(p.s_q) * sz(p.n_q_heads) * sz(p.d_qk)) fail("q has the wrong size");
  if (p.k.size() != slots * sz(p.d_qk)) fail("k has the wrong size");
  if (!p.v_in_k && p.v.size() != slots * sz(p.d_v)) fail("v has the wrong size");
}

DecodeProblem make_mla_problem(const std::vector<int>& context_lens, int s_q, int h_q, float softmax_scale,
                               std::uint64_t seed) {
  DecodeProblem p;
  p.batch = static_cast<int>(context_lens.size());
  p.s_q = s_q;
  p.n_q_heads = h_q;
  p.n_kv_heads = 1;
  p.d_qk = kMlaQkDim;
  p.d_v = kMlaVDim;
  p.v_in_k = true;
  p.softmax_scale = softmax_scale;
  p.pages = build_page_table(context_lens, kPageTokens, seed ^ 0x9e3779b97f4a7c15ull);
  std::mt19937_64 rng(seed);
  p.q = random_vector(sz(p.batch) * sz(s_q) * sz(h_q) * sz(p.d_qk), rng);
  p.k = random_vector(sz(p.pages.num_pages) * sz(kPageTokens) * sz(p.d_qk), rng);
  validate_problem(p);
  return p;
}

DecodeProblem make_gqa_problem(const std::vector<int>& context_lens, int s_q, int n_q_heads, int n_kv_heads,
                               int head_dim, float softmax_scale, std::uint64_t seed) {
  DecodeProblem p;
  p.batch = static_cast<int>(context_lens.size());
  p.s_q = s_q;
  p.n_q_heads = n_q_heads;
  p.n_kv_heads = n_kv_heads;
  p.d_qk = head_dim;
  p.d_v = head_dim;
  p.v_in_k = false;
  p.softmax_scale = softmax_scale;
  p.pages = build_page_table(context_lens, kPageTokens, seed ^ 0x9e3779b97f4a7c15ull);
  std::mt19937_64 rng(seed);
  p.q = random_vector(sz(p.batch) * sz(s_q) * sz(n_q_heads) * sz(head_dim), rng);
  const std::size_t kv = sz(p.pages.num_pages) * sz(kPageTokens) * sz(n_kv_heads) * sz(head_dim);
  p.k = random_vector(kv, rng);
  p.v = random_vector(kv, rng);
  validate_problem(p);
  return p;
}

std::size_t poison_unused_slots(DecodeProblem& p) {
  const std::size_t slots = sz(p.pages.num_pages) * sz(p.pages.page_tokens);
  std::vector<char> used(slots, 0);
  for (int b = 0; b < p.batch; ++b) {
    for (int t = 0; t < p.pages.context_lens[sz(b)]; ++t) used[p.pages.slot_of(b, t)] = 1;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::size_t k_row = sz(p.n_kv_heads) * sz(p.d_qk);
  const std::size_t v_row = sz(p.n_kv_heads) * sz(p.d_v);
  std::size_t poisoned = 0;
  for (std::size_t slot = 0; slot < slots; ++slot) {
    if (used[slot] != 0) continue;
    ++poisoned;
    std::fill_n(p.k.begin() + static_cast<std::ptrdiff_t>(slot * k_row), k_row, nan);
    if (!p.v_in_k) std::fill_n(p.v.begin() + static_cast<std::ptrdiff_t>(slot * v_row), v_row, nan);
  }
  return poisoned;
}

namespace {

/// Pointers into the problem's arrays for one (sequence, token, kv head).
struct KvView {
  const DecodeProblem& p;
  [[nodiscard]] const float* k(int seq, int token, int kv_head) const {
    return p.k.data() + (p.pages.slot_of(seq, token) * sz(p.n_kv_heads) + sz(kv_head)) * sz(p.d_qk);
  }
  [[nodiscard]] const float* v(int seq, int token, int kv_head) const {
    if (p.v_in_k) return k(seq, token, kv_head);
    return p.v.data() + (p.pages.slot_of(seq, token) * sz(p.n_kv_heads) + sz(kv_head)) * sz(p.d_v);
  }
  [[nodiscard]] const float* q(int seq, int s, int head) const {
    return p.q.data() + ((sz(seq) * sz(p.s_q) + sz(s)) * sz(p.n_q_heads) + sz(head)) * sz(p.d_qk);
  }
  [[nodiscard]] std::size_t row(int seq, int s, int head) const {
    return (sz(seq) * sz(p.s_q) + sz(s)) * sz(p.n_q_heads) + sz(head);
  }
};

}  // namespace

DecodeOutput<double> decode_reference(const DecodeProblem& p) {
  validate_problem(p);
  const KvView kv{p};
  DecodeOutput<double> r;
  r.out.assign(p.out_elements(), 0.0);
  r.lse.assign(sz(p.batch) * sz(p.s_q) * sz(p.n_q_heads), 0.0);
  std::vector<double> scores;
  for (int b = 0; b < p.batch; ++b) {
    const int len = p.pages.context_lens[sz(b)];
    for (int s = 0; s < p.s_q; ++s) {
      const int visible = visible_tokens(len, p.s_q, s);
      for (int h = 0; h < p.n_q_heads; ++h) {
        const int g = h / p.group_size();
        const float* q = kv.q(b, s, h);
        scores.assign(sz(visible), 0.0);
        double max_score = -std::numeric_limits<double>::infinity();
        for (int t = 0; t < visible; ++t) {
          const float* k = kv.k(b, t, g);
          double dot = 0.0;
          for (int i = 0; i < p.d_qk; ++i) dot += static_cast<double>(q[i]) * static_cast<double>(k[i]);
          scores[sz(t)] = dot * static_cast<double>(p.softmax_scale);
          max_score = std::max(max_score, scores[sz(t)]);
        }
        double sum = 0.0;
        for (auto& x : scores) {
          x = std::exp(x - max_score);
          sum += x;
        }
        double* out = r.out.data() + kv.row(b, s, h) * sz(p.d_v);
        for (int t = 0; t < visible; ++t) {
          const float* v = kv.v(b, t, g);
          const double w = scores[sz(t)] / sum;
          for (int i = 0; i < p.d_v; ++i) out[i] += w * static_cast<double>(v[i]);
        }
        r.lse[kv.row(b, s, h)] = max_score + std::log(sum);
      }
    }
  }
  return r;
}

namespace {

/// Online-softmax state of one query row in the kernels: running max m (log2 units, already scaled),
/// denominator l and unnormalised output o, all fp32.
struct RowState {
  float m = -std::numeric_limits<float>::infinity();
  float l = 0.0f;
  std::vector<float> o;
};

void merge_into(RowState& into, const RowState& from) {
  const float m = std::max(into.m, from.m);
  if (m == -std::numeric_limits<float>::infinity()) return;
  const float a = std::exp2(into.m - m);
  const float b = std::exp2(from.m - m);
  into.l = into.l * a + from.l * b;
  for (std::size_t i = 0; i < into.o.size(); ++i) into.o[i] = into.o[i] * a + from.o[i] * b;
  into.m = m;
}

}  // namespace

DecodeOutput<float> decode_emulated(const DecodeProblem& p, const SplitSchedule& schedule,
                                    const EmulationOptions& opt) {
  validate_problem(p);
  if (opt.tile_tokens < 1 || opt.interleave < 1 || opt.qk_chains < 1 || opt.qk_chains > 8)
    throw std::invalid_argument("emulation: bad options");
  const KvView kv{p};
  const float scale_log2 = static_cast<float>(static_cast<double>(p.softmax_scale) * kLog2e);
  const std::size_t rows = sz(p.batch) * sz(p.s_q) * sz(p.n_q_heads);
  DecodeOutput<float> r;
  r.out.assign(p.out_elements(), std::numeric_limits<float>::quiet_NaN());
  r.lse.assign(rows, std::numeric_limits<float>::quiet_NaN());
  // fp32 partials per (segment, row of the sequence), as the attention kernel writes them.
  const std::size_t rows_per_seq = sz(p.s_q) * sz(p.n_q_heads);
  std::vector<float> part_o(sz(schedule.num_segments) * rows_per_seq * sz(p.d_v), 0.0f);
  std::vector<float> part_lse(sz(schedule.num_segments) * rows_per_seq, 0.0f);
  std::vector<float> x(sz(opt.tile_tokens));
  std::vector<RowState> states(sz(opt.interleave));

  for (int seg = 0; seg < schedule.num_segments; ++seg) {
    const int b = schedule.seg_seq[sz(seg)];
    const int tb = schedule.seg_token_begin[sz(seg)];
    const int te = schedule.seg_token_end[sz(seg)];
    const int len = p.pages.context_lens[sz(b)];
    const int split = seg - schedule.seq_segment_begin[sz(b)];
    const bool single = schedule.splits_of(b) == 1;
    for (int s = 0; s < p.s_q; ++s) {
      const int visible = visible_tokens(len, p.s_q, s);
      for (int h = 0; h < p.n_q_heads; ++h) {
        const int g = h / p.group_size();
        const float* q = kv.q(b, s, h);
        for (auto& st : states) st = RowState{.o = std::vector<float>(sz(p.d_v), 0.0f)};
        int tile = 0;
        for (int t0 = tb; t0 < te; t0 += opt.tile_tokens, ++tile) {
          RowState& st = states[sz(tile % opt.interleave)];
          const int n = std::min(opt.tile_tokens, te - t0);
          float tile_max = -std::numeric_limits<float>::infinity();
          for (int j = 0; j < n; ++j) {
            const int t = t0 + j;
            if (t >= visible) {
              x[sz(j)] = -std::numeric_limits<float>::infinity();
              continue;
            }
            const float* k = kv.k(b, t, g);
            float chain[8] = {};
            for (int i = 0; i < p.d_qk; ++i) chain[(i / 16) % opt.qk_chains] += q[i] * k[i];
            float dot = chain[0];
            for (int c = 1; c < opt.qk_chains; ++c) dot += chain[c];
            x[sz(j)] = dot * scale_log2;
            tile_max = std::max(tile_max, x[sz(j)]);
          }
          const float m_new = std::max(st.m, tile_max);
          if (m_new == -std::numeric_limits<float>::infinity()) continue;  // nothing visible yet
          const float alpha = std::exp2(st.m - m_new);
          st.l *= alpha;
          for (auto& o : st.o) o *= alpha;
          for (int j = 0; j < n; ++j) {
            const float pj = std::exp2(x[sz(j)] - m_new);
            st.l += pj;
            const float pb = round_to_bf16(pj);  // the kernels feed bf16 probabilities to the P·V MMA
            if (pb == 0.0f) continue;
            const float* v = kv.v(b, t0 + j, g);
            for (int i = 0; i < p.d_v; ++i) st.o[sz(i)] += pb * v[i];
          }
          st.m = m_new;
        }
        for (std::size_t w = 1; w < states.size(); ++w) merge_into(states[0], states[w]);
        const RowState& st = states[0];
        const std::size_t row_in_seq = sz(s) * sz(p.n_q_heads) + sz(h);
        const float inv_l = st.l > 0.0f ? 1.0f / st.l : 0.0f;
        const float lse = st.l > 0.0f
                              ? static_cast<float>(
                                    (static_cast<double>(st.m) + std::log2(static_cast<double>(st.l))) * kLn2)
                              : -std::numeric_limits<float>::infinity();
        if (single) {
          float* out = r.out.data() + kv.row(b, s, h) * sz(p.d_v);
          for (int i = 0; i < p.d_v; ++i) out[i] = round_to_bf16(st.o[sz(i)] * inv_l);
          r.lse[kv.row(b, s, h)] = lse;
        } else {
          float* po = part_o.data() + (sz(seg) * rows_per_seq + row_in_seq) * sz(p.d_v);
          for (int i = 0; i < p.d_v; ++i) po[i] = st.o[sz(i)] * inv_l;
          part_lse[sz(seg) * rows_per_seq + row_in_seq] = lse;
        }
        (void)split;
      }
    }
  }
  // Combine kernel: one pass per (sequence with > 1 split, row).
  std::vector<float> lse_parts;
  std::vector<float> o_parts;
  std::vector<float> merged(sz(p.d_v));
  for (int b = 0; b < p.batch; ++b) {
    const int splits = schedule.splits_of(b);
    if (splits == 1) continue;
    const int first = schedule.seq_segment_begin[sz(b)];
    for (std::size_t row = 0; row < rows_per_seq; ++row) {
      lse_parts.clear();
      o_parts.clear();
      for (int sp = 0; sp < splits; ++sp) {
        const std::size_t idx = sz(first + sp) * rows_per_seq + row;
        lse_parts.push_back(part_lse[idx]);
        o_parts.insert(o_parts.end(), part_o.begin() + static_cast<std::ptrdiff_t>(idx * sz(p.d_v)),
                       part_o.begin() + static_cast<std::ptrdiff_t>((idx + 1) * sz(p.d_v)));
      }
      const float lse = combine_partials<float>(lse_parts, o_parts, p.d_v, merged);
      const std::size_t out_row = sz(b) * rows_per_seq + row;
      for (int i = 0; i < p.d_v; ++i) r.out[out_row * sz(p.d_v) + sz(i)] = round_to_bf16(merged[sz(i)]);
      r.lse[out_row] = lse;
    }
  }
  return r;
}

double relative_l2_error(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw std::invalid_argument("relative_l2_error: size mismatch");
  double num = 0.0;
  double den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double av = static_cast<double>(a[i]);
    if (!std::isfinite(av)) return std::numeric_limits<double>::infinity();
    num += (av - b[i]) * (av - b[i]);
    den += b[i] * b[i];
  }
  return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

// ---- MLA naive versus absorbed ----

namespace {

void check_mla(const MlaWeights& w, const MlaSequence& x) {
  const auto h = sz(w.heads);
  if (w.w_uk.size() != h * sz(w.d_n) * sz(w.d_c) || w.w_uv.size() != h * sz(w.d_v) * sz(w.d_c)) {
    throw std::invalid_argument("MLA weights have the wrong size");
  }
  if (x.length < x.s_q || x.q_nope.size() != sz(x.s_q) * h * sz(w.d_n) ||
      x.q_rope.size() != sz(x.s_q) * h * sz(w.d_r) || x.latent.size() != sz(x.length) * sz(w.d_c) ||
      x.k_rope.size() != sz(x.length) * sz(w.d_r)) {
    throw std::invalid_argument("MLA sequence has the wrong size");
  }
}

/// Softmax attention of one query over `visible` keys given scores; returns weights normalised.
std::vector<double> softmax(std::vector<double> scores) {
  double m = -std::numeric_limits<double>::infinity();
  for (const double s : scores) m = std::max(m, s);
  double sum = 0.0;
  for (auto& s : scores) {
    s = std::exp(s - m);
    sum += s;
  }
  for (auto& s : scores) s /= sum;
  return scores;
}

}  // namespace

std::vector<double> mla_naive(const MlaWeights& w, const MlaSequence& x, double softmax_scale) {
  check_mla(w, x);
  const auto L = sz(x.length);
  std::vector<double> out(sz(x.s_q) * sz(w.heads) * sz(w.d_v), 0.0);
  for (int h = 0; h < w.heads; ++h) {
    // Up-project the whole cache for this head: k_nope [L][d_n], v [L][d_v].
    std::vector<double> k_nope(L * sz(w.d_n), 0.0);
    std::vector<double> v(L * sz(w.d_v), 0.0);
    for (std::size_t t = 0; t < L; ++t) {
      const double* c = x.latent.data() + t * sz(w.d_c);
      for (int n = 0; n < w.d_n; ++n) {
        const double* row = w.w_uk.data() + (sz(h) * sz(w.d_n) + sz(n)) * sz(w.d_c);
        double acc = 0.0;
        for (int i = 0; i < w.d_c; ++i) acc += row[i] * c[i];
        k_nope[t * sz(w.d_n) + sz(n)] = acc;
      }
      for (int n = 0; n < w.d_v; ++n) {
        const double* row = w.w_uv.data() + (sz(h) * sz(w.d_v) + sz(n)) * sz(w.d_c);
        double acc = 0.0;
        for (int i = 0; i < w.d_c; ++i) acc += row[i] * c[i];
        v[t * sz(w.d_v) + sz(n)] = acc;
      }
    }
    for (int s = 0; s < x.s_q; ++s) {
      const double* qn = x.q_nope.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_n);
      const double* qr = x.q_rope.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_r);
      const int visible = visible_tokens(x.length, x.s_q, s);
      std::vector<double> scores(sz(visible), 0.0);
      for (int t = 0; t < visible; ++t) {
        double dot = 0.0;
        for (int n = 0; n < w.d_n; ++n) dot += qn[n] * k_nope[sz(t) * sz(w.d_n) + sz(n)];
        for (int n = 0; n < w.d_r; ++n) dot += qr[n] * x.k_rope[sz(t) * sz(w.d_r) + sz(n)];
        scores[sz(t)] = dot * softmax_scale;
      }
      const auto p = softmax(std::move(scores));
      double* o = out.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_v);
      for (int t = 0; t < visible; ++t) {
        for (int n = 0; n < w.d_v; ++n) o[n] += p[sz(t)] * v[sz(t) * sz(w.d_v) + sz(n)];
      }
    }
  }
  return out;
}

std::vector<double> mla_absorbed(const MlaWeights& w, const MlaSequence& x, double softmax_scale) {
  check_mla(w, x);
  std::vector<double> out(sz(x.s_q) * sz(w.heads) * sz(w.d_v), 0.0);
  const int d_k = w.d_c + w.d_r;
  for (int h = 0; h < w.heads; ++h) {
    for (int s = 0; s < x.s_q; ++s) {
      const double* qn = x.q_nope.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_n);
      const double* qr = x.q_rope.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_r);
      // Absorb W_UK into the query: q_abs = W_UK[h]^T q_nope (d_c wide), then append the rope part.
      std::vector<double> q(sz(d_k), 0.0);
      for (int n = 0; n < w.d_n; ++n) {
        const double* row = w.w_uk.data() + (sz(h) * sz(w.d_n) + sz(n)) * sz(w.d_c);
        for (int i = 0; i < w.d_c; ++i) q[sz(i)] += row[i] * qn[n];
      }
      for (int i = 0; i < w.d_r; ++i) q[sz(w.d_c + i)] = qr[i];
      const int visible = visible_tokens(x.length, x.s_q, s);
      std::vector<double> scores(sz(visible), 0.0);
      for (int t = 0; t < visible; ++t) {
        double dot = 0.0;
        for (int i = 0; i < w.d_c; ++i) dot += q[sz(i)] * x.latent[sz(t) * sz(w.d_c) + sz(i)];
        for (int i = 0; i < w.d_r; ++i) dot += q[sz(w.d_c + i)] * x.k_rope[sz(t) * sz(w.d_r) + sz(i)];
        scores[sz(t)] = dot * softmax_scale;
      }
      const auto p = softmax(std::move(scores));
      std::vector<double> latent_out(sz(w.d_c), 0.0);  // what the decode kernel returns (V = c)
      for (int t = 0; t < visible; ++t) {
        for (int i = 0; i < w.d_c; ++i) latent_out[sz(i)] += p[sz(t)] * x.latent[sz(t) * sz(w.d_c) + sz(i)];
      }
      double* o = out.data() + (sz(s) * sz(w.heads) + sz(h)) * sz(w.d_v);
      for (int n = 0; n < w.d_v; ++n) {
        const double* row = w.w_uv.data() + (sz(h) * sz(w.d_v) + sz(n)) * sz(w.d_c);
        double acc = 0.0;
        for (int i = 0; i < w.d_c; ++i) acc += row[i] * latent_out[sz(i)];
        o[n] = acc;
      }
    }
  }
  return out;
}

// ---- analytic work ----

double mla_flops(double s_q, double h_q, double sum_context) {
  return 2.0 * s_q * h_q * (kMlaQkDim + kMlaVDim) * sum_context;
}

double mla_bytes(double batch, double s_q, double h_q, double sum_context) {
  return 2.0 * (kMlaQkDim * sum_context + batch * s_q * h_q * (kMlaQkDim + kMlaVDim));
}

double gqa_flops(double s_q, double n_h, double d, double sum_context) {
  return 4.0 * n_h * d * s_q * sum_context;
}

double gqa_bytes(double batch, double s_q, double n_h, double n_kv, double d, double sum_context) {
  return 2.0 * (2.0 * n_kv * d * sum_context + 2.0 * batch * s_q * n_h * d);
}

}  // namespace mlasim::attention
