#pragma once
/// Output files are written whole or not at all: content is rendered in memory first, then each file is
/// written to a temporary name in the same directory and renamed over the target.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mlasim {

/// Writes `content` to `path` atomically (temp file + rename). Creates parent directories.
/// Throws InputError when the directory cannot be created or the file cannot be written.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// A set of files to write together: nothing touches the disk until commit(), which writes every file
/// atomically. A failure while rendering (before commit) leaves the output directory untouched.
class OutputSet {
 public:
  explicit OutputSet(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void add(const std::string& file_name, std::string content) {
    files_.emplace_back(file_name, std::move(content));
  }
  /// Writes every file; returns their paths in the order added.
  std::vector<std::filesystem::path> commit() const;

 private:
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, std::string>> files_;
};

/// Reads a whole text file. Throws InputError naming the file when it is missing or unreadable.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

}  // namespace mlasim
