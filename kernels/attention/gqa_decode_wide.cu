// MQA / GQA decode for large query groups (variant gqa-d64-wide; Falcon-7B: 71 query heads on one KV head).
//
// gqa_decode.cu gives a CTA 16 query rows, so a group of 71 heads (142 rows at s_q 2) takes 5 (9) CTAs that
// each read the whole KV run again (from L2 when they run together, still 5-9x the HBM bytes through L2, and
// 5-9x the Q·K^T and P·V of a 16-row tile). Here one CTA = 8 warps = one KV head x 128 query rows x one part
// of the split-KV schedule: a 32-token tile is copied once into a CTA-wide 8-stage cp.async ring
// and every warp computes its own 16 rows against it, with its own online softmax (no cross-warp exchange: a
// warp owns its rows); one CTA barrier per tile. A warp whose 16 rows are all padding still copies and waits
// but skips the math. Epilogue: each warp writes its rows from its accumulators (bf16 output + lse for a
// sequence with one split, fp32 partials + lse otherwise, merged by combine.cu). Index functions:
// kernel_layout.hpp (gqa_wide), replayed by tests/test_attention_layout.cpp.
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
namespace W = mlasim::attention::layout::gqa_wide;
constexpr int kPageTokens = mlasim::attention::layout::kPageTokens;
static_assert(kPageTokens % W::kTile == 0, "a KV tile must not straddle a page");

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

/// The CTA copies K and V of tokens [t0, t0 + kTile) (inside one page) of one KV head into a ring stage; zero
/// fill at and past t_end.
template <int D>
__device__ __forceinline__ void load_tile_wide(__nv_bfloat16* s_k, __nv_bfloat16* s_v, const DecodeArgs& a,
                                               const int* __restrict__ block_row, int kv_head, int t0,
                                               int t_end) {
  using S = W::Smem<D>;
  static_assert(W::kTile * S::kChunks % W::kThreads == 0, "every thread issues the same number of copies");
  const int page = block_row[t0 / kPageTokens];
  const size_t slot0 = size_t(page) * kPageTokens + (t0 % kPageTokens);
#pragma unroll
  for (int j = 0; j < S::kCopiesPerThread; ++j) {
    const mlasim::attention::layout::Chunk c = S::chunk_of(static_cast<int>(threadIdx.x) + W::kThreads * j);
    const bool valid = t0 + c.row < t_end;
    const size_t off = ((slot0 + c.row) * a.n_kv_heads + kv_head) * D + c.chunk * 8;
    cp_async_16(smem_addr(s_k + S::chunk_elem(c)), valid ? a.k + off : a.k, valid);
    cp_async_16(smem_addr(s_v + S::chunk_elem(c)), valid ? a.v + off : a.v, valid);
  }
}

template <int D>
__global__ void __launch_bounds__(W::kThreads, W::kCtasPerSm) gqa_decode_wide_kernel(const DecodeArgs a) {
  static_assert(D == 64, "instantiated for head dim 64 (Falcon); d 128 needs its own shared-memory budget");
  using S = W::Smem<D>;
  constexpr int kStride = S::kStride;
  constexpr int kKSteps = D / 16;            // Q·K^T k-steps
  constexpr int kTokenTiles = W::kTile / 8;  // 8-token score tiles per KV tile
  constexpr int kPvSteps = W::kTile / 16;    // P·V k-steps
  extern __shared__ __align__(16) unsigned char smem[];
  auto* s_q = reinterpret_cast<__nv_bfloat16*>(smem);
  auto* s_ring = reinterpret_cast<__nv_bfloat16*>(smem + S::kOffRing);

  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int group = a.n_q_heads / a.n_kv_heads;
  const int rows_per_kv = a.s_q * group;
  const int blocks_per_head = (rows_per_kv + W::kRows - 1) / W::kRows;
  const int kv_head = static_cast<int>(blockIdx.x) / blocks_per_head;
  const int row_base = (static_cast<int>(blockIdx.x) % blocks_per_head) * W::kRows;
  const int rows_per_seq = a.s_q * a.n_q_heads;
  const float scale_log2 = a.softmax_scale * kLog2e;
  const bool active = row_base + warp * 16 < rows_per_kv;  // a warp with only padding rows skips the math

  // This thread's accumulator rows (within the CTA's block) and their query token s (for the causal limit).
  const int r_lo = warp * 16 + (lane >> 2);
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
    const int n_tiles = (te - tb + W::kTile - 1) / W::kTile;
    const int* block_row = a.block_table + size_t(b) * a.max_pages_per_seq;
    const int vis_lo = len - a.s_q + s_lo + 1;
    const int vis_hi = len - a.s_q + s_hi + 1;

    __syncthreads();  // every warp is done with the previous segment's Q and ring
    for (int c = static_cast<int>(threadIdx.x); c < W::kRows * (D / 8); c += W::kThreads) {
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
    for (int st = 0; st < W::kStages - 1; ++st) {
      if (st < n_tiles) {
        __nv_bfloat16* s_k = s_ring + S::k_stage_elem(W::stage_of<>(st));
        load_tile_wide<D>(s_k, s_k + W::kTile * kStride, a, block_row, kv_head, tb + st * W::kTile, te);
      }
      cp_async_commit();
    }
    cp_async_wait<W::kWaitForQ<>>();
    __syncthreads();  // every thread's Q copies have landed
    std::uint32_t qa[kKSteps][4];
    if (active) {
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks)
        ldmatrix_x4(smem_addr(s_q + S::q_frag_elem(warp, ks, lane)), qa[ks]);
    }

    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

    for (int it = 0; it < n_tiles; ++it) {
      cp_async_wait<W::kWaitInLoop<>>();
      __syncthreads();  // tile `it` visible to all; every warp is done with tile it - 1, whose stage is
                        // refilled
      {
        const int nxt = W::prefetch_tile<>(it);
        if (nxt < n_tiles) {
          __nv_bfloat16* s_k = s_ring + S::k_stage_elem(W::stage_of<>(nxt));
          load_tile_wide<D>(s_k, s_k + W::kTile * kStride, a, block_row, kv_head, tb + nxt * W::kTile, te);
        }
        cp_async_commit();
      }
      if (!active) continue;
      const __nv_bfloat16* s_k = s_ring + S::k_stage_elem(W::stage_of<>(it));
      const __nv_bfloat16* s_v = s_k + W::kTile * kStride;
      const int t0 = tb + it * W::kTile;

      // S = Q·K^T for the tile's 32 tokens: 4 independent 16x8 accumulators (token tiles), kKSteps each.
      float s[kTokenTiles][4];
#pragma unroll
      for (int j = 0; j < kTokenTiles; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
        for (int pair = 0; pair < kTokenTiles / 2; ++pair) {
          std::uint32_t kb[4];
          ldmatrix_x4(smem_addr(s_k + S::k_frag_elem(pair, lane) + ks * 16), kb);
          mma_bf16_16816(s[2 * pair], qa[ks], kb[0], kb[1]);
          mma_bf16_16816(s[2 * pair + 1], qa[ks], kb[2], kb[3]);
        }
      }
      float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
      for (int j = 0; j < kTokenTiles; ++j) {
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
      for (int j = 0; j < kTokenTiles; ++j) {
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
      // P·V: k-step kk covers tokens 16kk..16kk+15 = score tiles 2kk, 2kk+1 (their accumulators are P's A
      // fragment, as in gqa_decode.cu).
#pragma unroll
      for (int kk = 0; kk < kPvSteps; ++kk) {
        const std::uint32_t pa[4] = {
            pack_bf16x2(s[2 * kk][0], s[2 * kk][1]), pack_bf16x2(s[2 * kk][2], s[2 * kk][3]),
            pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
        const std::uint32_t v_base = smem_addr(s_v + S::v_frag_elem(kk, lane));
#pragma unroll
        for (int np = 0; np < D / 16; ++np) {
          std::uint32_t vb[4];
          ldmatrix_x4_trans(v_base + np * 32, vb);
          mma_bf16_16816(o[2 * np], pa, vb[0], vb[1]);
          mma_bf16_16816(o[2 * np + 1], pa, vb[2], vb[3]);
        }
      }
    }
    cp_async_wait<0>();
    if (!active) continue;
    l_lo = quad_sum(l_lo);
    l_hi = quad_sum(l_hi);

    // Epilogue straight from the accumulators: rows r_lo (elements 0, 1) and r_hi (2, 3) of this thread.
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int gr = row_base + (half == 0 ? r_lo : r_hi);
      if (gr >= rows_per_kv) continue;
      const float l = half == 0 ? l_lo : l_hi;
      const float m = half == 0 ? m_lo : m_hi;
      const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
      const float lse = l > 0.0f ? (safe_max(m) + log2f(l)) * kLn2 : -INFINITY;
      const int seq_row = (gr / group) * a.n_q_heads + kv_head * group + gr % group;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        const int col = j * 8 + lay::c_frag(lane, 0).col;
        const float v0 = o[j][2 * half] * inv_l;
        const float v1 = o[j][2 * half + 1] * inv_l;
        if (single) {
          *reinterpret_cast<__nv_bfloat162*>(a.out + (size_t(b) * rows_per_seq + seq_row) * D + col) =
              __floats2bfloat162_rn(v0, v1);
        } else {
          *reinterpret_cast<float2*>(a.part_o + (size_t(seg) * rows_per_seq + seq_row) * D + col) =
              make_float2(v0, v1);
        }
      }
      if ((lane & 3) == 0) {
        if (single) {
          a.lse[size_t(b) * rows_per_seq + seq_row] = lse;
        } else {
          a.part_lse[size_t(seg) * rows_per_seq + seq_row] = lse;
        }
      }
    }
  }
}

}  // namespace

LaunchInfo launch_gqa_decode_d64_wide(const DecodeArgs& a, cudaStream_t stream) {
  constexpr int D = 64;
  if (a.head_dim != D) {
    std::fprintf(stderr, "launch_gqa_decode_d64_wide: head_dim %d given, this variant is compiled for %d\n",
                 a.head_dim, D);
    std::exit(2);
  }
  static bool configured = false;
  if (!configured) {
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(gqa_decode_wide_kernel<D>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(W::Smem<D>::kBytes)));
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(gqa_decode_wide_kernel<D>,
                                           cudaFuncAttributePreferredSharedMemoryCarveout,
                                           static_cast<int>(cudaSharedmemCarveoutMaxShared)));
    configured = true;
  }
  LaunchInfo info;
  const int blocks = gqa_wide_row_blocks(a.s_q, a.n_q_heads, a.n_kv_heads);
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(a.schedule.num_parts));
  gqa_decode_wide_kernel<D><<<grid, W::kThreads, W::Smem<D>::kBytes, stream>>>(a);
  MLASIM_CUDA_CHECK_LAUNCH();
  info.attention_ctas = blocks * a.schedule.num_parts;
  info.combine_ctas = launch_combine(a, a.s_q * a.n_q_heads, D, stream);
  MLASIM_CUDA_CHECK_LAUNCH();
  return info;
}

}  // namespace mlasim::gpu
