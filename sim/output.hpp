#pragma once
/// Output files are written whole or not at all. Content is rendered in memory first, or, for a file too
/// large to hold (OutputSet::stream), appended to a temporary as the run goes. An OutputSet then writes every
/// file of the set to a temporary name in its directory, flushes them to disk (one syncfs for the set), and
/// only when all of them have been written renames them over the targets; a failure, or an interrupt, removes
/// the temporaries and leaves the directory as it was.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
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

/// A file of an OutputSet written while the run goes on (a sweep's rows, a serve run's requests, far more
/// than memory should hold): appended through a buffer to a temporary beside its target from the start, then
/// renamed into place by the set's commit() together with the others. Until then the target is untouched;
/// the temporary is removed when the set is destroyed without a commit (an error) and when the process is
/// interrupted by SIGINT, SIGTERM or SIGHUP (a handler removes it, then lets the signal end the process).
class OutputStream {
 public:
  OutputStream(const OutputStream&) = delete;
  OutputStream& operator=(const OutputStream&) = delete;
  OutputStream(OutputStream&&) = delete;
  OutputStream& operator=(OutputStream&&) = delete;
  ~OutputStream();
  /// Appends `text`. Throws InputError naming the target (disk full, file size limit).
  void write(std::string_view text);
  /// Bytes written so far.
  [[nodiscard]] std::uintmax_t size() const { return size_; }

 private:
  friend class OutputSet;
  OutputStream(std::filesystem::path target, std::filesystem::path temporary);
  void flush();
  /// Flushes and closes the temporary (InputError naming the target on failure).
  void close();
  /// The temporary was renamed into place: nothing to remove any more.
  void release();
  void discard();

  std::filesystem::path target_, temporary_;
  int fd_ = -1;
  int cleanup_slot_ = -1;  ///< where the interrupt handler finds the temporary's name; -1: none
  std::string buffer_;
  std::uintmax_t size_ = 0;
};

/// A set of files to write together: nothing replaces a file of the directory until commit(). A failure while
/// rendering (before commit) or while writing (in commit) leaves the output directory as it was.
class OutputSet {
 public:
  explicit OutputSet(std::filesystem::path dir);
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  OutputSet(OutputSet&&) noexcept;
  OutputSet& operator=(OutputSet&&) noexcept;
  ~OutputSet();
  /// `file_name` is relative to the directory (`summary.md`, `charts/ttft.dat`).
  void add(const std::string& file_name, std::string content);
  /// A file written piece by piece (OutputStream), in the set's order at this point. Creates the directory
  /// and the temporary now: InputError naming the file when it cannot. The reference stays valid until the
  /// set is destroyed.
  OutputStream& stream(const std::string& file_name);
  /// Writes every file to a temporary (the streamed ones are already), then renames them all into place,
  /// then removes the files of the previous set in this directory that this one does not write (its
  /// manifest, and any stale file in a charts/ folder this set writes) and the temporaries that earlier
  /// interrupted runs left. Returns the paths in the order added. Once only.
  std::vector<std::filesystem::path> commit();

 private:
  struct Entry;
  std::filesystem::path dir_;
  std::vector<Entry> files_;
};

/// Reads a whole text file. Throws InputError naming the file when it is missing, not a regular file (a
/// directory, device or FIFO), larger than kMaxInputFileBytes, or unreadable.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

}  // namespace mlasim
