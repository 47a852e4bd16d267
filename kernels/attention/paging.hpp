#pragma once
// Paged KV cache bookkeeping (plain C++17, no CUDA: the GPU program includes it too): a block table maps each
// sequence's logical pages to physical pages of `page_tokens` tokens, as in vLLM / FlashMLA (page size 64
// there).
#include <cstdint>
#include <vector>

namespace mlasim::attention {

/// Tokens per KV-cache page used by the kernels (FlashMLA's block size).
inline constexpr int kPageTokens = 64;

/// Pages needed to hold `tokens` tokens.
inline int pages_for(int tokens, int page_tokens = kPageTokens) {
  return (tokens + page_tokens - 1) / page_tokens;
}

/// Block table of a batch. Invariant: every (sequence, logical page) maps to a distinct physical page in
/// [0, num_pages); entries past a sequence's last page are -1.
struct PageTable {
  int page_tokens = kPageTokens;
  int batch = 0;
  int max_pages_per_seq = 0;               ///< row stride of `block_table`
  int num_pages = 0;                       ///< physical pages in the cache
  std::vector<std::int32_t> context_lens;  ///< tokens per sequence (>= 1)
  std::vector<std::int32_t> block_table;   ///< [batch][max_pages_per_seq] physical page ids

  /// Physical page holding token `token` of sequence `seq`.
  [[nodiscard]] int page_of(int seq, int token) const {
    return block_table[static_cast<std::size_t>(seq) * static_cast<std::size_t>(max_pages_per_seq) +
                       static_cast<std::size_t>(token / page_tokens)];
  }
  /// Index of token (seq, token) in a cache laid out [num_pages][page_tokens].
  [[nodiscard]] std::size_t slot_of(int seq, int token) const {
    return static_cast<std::size_t>(page_of(seq, token)) * static_cast<std::size_t>(page_tokens) +
           static_cast<std::size_t>(token % page_tokens);
  }
};

/// Builds a block table for `context_lens` (each >= 1) with physical pages in a random order drawn from
/// `seed` (so kernels are tested on scattered pages, never on a contiguous cache). Throws on bad input.
PageTable build_page_table(const std::vector<int>& context_lens, int page_tokens, std::uint64_t seed);

/// Random context lengths in [min_len, max_len] (uniform), deterministic for a seed.
std::vector<int> random_context_lens(int batch, int min_len, int max_len, std::uint64_t seed);

}  // namespace mlasim::attention
