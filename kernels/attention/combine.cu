// Split-KV combine: for each (sequence with more than one split, query row), merges the splits' fp32 partial
// outputs by their log-sum-exps: lse = log sum_i exp(lse_i), out = sum_i exp(lse_i - lse) o_i (the math of
// combine_partials in reference.hpp). Sequences with one split were written by the attention kernel itself.
#include <cuda_bf16.h>

#include "kernels/attention/decode_kernels.cuh"

namespace mlasim::gpu {

namespace {
constexpr int kCombineThreads = 128;

/// grid (rows_per_seq, batch); row = s * heads + h within the sequence.
__global__ void __launch_bounds__(kCombineThreads)
    combine_splits_kernel(const float* __restrict__ part_o, const float* __restrict__ part_lse,
                          const int* __restrict__ seq_segment_begin, int rows_per_seq, int d_v,
                          __nv_bfloat16* __restrict__ out, float* __restrict__ lse) {
  const int row = static_cast<int>(blockIdx.x);
  const int b = static_cast<int>(blockIdx.y);
  const int first = seq_segment_begin[b];
  const int splits = seq_segment_begin[b + 1] - first;
  if (splits <= 1) return;
  float max_lse = -INFINITY;
  for (int i = 0; i < splits; ++i)
    max_lse = fmaxf(max_lse, part_lse[static_cast<size_t>(first + i) * rows_per_seq + row]);
  const float base = max_lse == -INFINITY ? 0.0f : max_lse;
  float sum = 0.0f;
  for (int i = 0; i < splits; ++i)
    sum += __expf(part_lse[static_cast<size_t>(first + i) * rows_per_seq + row] - base);
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  const size_t out_row = static_cast<size_t>(b) * rows_per_seq + row;
  for (int c = static_cast<int>(threadIdx.x); c < d_v; c += kCombineThreads) {
    float acc = 0.0f;
    for (int i = 0; i < splits; ++i) {
      const size_t idx = static_cast<size_t>(first + i) * rows_per_seq + row;
      const float w = __expf(part_lse[idx] - base);
      acc += w * part_o[idx * d_v + c];
    }
    out[out_row * d_v + c] = __float2bfloat16_rn(acc * inv);
  }
  if (threadIdx.x == 0) lse[out_row] = sum > 0.0f ? base + __logf(sum) : -INFINITY;
}

}  // namespace

int launch_combine(const DecodeArgs& a, int rows_per_seq, int d_v, cudaStream_t stream) {
  if (a.schedule.max_splits_per_seq <= 1) return 0;
  const dim3 grid(static_cast<unsigned>(rows_per_seq), static_cast<unsigned>(a.batch));
  combine_splits_kernel<<<grid, kCombineThreads, 0, stream>>>(
      a.part_o, a.part_lse, a.schedule.seq_segment_begin, rows_per_seq, d_v, a.out, a.lse);
  return rows_per_seq * a.batch;
}

}  // namespace mlasim::gpu
