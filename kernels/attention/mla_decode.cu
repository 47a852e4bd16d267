// MLA decode, absorbed form: MQA over one 576-wide latent head (K = cached row, V = its first 512 values).
//
// One CTA = 8 warps = one block of 64 query rows (s_q·h_q rows of one sequence; all heads share the KV pass)
// x one run of the split-KV schedule (several (sequence, token range) segments, walked in order).
// KV tiles of 32 tokens stream through a 3-stage cp.async ring in shared memory (16-byte copies, zero fill
// past the end). Warp w owns query rows 16·(w/2)..+16 and, for Q·K^T, the tile's tokens 16·(w%2)..+16; for
// P·V, the output columns 256·(w%2)..+256 (128 fp32 accumulators per thread). The two warps of a row slab
// exchange row maxima and sums through shared memory and the bf16 probabilities P through a 64x32 tile.
// Tensor cores: mma.sync.m16n8k16 bf16 -> fp32, operands via ldmatrix (K plain, V transposed).
// Softmax in base 2 (scale·log2 e folded into the scores), as FlashAttention-2.
#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/device_utils.cuh"
#include "kernels/attention/kernel_layout.hpp"
#include "kernels/attention/mma_layout.hpp"
#include "kernels/common/cuda_check.cuh"

namespace mlasim::gpu {
namespace {

namespace lay = mlasim::attention::mma;

namespace L = mlasim::attention::layout::mla;
using L::kChunksPerRow;
using L::kDk;
using L::kDv;
using L::kRows;
using L::kSmemBytes;
using L::kStages;
using L::kStride;
using L::kThreads;
using L::kTile;
constexpr int kPageTokens = mlasim::attention::layout::kPageTokens;
static_assert(kRows == kMlaRowsPerCta,
              "kernel_layout.hpp and decode_kernels.cuh disagree on the rows per CTA");
static_assert(kPageTokens % kTile == 0, "a KV tile must not straddle a page");
static_assert(kTile * kChunksPerRow % kThreads == 0, "every thread issues the same number of KV copies");

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ void load_kv_tile(__nv_bfloat16* s_tile, const __nv_bfloat16* __restrict__ kv,
                                             const int* __restrict__ block_row, int t0, int t_end) {
  // A tile lies inside one page (segments start on page boundaries, tiles are 32-aligned).
  const int page = block_row[t0 / kPageTokens];
  const __nv_bfloat16* src_page = kv + (size_t(page) * kPageTokens + (t0 % kPageTokens)) * kDk;
#pragma unroll
  for (int j = 0; j < L::kKvCopiesPerThread; ++j) {
    const mlasim::attention::layout::Chunk c = L::chunk_of(static_cast<int>(threadIdx.x) + j * kThreads);
    const bool valid = t0 + c.row < t_end;
    const __nv_bfloat16* src = valid ? src_page + size_t(c.row) * kDk + c.chunk * 8 : kv;
    cp_async_16(smem_addr(s_tile + L::chunk_elem(c)), src, valid);
  }
}

__global__ void __launch_bounds__(kThreads, 1) mla_decode_kernel(const DecodeArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  auto* s_q = reinterpret_cast<__nv_bfloat16*>(smem);
  auto* s_kv = reinterpret_cast<__nv_bfloat16*>(smem + L::kOffKv);
  auto* s_p = reinterpret_cast<__nv_bfloat16*>(smem + L::kOffP);
  auto* s_max = reinterpret_cast<float*>(smem + L::kOffRed);  // [2][kRows]
  float* s_sum = s_max + 2 * kRows;                           // [2][kRows]

  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int slab = warp >> 1;  // 16-row slab of the 64-row block
  const int half = warp & 1;   // token half for Q·K^T, column half for P·V
  const int rows_per_seq = a.s_q * a.n_q_heads;
  const int row_base = static_cast<int>(blockIdx.x) * kRows;
  const bool active = row_base + slab * 16 < rows_per_seq;  // warp-uniform: padding slabs skip the math
  const float scale_log2 = a.softmax_scale * kLog2e;

  // This thread's two accumulator rows (c_frag rows g and g + 8) within the block, and their query token s.
  const int r_lo = slab * 16 + (lane >> 2);
  const int r_hi = r_lo + 8;
  const int seq_row_lo = row_base + r_lo;
  const int seq_row_hi = row_base + r_hi;

  const std::uint32_t q_frag_base = smem_addr(s_q + L::q_frag_elem(slab, lane));
  const std::uint32_t p_frag_base = smem_addr(s_p + L::p_frag_elem(slab, lane));

  const int seg_begin = a.schedule.part_segment_begin[blockIdx.y];
  const int seg_end = a.schedule.part_segment_begin[blockIdx.y + 1];
  for (int seg = seg_begin; seg < seg_end; ++seg) {
    const int b = a.schedule.seg_seq[seg];
    const int tb = a.schedule.seg_token_begin[seg];
    const int te = a.schedule.seg_token_end[seg];
    const int len = a.context_lens[b];
    const int first_seg = a.schedule.seq_segment_begin[b];
    const bool single = a.schedule.seq_segment_begin[b + 1] - first_seg == 1;
    const int n_tiles = (te - tb + kTile - 1) / kTile;
    const int* block_row = a.block_table + size_t(b) * a.max_pages_per_seq;
    // Causal limit among the s_q new tokens: row s·h_q + h sees tokens < len - s_q + s + 1.
    const int vis_lo = len - a.s_q + seq_row_lo / a.n_q_heads + 1;
    const int vis_hi = len - a.s_q + seq_row_hi / a.n_q_heads + 1;

    __syncthreads();  // the previous segment is done with every shared buffer
    {  // Q of this row block (zero rows past the end), in the first cp.async group together with tile 0.
      const __nv_bfloat16* q_seq = a.q + size_t(b) * rows_per_seq * kDk;
      for (int c = static_cast<int>(threadIdx.x); c < kRows * kChunksPerRow; c += kThreads) {
        const mlasim::attention::layout::Chunk ch = L::chunk_of(c);
        const bool valid = row_base + ch.row < rows_per_seq;
        const __nv_bfloat16* src = valid ? q_seq + size_t(row_base + ch.row) * kDk + ch.chunk * 8 : a.q;
        cp_async_16(smem_addr(s_q + L::chunk_elem(ch)), src, valid);
      }
    }
#pragma unroll
    for (int st = 0; st < kStages - 1; ++st) {
      if (st < n_tiles)
        load_kv_tile(s_kv + L::stage_elem(L::stage_of(st)), a.k, block_row, tb + st * kTile, te);
      cp_async_commit();
    }

    float o[32][4];
#pragma unroll
    for (int j = 0; j < 32; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.0f, l_hi = 0.0f;

    for (int it = 0; it < n_tiles; ++it) {
      cp_async_wait<kStages - 2>();
      __syncthreads();  // tile `it` visible to all; everyone is done with tile it-1's stage, P and reductions
      {
        const int nxt = L::prefetch_tile(it);
        if (nxt < n_tiles)
          load_kv_tile(s_kv + L::stage_elem(L::stage_of(nxt)), a.k, block_row, tb + nxt * kTile, te);
        cp_async_commit();
      }
      const __nv_bfloat16* s_tile = s_kv + L::stage_elem(L::stage_of(it));
      const int t0 = tb + it * kTile;

      float s[2][4];
      float alpha_lo = 1.0f, alpha_hi = 1.0f;
      if (active) {
        // S = Q·K^T for 16 rows x this warp's 16 tokens, over the 576-wide head.
#pragma unroll
        for (int j = 0; j < 2; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
        const std::uint32_t k_base = smem_addr(s_tile + L::k_frag_elem(half, lane));
#pragma unroll 6
        for (int ks = 0; ks < kDk / 16; ++ks) {
          std::uint32_t qa[4], kb[4];
          ldmatrix_x4(q_frag_base + ks * 32, qa);
          ldmatrix_x4(k_base + ks * 32, kb);
          mma_bf16_16816(s[0], qa, kb[0], kb[1]);
          mma_bf16_16816(s[1], qa, kb[2], kb[3]);
        }
        // Scale into base 2, mask invisible tokens, and publish the row maxima of this half.
        float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const lay::Coord c = lay::c_frag(lane, e);
            const int t = t0 + half * 16 + j * 8 + c.col;
            const bool hi = e >= 2;
            const bool visible = t < te && t < (hi ? vis_hi : vis_lo);
            s[j][e] = visible ? s[j][e] * scale_log2 : -INFINITY;
          }
          mx_lo = fmaxf(mx_lo, fmaxf(s[j][0], s[j][1]));
          mx_hi = fmaxf(mx_hi, fmaxf(s[j][2], s[j][3]));
        }
        mx_lo = quad_max(mx_lo);
        mx_hi = quad_max(mx_hi);
        if ((lane & 3) == 0) {
          s_max[half * kRows + r_lo] = mx_lo;
          s_max[half * kRows + r_hi] = mx_hi;
        }
      }
      __syncthreads();
      if (active) {
        const float new_lo = fmaxf(m_lo, fmaxf(s_max[r_lo], s_max[kRows + r_lo]));
        const float new_hi = fmaxf(m_hi, fmaxf(s_max[r_hi], s_max[kRows + r_hi]));
        const float base_lo = safe_max(new_lo);
        const float base_hi = safe_max(new_hi);
        alpha_lo = exp2f(m_lo - base_lo);
        alpha_hi = exp2f(m_hi - base_hi);
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
          const lay::Coord c = lay::c_frag(lane, 0);
          const int col = half * 16 + j * 8 + c.col;
          *reinterpret_cast<std::uint32_t*>(s_p + L::p_elem(r_lo, col)) = pack_bf16x2(s[j][0], s[j][1]);
          *reinterpret_cast<std::uint32_t*>(s_p + L::p_elem(r_hi, col)) = pack_bf16x2(s[j][2], s[j][3]);
        }
        sum_lo = quad_sum(sum_lo);
        sum_hi = quad_sum(sum_hi);
        if ((lane & 3) == 0) {
          s_sum[half * kRows + r_lo] = sum_lo;
          s_sum[half * kRows + r_hi] = sum_hi;
        }
#pragma unroll
        for (int j = 0; j < 32; ++j) {
          o[j][0] *= alpha_lo;
          o[j][1] *= alpha_lo;
          o[j][2] *= alpha_hi;
          o[j][3] *= alpha_hi;
        }
      }
      __syncthreads();
      if (active) {
        l_lo = l_lo * alpha_lo + s_sum[r_lo] + s_sum[kRows + r_lo];
        l_hi = l_hi * alpha_hi + s_sum[r_hi] + s_sum[kRows + r_hi];
        // O[16 rows x this warp's 256 columns] += P[16 x 32] · V[32 x 256].
#pragma unroll
        for (int ks = 0; ks < kTile / 16; ++ks) {
          std::uint32_t pa[4];
          ldmatrix_x4(p_frag_base + ks * 32, pa);
          const std::uint32_t v_base = smem_addr(s_tile + L::v_frag_elem(ks, half, lane));
#pragma unroll
          for (int np = 0; np < 16; ++np) {
            std::uint32_t vb[4];
            ldmatrix_x4_trans(v_base + np * 32, vb);
            mma_bf16_16816(o[2 * np], pa, vb[0], vb[1]);
            mma_bf16_16816(o[2 * np + 1], pa, vb[2], vb[3]);
          }
        }
      }
    }
    cp_async_wait<0>();  // no copy may still target shared memory when the next segment reuses it

    // Epilogue: normalise; one split writes bf16 output and lse, several write fp32 partials for the combine.
    if (active) {
      const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f;
      const float inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;
      const float lse_lo = l_lo > 0.0f ? (m_lo + log2f(l_lo)) * kLn2 : -INFINITY;
      const float lse_hi = l_hi > 0.0f ? (m_hi + log2f(l_hi)) * kLn2 : -INFINITY;
      const bool ok_lo = seq_row_lo < rows_per_seq;
      const bool ok_hi = seq_row_hi < rows_per_seq;
      const int col0 = half * (kDv / 2) + lay::c_frag(lane, 0).col;
      if (single) {
        __nv_bfloat16* out_lo = a.out + (size_t(b) * rows_per_seq + seq_row_lo) * kDv + col0;
        __nv_bfloat16* out_hi = a.out + (size_t(b) * rows_per_seq + seq_row_hi) * kDv + col0;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
          if (ok_lo)
            *reinterpret_cast<std::uint32_t*>(out_lo + j * 8) =
                pack_bf16x2(o[j][0] * inv_lo, o[j][1] * inv_lo);
          if (ok_hi)
            *reinterpret_cast<std::uint32_t*>(out_hi + j * 8) =
                pack_bf16x2(o[j][2] * inv_hi, o[j][3] * inv_hi);
        }
        if (half == 0 && (lane & 3) == 0) {
          if (ok_lo) a.lse[size_t(b) * rows_per_seq + seq_row_lo] = lse_lo;
          if (ok_hi) a.lse[size_t(b) * rows_per_seq + seq_row_hi] = lse_hi;
        }
      } else {
        float* po_lo = a.part_o + (size_t(seg) * rows_per_seq + seq_row_lo) * kDv + col0;
        float* po_hi = a.part_o + (size_t(seg) * rows_per_seq + seq_row_hi) * kDv + col0;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
          if (ok_lo)
            *reinterpret_cast<float2*>(po_lo + j * 8) = make_float2(o[j][0] * inv_lo, o[j][1] * inv_lo);
          if (ok_hi)
            *reinterpret_cast<float2*>(po_hi + j * 8) = make_float2(o[j][2] * inv_hi, o[j][3] * inv_hi);
        }
        if (half == 0 && (lane & 3) == 0) {
          if (ok_lo) a.part_lse[size_t(seg) * rows_per_seq + seq_row_lo] = lse_lo;
          if (ok_hi) a.part_lse[size_t(seg) * rows_per_seq + seq_row_hi] = lse_hi;
        }
      }
    }
  }
}

}  // namespace

LaunchInfo launch_mla_decode(const DecodeArgs& a, cudaStream_t stream) {
  static bool configured = false;
  if (!configured) {
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(mla_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(kSmemBytes)));
    configured = true;
  }
  LaunchInfo info;
  const int row_blocks = mla_row_blocks(a.s_q, a.n_q_heads);
  const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(a.schedule.num_parts));
  mla_decode_kernel<<<grid, kThreads, kSmemBytes, stream>>>(a);
  MLASIM_CUDA_CHECK_LAUNCH();
  info.attention_ctas = row_blocks * a.schedule.num_parts;
  info.combine_ctas = launch_combine(a, a.s_q * a.n_q_heads, kDv, stream);
  MLASIM_CUDA_CHECK_LAUNCH();
  return info;
}

}  // namespace mlasim::gpu
