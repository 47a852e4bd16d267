// MHA / GQA / MQA decode over paged bf16 K and V, deep-prefetch variant (gqa-d128-deep, gqa-d64-deep).
//
// The CTA of gqa_decode.cu (4 warps = one KV head x 16 query rows of its group x one run of the split-KV
// schedule; 16-token tiles dealt round-robin to the warps; each warp its own cp.async ring and online
// softmax; the 4 warp states merged through shared memory at the end of a segment), changed where the H200's
// bandwidth needs it (kernels/attention/README.md, "GQA deep"):
//   - rings 3 (d 128) or 4 (d 64) stages deep: while a warp computes one tile, 2 or 3 more are in flight
//     (gqa_decode.cu: 1), 128 to 144 KiB per SM;
//   - Q·K^T over 4 independent accumulator chains (two token halves x k-step parity), summed before the
//     softmax, so the 8 (d 128) dependent MMAs of a chain become 4;
//   - the segment's Q copies are committed before the ring's prologue and only they are waited for, so the
//     first KV tiles are in flight while Q lands.
// Every index function comes from kernel_layout.hpp (gqa_deep::Config<D>), which
// tests/test_attention_layout.cpp replays on the CPU.
#include <cstdio>
#include <cstdlib>

#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/device_utils.cuh"
#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/mma_layout.hpp"
#include "kernels/common/cuda_check.cuh"

namespace mlasim::gpu {
namespace {

namespace lay = mlasim::attention::mma;
namespace G = mlasim::attention::layout::gqa_deep;
constexpr int kThreads = G::kThreads;
constexpr int kWarps = G::kWarps;
constexpr int kTile = G::kTile;
constexpr int kRows = G::kRows;
constexpr int kPageTokens = mlasim::attention::layout::kPageTokens;
static_assert(kRows == kGqaRowsPerCta,
              "kernel_layout.hpp and decode_kernels.cuh disagree on the rows per CTA");
static_assert(kPageTokens % kTile == 0, "a KV tile must not straddle a page");

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

/// One warp copies K and V of tokens [t0, t0 + kTile) of one KV head into its ring stage (zero fill at and
/// past t_end: padding tokens hold zeros, never stale data).
template <int D>
__device__ __forceinline__ void load_warp_tile_deep(__nv_bfloat16* s_k, __nv_bfloat16* s_v,
                                                    const DecodeArgs& a, const int* __restrict__ block_row,
                                                    int kv_head, int t0, int t_end, int lane) {
  using S = typename G::Config<D>::Smem;
  static_assert(kTile * S::kChunks % 32 == 0, "every lane issues the same number of copies");
  const int page = block_row[t0 / kPageTokens];
  const size_t slot0 = size_t(page) * kPageTokens + (t0 % kPageTokens);
#pragma unroll
  for (int j = 0; j < S::kCopiesPerLane; ++j) {
    const mlasim::attention::layout::Chunk c = S::chunk_of(lane + 32 * j);
    const bool valid = t0 + c.row < t_end;
    const size_t off = ((slot0 + c.row) * a.n_kv_heads + kv_head) * D + c.chunk * 8;
    cp_async_16(smem_addr(s_k + S::chunk_elem(c)), valid ? a.k + off : a.k, valid);
    cp_async_16(smem_addr(s_v + S::chunk_elem(c)), valid ? a.v + off : a.v, valid);
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads, G::Config<D>::kCtasPerSm)
    gqa_decode_deep_kernel(const DecodeArgs a) {
  using C = G::Config<D>;
  using S = typename C::Smem;
  constexpr int kStages = C::kStages;
  constexpr int kStride = S::kStride;
  constexpr int kKSteps = D / 16;
  constexpr int kChains = C::kQkChains;
  static_assert(kKSteps % kChains == 0, "each chain takes the same number of k-steps");
  extern __shared__ __align__(16) unsigned char smem[];
  auto* s_q = reinterpret_cast<__nv_bfloat16*>(smem);
  auto* s_ring = reinterpret_cast<__nv_bfloat16*>(smem + S::kOffRing);
  auto* s_merge = reinterpret_cast<float*>(smem + S::kOffRing);  // [warp][row][D], after the rings drained
  auto* s_m = reinterpret_cast<float*>(smem + S::kOffStats);
  float* s_l = s_m + kWarps * kRows;

  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int group = a.n_q_heads / a.n_kv_heads;
  const int rows_per_kv = a.s_q * group;
  const int blocks_per_head = (rows_per_kv + kRows - 1) / kRows;
  const int kv_head = static_cast<int>(blockIdx.x) / blocks_per_head;
  const int row_base = (static_cast<int>(blockIdx.x) % blocks_per_head) * kRows;
  const int rows_per_seq = a.s_q * a.n_q_heads;
  const float scale_log2 = a.softmax_scale * kLog2e;

  // Rows g and g + 8 of this thread's accumulators: their query token s (for the causal limit).
  const int r_lo = lane >> 2;
  const int r_hi = r_lo + 8;
  const int s_lo = (row_base + r_lo) / group;
  const int s_hi = (row_base + r_hi) / group;

  const int seg_begin = a.schedule.part_segment_begin[blockIdx.y];
  const int seg_end = a.schedule.part_segment_begin[blockIdx.y + 1];
  for (int seg = seg_begin; seg < seg_end; ++seg) {
    const int b = a.schedule.seg_seq[seg];
    const int tb = a.schedule.seg_token_begin[seg];
    const int te = a.schedule.seg_token_end[seg];
    const int len = a.context_lens[b];
    const bool single = a.schedule.seq_segment_begin[b + 1] - a.schedule.seq_segment_begin[b] == 1;
    const int n_tiles = (te - tb + kTile - 1) / kTile;
    const int my_tiles = G::warp_tiles(n_tiles, warp);
    const int* block_row = a.block_table + size_t(b) * a.max_pages_per_seq;
    const int vis_lo = len - a.s_q + s_lo + 1;
    const int vis_hi = len - a.s_q + s_hi + 1;

    __syncthreads();  // the previous segment's merge is done with shared memory (Q, rings, stats)
    // Q (one group), then the ring's prologue (kStages - 1 groups); only Q is waited for before the barrier.
    for (int c = static_cast<int>(threadIdx.x); c < kRows * (D / 8); c += kThreads) {
      const int r = c / (D / 8);
      const int chunk = c % (D / 8);
      const int gr = row_base + r;
      const bool valid = gr < rows_per_kv;
      const int s = valid ? gr / group : 0;
      const int h = kv_head * group + (valid ? gr % group : 0);
      const __nv_bfloat16* src = a.q + ((size_t(b) * a.s_q + s) * a.n_q_heads + h) * D + chunk * 8;
      cp_async_16(smem_addr(s_q + r * kStride + chunk * 8), valid ? src : a.q, valid);
    }
    cp_async_commit();
#pragma unroll
    for (int st = 0; st < kStages - 1; ++st) {
      if (st < my_tiles) {
        __nv_bfloat16* s_k = s_ring + S::k_stage_elem(warp, C::stage_of(st));
        load_warp_tile_deep<D>(s_k, s_k + kTile * kStride, a, block_row, kv_head,
                               tb + G::warp_tile(warp, st) * kTile, te, lane);
      }
      cp_async_commit();
    }
    cp_async_wait<C::kWaitForQ>();
    __syncthreads();  // every thread's Q copies have landed
    std::uint32_t qa[kKSteps][4];
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
      ldmatrix_x4(smem_addr(s_q + S::q_frag_elem(ks, lane)), qa[ks]);
    }

    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

    for (int it = 0; it < my_tiles; ++it) {
      cp_async_wait<C::kWaitInLoop>();
      __syncwarp();  // the whole warp sees tile `it`, and has finished with the stage refilled next
      {
        const int nxt = C::prefetch_tile(it);
        if (nxt < my_tiles) {
          __nv_bfloat16* s_k = s_ring + S::k_stage_elem(warp, C::stage_of(nxt));
          load_warp_tile_deep<D>(s_k, s_k + kTile * kStride, a, block_row, kv_head,
                                 tb + G::warp_tile(warp, nxt) * kTile, te, lane);
        }
        cp_async_commit();
      }
      const __nv_bfloat16* s_k = s_ring + S::k_stage_elem(warp, C::stage_of(it));
      const __nv_bfloat16* s_v = s_k + kTile * kStride;
      const int t0 = tb + G::warp_tile(warp, it) * kTile;

      // S = Q·K^T: chain c of token half j accumulates the k-steps ks with ks % kChains == c.
      float sc[kChains][2][4];
#pragma unroll
      for (int c = 0; c < kChains; ++c) {
#pragma unroll
        for (int j = 0; j < 2; ++j) sc[c][j][0] = sc[c][j][1] = sc[c][j][2] = sc[c][j][3] = 0.0f;
      }
      const std::uint32_t k_base = smem_addr(s_k + S::k_frag_elem(lane));
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        std::uint32_t kb[4];
        ldmatrix_x4(k_base + ks * 32, kb);
        mma_bf16_16816(sc[ks % kChains][0], qa[ks], kb[0], kb[1]);
        mma_bf16_16816(sc[ks % kChains][1], qa[ks], kb[2], kb[3]);
      }
      float s[2][4];
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float sum = sc[0][j][e];
#pragma unroll
          for (int c = 1; c < kChains; ++c) sum += sc[c][j][e];
          s[j][e] = sum;
        }
      }
      float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int t = t0 + j * 8 + lay::c_frag(lane, e).col;
          const bool visible = t < te && t < (e >= 2 ? vis_hi : vis_lo);
          s[j][e] = visible ? s[j][e] * scale_log2 : -INFINITY;
        }
        mx_lo = fmaxf(mx_lo, fmaxf(s[j][0], s[j][1]));
        mx_hi = fmaxf(mx_hi, fmaxf(s[j][2], s[j][3]));
      }
      const float new_lo = fmaxf(m_lo, quad_max(mx_lo));
      const float new_hi = fmaxf(m_hi, quad_max(mx_hi));
      const float base_lo = safe_max(new_lo);
      const float base_hi = safe_max(new_hi);
      const float alpha_lo = exp2f(m_lo - base_lo);
      const float alpha_hi = exp2f(m_hi - base_hi);
      m_lo = new_lo;
      m_hi = new_hi;
      float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        s[j][0] = exp2f(s[j][0] - base_lo);
        s[j][1] = exp2f(s[j][1] - base_lo);
        s[j][2] = exp2f(s[j][2] - base_hi);
        s[j][3] = exp2f(s[j][3] - base_hi);
        sum_lo += s[j][0] + s[j][1];
        sum_hi += s[j][2] + s[j][3];
      }
      l_lo = l_lo * alpha_lo + sum_lo;  // per-thread partial sums; the quad is reduced once, at the end
      l_hi = l_hi * alpha_hi + sum_hi;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        o[j][0] *= alpha_lo;
        o[j][1] *= alpha_lo;
        o[j][2] *= alpha_hi;
        o[j][3] *= alpha_hi;
      }
      // P (16 x 16 tokens) straight from the S accumulators: A register r <- tile r/2, elements 2(r%2), +1.
      const std::uint32_t pa[4] = {pack_bf16x2(s[0][0], s[0][1]), pack_bf16x2(s[0][2], s[0][3]),
                                   pack_bf16x2(s[1][0], s[1][1]), pack_bf16x2(s[1][2], s[1][3])};
      const std::uint32_t v_base = smem_addr(s_v + S::v_frag_elem(lane));
#pragma unroll
      for (int np = 0; np < D / 16; ++np) {
        std::uint32_t vb[4];
        ldmatrix_x4_trans(v_base + np * 32, vb);
        mma_bf16_16816(o[2 * np], pa, vb[0], vb[1]);
        mma_bf16_16816(o[2 * np + 1], pa, vb[2], vb[3]);
      }
    }
    cp_async_wait<0>();
    l_lo = quad_sum(l_lo);
    l_hi = quad_sum(l_hi);

    // Merge the 4 warp states: publish (m, l, unnormalised o), then each thread finishes some outputs.
    __syncthreads();  // every warp is done reading its ring, which s_merge overlays
    if ((lane & 3) == 0) {
      s_m[warp * kRows + r_lo] = m_lo;
      s_m[warp * kRows + r_hi] = m_hi;
      s_l[warp * kRows + r_lo] = l_lo;
      s_l[warp * kRows + r_hi] = l_hi;
    }
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      const int col = j * 8 + lay::c_frag(lane, 0).col;
      *reinterpret_cast<float2*>(s_merge + S::merge_elem(warp, r_lo, col)) = make_float2(o[j][0], o[j][1]);
      *reinterpret_cast<float2*>(s_merge + S::merge_elem(warp, r_hi, col)) = make_float2(o[j][2], o[j][3]);
    }
    __syncthreads();
    for (int idx = static_cast<int>(threadIdx.x); idx < kRows * D; idx += kThreads) {
      const int r = idx / D;
      const int col = idx % D;
      const int gr = row_base + r;
      if (gr >= rows_per_kv) continue;
      float m = -INFINITY;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) m = fmaxf(m, s_m[w * kRows + r]);
      const float base = safe_max(m);
      float l = 0.0f, acc = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) {
        const float f = exp2f(s_m[w * kRows + r] - base);
        l += s_l[w * kRows + r] * f;
        acc += s_merge[S::merge_elem(w, r, col)] * f;
      }
      const float value = l > 0.0f ? acc / l : 0.0f;
      const float lse = l > 0.0f ? (base + log2f(l)) * kLn2 : -INFINITY;
      const int seq_row = (gr / group) * a.n_q_heads + kv_head * group + gr % group;
      if (single) {
        a.out[(size_t(b) * rows_per_seq + seq_row) * D + col] = __float2bfloat16_rn(value);
        if (col == 0) a.lse[size_t(b) * rows_per_seq + seq_row] = lse;
      } else {
        a.part_o[(size_t(seg) * rows_per_seq + seq_row) * D + col] = value;
        if (col == 0) a.part_lse[size_t(seg) * rows_per_seq + seq_row] = lse;
      }
    }
  }
}

template <int D>
LaunchInfo launch_gqa_deep(const DecodeArgs& a, cudaStream_t stream) {
  using C = G::Config<D>;
  static bool configured = false;
  if (!configured) {
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(gqa_decode_deep_kernel<D>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(C::Smem::kBytes)));
    // kCtasPerSm CTAs fit only with (nearly) all of the unified L1/shared memory as shared memory (d 64: 3 x
    // 77,568 of 233,472 bytes); the copies bypass L1 (cp.async.cg), so the small L1 left costs nothing.
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(gqa_decode_deep_kernel<D>,
                                           cudaFuncAttributePreferredSharedMemoryCarveout,
                                           static_cast<int>(cudaSharedmemCarveoutMaxShared)));
    configured = true;
  }
  LaunchInfo info;
  const int blocks = gqa_deep_row_blocks(a.s_q, a.n_q_heads, a.n_kv_heads);
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(a.schedule.num_parts));
  gqa_decode_deep_kernel<D><<<grid, kThreads, C::Smem::kBytes, stream>>>(a);
  MLASIM_CUDA_CHECK_LAUNCH();
  info.attention_ctas = blocks * a.schedule.num_parts;
  info.combine_ctas = launch_combine(a, a.s_q * a.n_q_heads, D, stream);
  MLASIM_CUDA_CHECK_LAUNCH();
  return info;
}

void require_head_dim(const DecodeArgs& a, int d, const char* name) {
  if (a.head_dim == d) return;
  std::fprintf(stderr, "%s: head_dim %d given, this variant is compiled for %d\n", name, a.head_dim, d);
  std::exit(2);
}

}  // namespace

LaunchInfo launch_gqa_decode_d128_deep(const DecodeArgs& a, cudaStream_t stream) {
  require_head_dim(a, 128, "launch_gqa_decode_d128_deep");
  return launch_gqa_deep<128>(a, stream);
}

LaunchInfo launch_gqa_decode_d64_deep(const DecodeArgs& a, cudaStream_t stream) {
  require_head_dim(a, 64, "launch_gqa_decode_d64_deep");
  return launch_gqa_deep<64>(a, stream);
}

}  // namespace mlasim::gpu
