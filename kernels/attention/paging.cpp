#include "kernels/attention/paging.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

namespace mlasim::attention {

PageTable build_page_table(const std::vector<int>& context_lens, int page_tokens, std::uint64_t seed) {
  if (page_tokens <= 0) throw std::invalid_argument("page_tokens must be positive");
  if (context_lens.empty()) throw std::invalid_argument("empty batch");
  PageTable t;
  t.page_tokens = page_tokens;
  t.batch = static_cast<int>(context_lens.size());
  for (const int len : context_lens) {
    if (len < 1) throw std::invalid_argument("context length must be >= 1, got " + std::to_string(len));
    const int pages = pages_for(len, page_tokens);
    t.max_pages_per_seq = std::max(t.max_pages_per_seq, pages);
    t.num_pages += pages;
    t.context_lens.push_back(len);
  }
  // Fisher-Yates with our own index draw: the permutation is the same with every standard library.
  std::vector<std::int32_t> perm(static_cast<std::size_t>(t.num_pages));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(seed);
  for (std::size_t i = perm.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(rng() % i);
    std::swap(perm[i - 1], perm[j]);
  }
  t.block_table.assign(static_cast<std::size_t>(t.batch) * static_cast<std::size_t>(t.max_pages_per_seq), -1);
  std::size_t next = 0;
  for (int b = 0; b < t.batch; ++b) {
    const int pages = pages_for(t.context_lens[static_cast<std::size_t>(b)], page_tokens);
    for (int p = 0; p < pages; ++p) {
      t.block_table[static_cast<std::size_t>(b) * static_cast<std::size_t>(t.max_pages_per_seq) +
                    static_cast<std::size_t>(p)] = perm[next++];
    }
  }
  return t;
}

std::vector<int> random_context_lens(int batch, int min_len, int max_len, std::uint64_t seed) {
  if (batch < 1 || min_len < 1 || max_len < min_len)
    throw std::invalid_argument("bad random_context_lens range");
  std::mt19937_64 rng(seed);
  std::vector<int> lens(static_cast<std::size_t>(batch));
  const auto span = static_cast<std::uint64_t>(max_len - min_len + 1);
  for (auto& len : lens) len = min_len + static_cast<int>(rng() % span);
  return lens;
}

}  // namespace mlasim::attention
