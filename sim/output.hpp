#pragma once
/// Output files are written whole or not at all. Content is rendered in memory first. An OutputSet then
/// writes every file of the set to a temporary name in its directory, flushes them to disk (one syncfs for
/// the set), and only when all of them have been written renames them over the targets; a failure removes the
/// temporaries and leaves the directory as it was.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mlasim {

/// Largest file read_text_file() accepts: no input of mlasim is near it.
inline constexpr std::uintmax_t kMaxInputFileBytes = std::uintmax_t{64} << 20U;

/// Name of the list of files an OutputSet wrote into its directory, so that the next set written there can
/// remove the files it does not write again (a reused directory never mixes two runs).
inline constexpr const char* kOutputManifest = ".mlasim-outputs";

/// Writes `content` to `path` atomically (temp file + fsync + rename). Creates parent directories.
/// Throws InputError naming `path` when the directory cannot be created or the file cannot be written.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// Writes `content` to `path` (creating parent directories) with no temporary name and no flush to disk: for
/// scratch files in a private temporary directory that nobody else reads (gnuplot's inputs), never for
/// outputs. Throws InputError naming `path` when it cannot be written.
void write_scratch_file(const std::filesystem::path& path, const std::string& content);

/// Checks, before a long run, that `dir` can receive outputs: creates it (and its parents) and writes and
/// removes a probe file. Throws InputError naming `dir` (not a directory, permission, read-only file system,
/// disk full) so that an unwritable --out fails at once, not after the simulation; an empty `dir` is an
/// InputError too (the CLI refuses an empty --out before, naming it).
void prepare_output_dir(const std::filesystem::path& dir);

/// A set of files to write together: nothing touches the disk until commit(). A failure while rendering
/// (before commit) or while writing (in commit) leaves the output directory as it was.
class OutputSet {
 public:
  explicit OutputSet(std::filesystem::path dir) : dir_(std::move(dir)) {}
  /// `file_name` is relative to the directory (`summary.md`, `charts/ttft.dat`).
  void add(const std::string& file_name, std::string content) {
    files_.emplace_back(file_name, std::move(content));
  }
  /// Writes every file to a temporary, then renames them all into place, then removes the files of the
  /// previous set in this directory that this one does not write (its manifest, and any stale file in a
  /// charts/ folder this set writes) and the temporaries that earlier interrupted runs left. Returns the
  /// paths in the order added.
  std::vector<std::filesystem::path> commit() const;

 private:
  std::filesystem::path dir_;
  std::vector<std::pair<std::string, std::string>> files_;
};

/// Reads a whole text file. Throws InputError naming the file when it is missing, not a regular file (a
/// directory, device or FIFO), larger than kMaxInputFileBytes, or unreadable.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

}  // namespace mlasim
