// MLA decode for sm_90a (Hopper): warpgroup MMA (wgmma) with every operand read by the tensor cores from
// swizzled shared memory, K/V tiles and Q brought in by the tensor memory accelerator (TMA) through the block
// table, mbarriers between a producer warpgroup and two consumer warpgroups. Same semantics, layouts,
// split-KV schedule and combine as mla_decode.cu (the portable sm_80+ kernel); see
// kernels/attention/README.md.
//
// CTA = 3 warpgroups (384 threads) = one block of 64 query rows (s·h_q + h of one sequence) x one schedule
// part (its segments walked in order). Warpgroup 0 is the producer: after setmaxnreg.dec one thread issues,
// per 64-token tile (= one page), 9 TMA boxes of 64 rows x 64 columns (128-byte swizzle) into a 2-stage ring,
// and per segment 9 boxes of Q. Warpgroups 1 and 2 are consumers (setmaxnreg.inc): consumer c computes
// S[64 rows][tokens 32c..32c+31] = Q·K^T (36 wgmma m64n32k16, A = Q and B = K from shared-memory
// descriptors), the two exchange row maxima through shared memory (base-2 online softmax with scale·log2 e
// folded in), each writes its half of P (bf16, 64 x 64, swizzled: the K-major A layout) to shared memory, and
// consumer c accumulates O[64][256c..256c+255] += P·V (4 wgmma m64n256k16, B = V read transposed from the
// same tile). Tokens past the segment are masked (S = -inf) and, in a sequence's last tile, their V rows are
// zeroed (the cache there may hold NaN, and 0·NaN = NaN). Every address, descriptor, TMA coordinate and
// mbarrier parity comes from hopper_layout.hpp, which tests/test_attention_hopper_layout.cpp replays on the
// host.
#include <cuda.h>
#include <cudaTypedefs.h>

#include <stdexcept>
#include <string>

#include "kernels/attention/decode_kernels.cuh"
#include "kernels/attention/device_utils.cuh"
#include "kernels/attention/hopper_layout.hpp"
#include "kernels/common/cuda_check.cuh"

// Device code exists only in the sm_90a pass (wgmma and setmaxnreg need the arch-specific target); CMake and
// scripts/gpu_build_nvcc.sh compile this file for sm_90a alone and define MLASIM_HAVE_SM90A, or, when nvcc
// cannot, for sm_90 with an empty kernel that mla_decode_sm90a_supported() reports as unavailable.
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MLASIM_SM90A_DEVICE 1
#else
#define MLASIM_SM90A_DEVICE 0
#endif

namespace mlasim::gpu {
namespace {

namespace H = mlasim::attention::hopper;
static_assert(H::kRows == kMlaRowsPerCta,
              "hopper_layout.hpp and decode_kernels.cuh disagree on rows per CTA");
static_assert(H::kTile == attention::layout::kPageTokens, "a KV tile is one page");
static_assert(kMlaSm90aRowsPerCta == kMlaRowsPerCta && kMlaSm90aCtasPerSm == kMlaCtasPerSm,
              "the README promises one split-KV schedule for both MLA kernels");

#if MLASIM_SM90A_DEVICE
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ void mbar_init(std::uint32_t bar, std::uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect_tx(std::uint32_t bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.release.cta.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
  asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/// Spins until the phase of parity `parity` of the barrier has completed.
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, int parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void tma_load_2d(std::uint32_t dst, const CUtensorMap* map, std::uint32_t bar,
                                            int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, "
      "%3}], "
      "[%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_load_3d(std::uint32_t dst, const CUtensorMap* map, std::uint32_t bar,
                                            int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, "
      "%4}], [%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
/// Orders this thread's ordinary shared-memory writes before later async-proxy (wgmma, TMA) accesses.
__device__ __forceinline__ void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
/// Barrier among the 256 consumer threads (id 0 is __syncthreads').
__device__ __forceinline__ void consumer_barrier(int id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(128 * H::kConsumers) : "memory");
}
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_wait_all() {
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
/// Keeps the compiler from moving accesses of an accumulator across the wgmma issue / wait.
__device__ __forceinline__ void fence_operand(float& r) {
  asm volatile("" : "+f"(r)::"memory");
}

/// S[64][32] (+)= A·B, A (64x16) and B (16x32, K-major) from descriptors; scale_d = 0 overwrites D.
__device__ __forceinline__ void wgmma_s(float (&d)[16], std::uint64_t desc_a, std::uint64_t desc_b,
                                        int scale_d) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %18, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}
/// O[64][256] += A·B, A = P (64x16, K-major) and B = V (16x256, MN-major: imm-trans-b = 1) from descriptors.
__device__ __forceinline__ void wgmma_pv(float (&d)[128], std::uint64_t desc_a, std::uint64_t desc_b) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
      "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
      "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
      "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
      "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
      "%128, %129, p, 1, 1, 0, 1;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]),
        "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
        "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]),
        "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]),
        "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]),
        "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]),
        "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]),
        "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]),
        "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]),
        "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]),
        "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]),
        "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]),
        "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]),
        "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]),
        "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "n"(1));  // scale-d = 1: accumulate
}
#endif  // MLASIM_SM90A_DEVICE

__global__ void __launch_bounds__(H::kThreads, 1)
    mla_decode_sm90a_kernel(const __grid_constant__ CUtensorMap tm_q,
                            const __grid_constant__ CUtensorMap tm_kv, const DecodeArgs a) {
#if MLASIM_SM90A_DEVICE
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const std::uint32_t raw = smem_addr(smem_raw);
  const std::uint32_t base = (raw + H::kAlign - 1) & ~(H::kAlign - 1);
  unsigned char* const smem = smem_raw + (base - raw);
  auto bar = [&](int i) { return base + H::kOffBar + 8u * static_cast<std::uint32_t>(i); };

  const int wg = static_cast<int>(threadIdx.x) / 128;
  const int t = static_cast<int>(threadIdx.x) % 128;  // thread within its warpgroup
  if (threadIdx.x == 0) {
    for (int s = 0; s < H::kStages; ++s) {
      mbar_init(bar(H::bar_full(s)), H::kFullArrivals);
      mbar_init(bar(H::bar_empty(s)), H::kEmptyArrivals);
    }
    mbar_init(bar(H::kBarQFull), H::kFullArrivals);
    mbar_init(bar(H::kBarQEmpty), H::kEmptyArrivals);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  const int seg_begin = a.schedule.part_segment_begin[blockIdx.y];
  const int seg_end = a.schedule.part_segment_begin[blockIdx.y + 1];
  const int row_base = static_cast<int>(blockIdx.x) * H::kRows;

  if (wg == 0) {
    // ---- producer: one thread issues every TMA copy ----
    setmaxnreg_dec<H::kProducerRegs>();
    if (t != 0) return;
    int it = 0;  // KV tiles issued over the whole run
    for (int seg = seg_begin; seg < seg_end; ++seg) {
      const int si = seg - seg_begin;
      const int b = a.schedule.seg_seq[seg];
      const int tb = a.schedule.seg_token_begin[seg];
      const int n_tiles = (a.schedule.seg_token_end[seg] - tb + H::kTile - 1) / H::kTile;
      const int* block_row = a.block_table + static_cast<size_t>(b) * a.max_pages_per_seq;
      for (int op = 0; op <= n_tiles; ++op) {
        const int tile = H::producer_op_tile(op);
        if (tile < 0) {
          if (si > 0) mbar_wait(bar(H::kBarQEmpty), H::q_empty_parity(si));
          mbar_arrive_expect_tx(bar(H::kBarQFull), H::kTxQ);
#pragma unroll
          for (int box = 0; box < H::kBoxesK; ++box) {
            const H::Coord3 c = H::q_tma_coord(b, row_base, box);
            tma_load_3d(base + H::q_box(box), &tm_q, bar(H::kBarQFull), c.c0, c.c1, c.c2);
          }
        } else {
          const int stage = H::stage_of(it);
          if (H::producer_waits_empty(it)) mbar_wait(bar(H::bar_empty(stage)), H::empty_parity(it));
          mbar_arrive_expect_tx(bar(H::bar_full(stage)), H::kTxKv);
          // Segments start on page boundaries and a tile is one page.
          const int page = block_row[tb / H::kTile + tile];
#pragma unroll
          for (int box = 0; box < H::kBoxesK; ++box) {
            const H::Coord2 c = H::kv_tma_coord(page, box);
            tma_load_2d(base + H::kv_box(stage, box), &tm_kv, bar(H::bar_full(stage)), c.c0, c.c1);
          }
          ++it;
        }
      }
    }
    return;
  }

  // ---- consumers ----
  setmaxnreg_inc<H::kConsumerRegs>();
  const int c = wg - 1;  // consumer index: S tokens 32c.., O columns 256c..
  const int lane = t & 31;
  float* const s_max = reinterpret_cast<float*>(smem + H::kOffMax);  // [kConsumers][kRows]
  float* const s_sum = reinterpret_cast<float*>(smem + H::kOffSum);
  const int rows_per_seq = a.s_q * a.n_q_heads;
  const float scale_log2 = a.softmax_scale * kLog2e;
  // This thread's two accumulator rows (registers i with (i >> 1) & 1 = 0, resp. 1).
  const int r_lo = H::acc_coord(t, 0).row;
  const int r_hi = H::acc_coord(t, 2).row;
  const int seq_row_lo = row_base + r_lo;
  const int seq_row_hi = row_base + r_hi;

  int it = 0;  // KV tiles consumed over the whole run (the producer's count)
  for (int seg = seg_begin; seg < seg_end; ++seg) {
    const int si = seg - seg_begin;
    const int b = a.schedule.seg_seq[seg];
    const int tb = a.schedule.seg_token_begin[seg];
    const int te = a.schedule.seg_token_end[seg];
    const int len = a.context_lens[b];
    const bool single = a.schedule.seq_segment_begin[b + 1] - a.schedule.seq_segment_begin[b] == 1;
    const int n_tiles = (te - tb + H::kTile - 1) / H::kTile;
    const int vis_lo = H::visible_end(len, a.s_q, a.n_q_heads, seq_row_lo);
    const int vis_hi = H::visible_end(len, a.s_q, a.n_q_heads, seq_row_hi);

    float o[128];
#pragma unroll
    for (int i = 0; i < 128; ++i) o[i] = 0.0f;
    float m_lo = -INFINITY, m_hi = -INFINITY;
    float l_lo = 0.0f, l_hi = 0.0f;  // this thread's share of the row sums (its 8 columns per tile)

    mbar_wait(bar(H::kBarQFull), H::q_full_parity(si));
    for (int tile = 0; tile < n_tiles; ++tile, ++it) {
      const int stage = H::stage_of(it);
      const int t0 = tb + tile * H::kTile;
      mbar_wait(bar(H::bar_full(stage)), H::full_parity(it));

      // S = Q·K^T for the 64 rows x this consumer's 32 tokens, 36 k-steps.
      float s[16];
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        s[i] = 0.0f;
        fence_operand(s[i]);  // keeps these writes before wgmma.fence (else ptxas injects one, C7519)
      }
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < H::kStepsS; ++ks) {
        wgmma_s(s, H::make_desc(base + H::q_desc_start(ks), H::kLboKMajor, H::kSboKMajor),
                H::make_desc(base + H::k_desc_start(stage, c, ks), H::kLboKMajor, H::kSboKMajor), ks > 0);
      }
      wgmma_commit();
      wgmma_wait_all();
#pragma unroll
      for (int i = 0; i < 16; ++i) fence_operand(s[i]);
      if (tile == n_tiles - 1) {  // Q is no longer read in this segment: the producer may load the next one
        __syncwarp();
        if (lane == 0) mbar_arrive(bar(H::kBarQEmpty));
      }

      // Scale into base 2, mask, and publish this consumer's row maxima.
      float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const int tok = t0 + c * H::kTokensPerConsumer + H::acc_coord(t, i).col;
        const bool hi = ((i >> 1) & 1) != 0;
        const bool visible = tok < te && tok < (hi ? vis_hi : vis_lo);
        s[i] = visible ? s[i] * scale_log2 : -INFINITY;
        if (hi)
          mx_hi = fmaxf(mx_hi, s[i]);
        else
          mx_lo = fmaxf(mx_lo, s[i]);
      }
      mx_lo = quad_max(mx_lo);
      mx_hi = quad_max(mx_hi);
      if ((lane & 3) == 0) {
        s_max[c * H::kRows + r_lo] = mx_lo;
        s_max[c * H::kRows + r_hi] = mx_hi;
      }
      consumer_barrier(1);  // both halves' maxima published; both consumers' S reads of this stage are done

      const float new_lo = fmaxf(m_lo, fmaxf(s_max[r_lo], s_max[H::kRows + r_lo]));
      const float new_hi = fmaxf(m_hi, fmaxf(s_max[r_hi], s_max[H::kRows + r_hi]));
      const float base_lo = safe_max(new_lo);
      const float base_hi = safe_max(new_hi);
      const float alpha_lo = exp2f(m_lo - base_lo);
      const float alpha_hi = exp2f(m_hi - base_hi);
      m_lo = new_lo;
      m_hi = new_hi;
      float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
      for (int i = 0; i < 16; i += 2) {
        const bool hi = ((i >> 1) & 1) != 0;
        const float bse = hi ? base_hi : base_lo;
        s[i] = exp2f(s[i] - bse);
        s[i + 1] = exp2f(s[i + 1] - bse);
        if (hi)
          sum_hi += s[i] + s[i + 1];
        else
          sum_lo += s[i] + s[i + 1];
        const mlasim::attention::mma::Coord pc = H::acc_coord(t, i);
        *reinterpret_cast<std::uint32_t*>(smem + H::p_elem(pc.row, c * H::kTokensPerConsumer + pc.col)) =
            pack_bf16x2(s[i], s[i + 1]);
      }
      l_lo = l_lo * alpha_lo + sum_lo;
      l_hi = l_hi * alpha_hi + sum_hi;

      // A sequence's last tile: zero the V rows past its end in this consumer's 4 boxes (whole 128-byte rows,
      // so the swizzle does not matter), after both consumers' S reads (barrier 1) and before P·V (barrier
      // 2).
      const int nv = H::valid_rows(t0, te);
      if (nv < H::kTile) {
        for (int k = t; k < H::zero_chunks(nv); k += 128)
          *reinterpret_cast<uint4*>(smem + H::zero_chunk_offset(stage, c, nv, k)) =
              make_uint4(0u, 0u, 0u, 0u);
      }
      fence_proxy_async_smem();  // P (and zeroed V rows) are read next by wgmma, an async-proxy access

#pragma unroll
      for (int i = 0; i < 128; ++i) {
        o[i] *= ((i >> 1) & 1) != 0 ? alpha_hi : alpha_lo;
        fence_operand(o[i]);
      }
      consumer_barrier(2);  // all of P written

      // O[64][256c..] += P[64][64] · V[64][256c..], 4 k-steps.
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < H::kStepsPv; ++ks) {
        wgmma_pv(o, H::make_desc(base + H::p_desc_start(ks), H::kLboKMajor, H::kSboKMajor),
                 H::make_desc(base + H::v_desc_start(stage, c, ks), H::kLboV, H::kSboV));
      }
      wgmma_commit();
      wgmma_wait_all();
#pragma unroll
      for (int i = 0; i < 128; ++i) fence_operand(o[i]);
      __syncwarp();
      if (lane == 0) mbar_arrive(bar(H::bar_empty(stage)));  // this warp is done with the stage
    }

    // Epilogue: the row sums of both consumers, then normalise and write (bf16 + lse, or fp32 partials).
    l_lo = quad_sum(l_lo);
    l_hi = quad_sum(l_hi);
    if ((lane & 3) == 0) {
      s_sum[c * H::kRows + r_lo] = l_lo;
      s_sum[c * H::kRows + r_hi] = l_hi;
    }
    consumer_barrier(3);
    l_lo = s_sum[r_lo] + s_sum[H::kRows + r_lo];
    l_hi = s_sum[r_hi] + s_sum[H::kRows + r_hi];
    const float inv_lo = l_lo > 0.0f ? 1.0f / l_lo : 0.0f;
    const float inv_hi = l_hi > 0.0f ? 1.0f / l_hi : 0.0f;
    const float lse_lo = l_lo > 0.0f ? (m_lo + log2f(l_lo)) * kLn2 : -INFINITY;
    const float lse_hi = l_hi > 0.0f ? (m_hi + log2f(l_hi)) * kLn2 : -INFINITY;
    const bool ok_lo = seq_row_lo < rows_per_seq;
    const bool ok_hi = seq_row_hi < rows_per_seq;
    const int col0 = c * H::kColsPerConsumer + H::acc_coord(t, 0).col;
    if (single) {
      __nv_bfloat16* out_lo = a.out + (static_cast<size_t>(b) * rows_per_seq + seq_row_lo) * H::kDv + col0;
      __nv_bfloat16* out_hi = a.out + (static_cast<size_t>(b) * rows_per_seq + seq_row_hi) * H::kDv + col0;
#pragma unroll
      for (int j = 0; j < 32; ++j) {
        if (ok_lo)
          *reinterpret_cast<std::uint32_t*>(out_lo + j * 8) =
              pack_bf16x2(o[4 * j] * inv_lo, o[4 * j + 1] * inv_lo);
        if (ok_hi)
          *reinterpret_cast<std::uint32_t*>(out_hi + j * 8) =
              pack_bf16x2(o[4 * j + 2] * inv_hi, o[4 * j + 3] * inv_hi);
      }
      if (c == 0 && (lane & 3) == 0) {
        if (ok_lo) a.lse[static_cast<size_t>(b) * rows_per_seq + seq_row_lo] = lse_lo;
        if (ok_hi) a.lse[static_cast<size_t>(b) * rows_per_seq + seq_row_hi] = lse_hi;
      }
    } else {
      float* po_lo = a.part_o + (static_cast<size_t>(seg) * rows_per_seq + seq_row_lo) * H::kDv + col0;
      float* po_hi = a.part_o + (static_cast<size_t>(seg) * rows_per_seq + seq_row_hi) * H::kDv + col0;
#pragma unroll
      for (int j = 0; j < 32; ++j) {
        if (ok_lo)
          *reinterpret_cast<float2*>(po_lo + j * 8) = make_float2(o[4 * j] * inv_lo, o[4 * j + 1] * inv_lo);
        if (ok_hi)
          *reinterpret_cast<float2*>(po_hi + j * 8) =
              make_float2(o[4 * j + 2] * inv_hi, o[4 * j + 3] * inv_hi);
      }
      if (c == 0 && (lane & 3) == 0) {
        if (ok_lo) a.part_lse[static_cast<size_t>(seg) * rows_per_seq + seq_row_lo] = lse_lo;
        if (ok_hi) a.part_lse[static_cast<size_t>(seg) * rows_per_seq + seq_row_hi] = lse_hi;
      }
    }
  }
#else
  (void)tm_q;
  (void)tm_kv;
  (void)a;
#endif  // MLASIM_SM90A_DEVICE
}

// ---- host: tensor maps ----

/// cuTensorMapEncodeTiled from the driver, through the runtime (no link against libcuda).
PFN_cuTensorMapEncodeTiled_v12000 encode_tiled() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  if (fn == nullptr) {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    MLASIM_CUDA_CHECK(
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess || p == nullptr)
      throw std::runtime_error("mla_decode_sm90a: the driver has no cuTensorMapEncodeTiled");
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }
  return fn;
}

/// A bf16 tensor map with the 128-byte swizzle, zero fill out of bounds (hopper_layout.hpp's shapes).
CUtensorMap make_map(const void* ptr, const H::MapShape& m) {
  CUtensorMap map;
  cuuint64_t dims[3], strides[2];
  cuuint32_t box[3];
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  for (int i = 0; i < 3; ++i) {
    dims[i] = m.dims[i];
    box[i] = m.box[i];
  }
  for (int i = 0; i < 2; ++i) strides[i] = m.strides[i];
  const CUresult r = encode_tiled()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, static_cast<cuuint32_t>(m.rank),
                                    const_cast<void*>(ptr), dims, strides, box, elem_strides,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error("mla_decode_sm90a: cuTensorMapEncodeTiled failed (error " +
                             std::to_string(static_cast<int>(r)) + ")");
  return map;
}

}  // namespace

bool mla_decode_sm90a_supported() {
#if defined(MLASIM_HAVE_SM90A)
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) return false;
  if (prop.major != 9 || prop.minor != 0) return false;  // sm_90a code runs on compute capability 9.0 only
  cudaFuncAttributes attr{};
  return cudaFuncGetAttributes(&attr, mla_decode_sm90a_kernel) == cudaSuccess;
#else
  return false;
#endif
}

LaunchInfo launch_mla_decode_sm90a(const DecodeArgs& a, cudaStream_t stream) {
  static bool configured = false;
  if (!configured) {
    if (!mla_decode_sm90a_supported())
      throw std::runtime_error("mla_decode_sm90a: needs a compute capability 9.0 GPU and an sm_90a build");
    MLASIM_CUDA_CHECK(cudaFuncSetAttribute(mla_decode_sm90a_kernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(H::kSmemAlloc)));
    configured = true;
  }
  const int rows_per_seq = a.s_q * a.n_q_heads;
  const long long pages =
      a.num_kv_pages > 0 ? a.num_kv_pages : static_cast<long long>(a.batch) * a.max_pages_per_seq;
  const CUtensorMap tm_q = make_map(a.q, H::q_map(rows_per_seq, a.batch));
  const CUtensorMap tm_kv = make_map(a.k, H::kv_map(pages));

  LaunchInfo info;
  const int row_blocks = mla_sm90a_row_blocks(a.s_q, a.n_q_heads);
  const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(a.schedule.num_parts));
  mla_decode_sm90a_kernel<<<grid, H::kThreads, H::kSmemAlloc, stream>>>(tm_q, tm_kv, a);
  MLASIM_CUDA_CHECK_LAUNCH();
  info.attention_ctas = row_blocks * a.schedule.num_parts;
  info.combine_ctas = launch_combine(a, rows_per_seq, H::kDv, stream);
  MLASIM_CUDA_CHECK_LAUNCH();
  return info;
}

}  // namespace mlasim::gpu
