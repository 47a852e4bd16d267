#include "sim/output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/error.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kTmpTag = ".tmp-";

[[noreturn]] void fail_at(const fs::path& path, std::string message) {
  throw InputError(SourceLocation{path.string()}, "", std::move(message));
}

fs::path temporary_for(const fs::path& target) {
  return target.string() + fmt::format("{}{}", kTmpTag, static_cast<long>(::getpid()));
}

void create_directory_of(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) fail_at(dir, "exists and is not a directory");
  fs::create_directories(dir, ec);
  if (ec) fail_at(dir, fmt::format("cannot create directory: {}", ec.message()));
}

/// Writes all of `size` bytes at `data` to `fd`. Returns 0 or the errno of the failure.
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return 0;
}

[[noreturn]] void fail_to_write(const fs::path& target, int error) {
  fail_at(target, fmt::format("cannot write: {}{}", std::strerror(error),
                              error == ENOSPC || error == EFBIG || error == EDQUOT
                                  ? " (disk full or file size limit?)"
                                  : ""));
}

/// Writes `content` to `tmp` and, when `sync`, flushes it to the disk; on failure removes `tmp` and throws an
/// error that names `target` (the file the user asked for), not the temporary.
void write_synced(const fs::path& tmp, const fs::path& target, const std::string& content, bool sync = true) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) fail_at(target, fmt::format("cannot write: {}", std::strerror(errno)));
  int error = write_all(fd, content.data(), content.size());
  if (error == 0 && sync && ::fsync(fd) != 0 && errno != EINVAL) error = errno;
  if (::close(fd) != 0 && error == 0 && errno != EINTR) error = errno;
  if (error != 0) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail_to_write(target, error);
  }
}

// Temporaries of streamed outputs, for the interrupt handler: fixed slots (no allocation, nothing but
// lock-free atomics and unlink in the handler, which must be async-signal-safe).
constexpr std::size_t kCleanupSlots = 64;
constexpr std::size_t kCleanupPathBytes = 4096;
struct CleanupSlot {
  std::atomic<bool> taken{false};  ///< owned by an OutputStream (its path being written or in use)
  std::atomic<bool> armed{false};  ///< `path` is complete: remove it on an interrupt
  std::array<char, kCleanupPathBytes> path{};
};
std::array<CleanupSlot, kCleanupSlots> g_cleanup;
constexpr std::array<int, 3> kInterrupts{SIGINT, SIGTERM, SIGHUP};

extern "C" void remove_streamed_temporaries(int signal_number) {
  for (CleanupSlot& slot : g_cleanup) {
    if (slot.armed.load(std::memory_order_acquire)) (void)::unlink(slot.path.data());
  }
  // Then end as the signal would have: default action, signal raised again (it is blocked until we return).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  (void)::sigaction(signal_number, &dfl, nullptr);
  (void)::raise(signal_number);
}

/// Installs the handler for each interrupt whose action is the default (an ignored SIGHUP stays ignored, a
/// caller's own handler stays). Checked at each new stream, not once: a caller may reset the actions.
void install_interrupt_cleanup() {
  for (const int sig : kInterrupts) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL)
      continue;
    struct sigaction act {};
    act.sa_handler = remove_streamed_temporaries;
    sigemptyset(&act.sa_mask);
    for (const int other : kInterrupts) sigaddset(&act.sa_mask, other);
    (void)::sigaction(sig, &act, nullptr);
  }
}

/// A slot holding `path` for the interrupt handler, or -1 when every slot is taken or the path is too long
/// (the temporary then stays until the next run into the folder removes it).
int arm_cleanup(const fs::path& path) {
  const std::string& name = path.native();
  if (name.size() >= kCleanupPathBytes) return -1;
  install_interrupt_cleanup();
  for (std::size_t i = 0; i < g_cleanup.size(); ++i) {
    bool expected = false;
    if (!g_cleanup[i].taken.compare_exchange_strong(expected, true)) continue;
    std::copy(name.begin(), name.end(), g_cleanup[i].path.begin());
    g_cleanup[i].path[name.size()] = '\0';
    g_cleanup[i].armed.store(true, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;
}

void disarm_cleanup(int slot) {
  if (slot < 0) return;
  g_cleanup[static_cast<std::size_t>(slot)].armed.store(false, std::memory_order_release);
  g_cleanup[static_cast<std::size_t>(slot)].taken.store(false, std::memory_order_release);
}

/// Flushes every file written so far to the file system holding `dir` to the disk, in one call (syncfs: one
/// journal commit for a whole set of files instead of one fsync each); when the system has no syncfs, each
/// of `files` with fsync. Returns 0, or the errno of the failure (a write-back error, disk full).
int flush_to_disk(const fs::path& dir, const std::vector<fs::path>& files) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    const int rc = ::syncfs(fd);
    const int error = rc == 0 ? 0 : errno;
    (void)::close(fd);
    if (rc == 0) return 0;
    if (error != ENOSYS) return error;
  }
  for (const fs::path& f : files) {
    const int file = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (file < 0) return errno;
    const int rc = ::fsync(file);
    const int error = rc == 0 || errno == EINVAL ? 0 : errno;
    (void)::close(file);
    if (error != 0) return error;
  }
  return 0;
}

/// Makes the renames in `dir` durable. Best effort: some file systems cannot sync a directory.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  (void)::close(fd);
}

/// Removes `NAME.tmp-PID` files in `dir` left by an earlier run that was interrupted (its process is gone).
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return;
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    const std::size_t tag = name.rfind(kTmpTag);
    if (tag == std::string::npos || !entry.is_regular_file(ec)) continue;
    const std::string_view digits = std::string_view(name).substr(tag + kTmpTag.size());
    long pid = 0;
    const auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (err != std::errc{} || ptr != digits.data() + digits.size() || digits.empty()) continue;
    const bool alive =
        pid == static_cast<long>(::getpid()) || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    if (!alive) fs::remove(entry.path(), ec);
  }
}

/// The names listed in `dir`'s manifest (none when there is none).
std::vector<std::string> read_manifest(const fs::path& dir) {
  std::vector<std::string> names;
  std::ifstream in(dir / kOutputManifest);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    names.push_back(line);
  }
  return names;
}

/// A name from a manifest that may be removed: relative, inside the directory.
bool safe_relative(const std::string& name) {
  const fs::path p(name);
  if (p.empty() || p.is_absolute()) return false;
  return std::none_of(p.begin(), p.end(), [](const fs::path& part) { return part == ".." || part == "."; });
}

/// Removes `path` when it is a regular file (never a folder or what a link points to).
void remove_file(const fs::path& path) {
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() == fs::file_type::regular) fs::remove(path, ec);
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::string& content) {
  if (path.has_parent_path()) create_directory_of(path.parent_path());
  const fs::path tmp = temporary_for(path);
  write_synced(tmp, path, content);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail_at(path, fmt::format("cannot rename into place: {}", ec.message()));
  }
  sync_directory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

void write_scratch_file(const fs::path& path, const std::string& content) {
  if (path.has_parent_path()) create_directory_of(path.parent_path());
  write_synced(path, path, content, /*sync=*/false);
}

void prepare_output_dir(const fs::path& dir) {
  // The system's answer, "Invalid argument", would not say what was wrong.
  if (dir.empty()) throw InputError("the output folder is an empty path: give a folder");
  create_directory_of(dir);
  const fs::path probe = temporary_for(dir / ".mlasim-probe");
  const int slot = arm_cleanup(probe);  // an interrupt now leaves no probe behind
  try {
    write_synced(probe, dir, "mlasim checks that this folder is writable\n");
  } catch (...) {
    disarm_cleanup(slot);
    throw;
  }
  std::error_code ec;
  fs::remove(probe, ec);
  disarm_cleanup(slot);
}

// ---------------------------------------------------------------------------------------------------------
// OutputStream

namespace {
constexpr std::size_t kStreamBuffer = std::size_t{1} << 20U;
}  // namespace

OutputStream::OutputStream(fs::path target, fs::path temporary)
    : target_(std::move(target)), temporary_(std::move(temporary)) {
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) fail_at(target_, fmt::format("cannot write: {}", std::strerror(errno)));
  cleanup_slot_ = arm_cleanup(temporary_);
  buffer_.reserve(kStreamBuffer);
}

OutputStream::~OutputStream() {
  discard();
}

void OutputStream::write(std::string_view text) {
  if (fd_ < 0) throw InternalError(fmt::format("{}: written after it was closed", target_.string()));
  size_ += text.size();
  if (buffer_.size() + text.size() > kStreamBuffer) {
    flush();
    if (text.size() >= kStreamBuffer) {
      if (const int error = write_all(fd_, text.data(), text.size()); error != 0)
        fail_to_write(target_, error);
      return;
    }
  }
  buffer_.append(text);
}

void OutputStream::flush() {
  if (const int error = write_all(fd_, buffer_.data(), buffer_.size()); error != 0) {
    fail_to_write(target_, error);
  }
  buffer_.clear();
}

void OutputStream::close() {
  if (fd_ < 0) return;
  flush();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR) fail_to_write(target_, errno);
  std::string().swap(buffer_);
}

void OutputStream::release() {
  disarm_cleanup(cleanup_slot_);
  cleanup_slot_ = -1;
  temporary_.clear();
}

void OutputStream::discard() {
  if (fd_ >= 0) (void)::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) {
    std::error_code ec;
    fs::remove(temporary_, ec);
  }
  release();
}

// ---------------------------------------------------------------------------------------------------------
// OutputSet

struct OutputSet::Entry {
  std::string name;
  std::string content;                   ///< when not streamed
  std::unique_ptr<OutputStream> stream;  ///< when streamed
};

OutputSet::OutputSet(fs::path dir) : dir_(std::move(dir)) {}
OutputSet::OutputSet(OutputSet&&) noexcept = default;
OutputSet& OutputSet::operator=(OutputSet&&) noexcept = default;
OutputSet::~OutputSet() = default;

void OutputSet::add(const std::string& file_name, std::string content) {
  files_.push_back(Entry{file_name, std::move(content), nullptr});
}

OutputStream& OutputSet::stream(const std::string& file_name) {
  const fs::path target = dir_ / file_name;
  create_directory_of(target.parent_path());
  // OutputStream's constructor is private: no make_unique.
  files_.push_back(
      Entry{file_name, {}, std::unique_ptr<OutputStream>(new OutputStream(target, temporary_for(target)))});
  return *files_.back().stream;
}

std::vector<fs::path> OutputSet::commit() {
  // Every folder the set writes into; subfolders (charts/) belong to the set.
  std::set<fs::path> dirs{dir_};
  std::set<std::string> names;
  for (const Entry& e : files_) {
    names.insert(e.name);
    dirs.insert((dir_ / e.name).parent_path());
  }
  for (const fs::path& d : dirs) create_directory_of(d);
  for (const fs::path& d : dirs) remove_stale_temporaries(d);

  std::string manifest =
      "# Files mlasim wrote here; the next run into this folder removes those it does not write.\n";
  for (const std::string& name : names) manifest += name + "\n";
  // (target, content; null for a streamed file, written already)
  std::vector<std::pair<fs::path, const std::string*>> targets;
  targets.reserve(files_.size() + 1);
  for (const Entry& e : files_) targets.emplace_back(dir_ / e.name, e.stream ? nullptr : &e.content);
  targets.emplace_back(dir_ / kOutputManifest, &manifest);  // last: it describes a complete set

  // 1. Every file to a temporary; the first failure removes them all and changes nothing.
  std::vector<fs::path> temporaries;
  temporaries.reserve(targets.size());
  const auto remove_temporaries = [&temporaries] {
    std::error_code ec;
    for (const fs::path& t : temporaries) fs::remove(t, ec);
  };
  try {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const auto& [target, content] = targets[i];
      temporaries.push_back(temporary_for(target));
      if (content == nullptr) {
        files_[i].stream->close();
      } else {
        write_synced(temporaries.back(), target, *content, /*sync=*/false);
      }
    }
  } catch (...) {
    remove_temporaries();
    throw;
  }
  // ... and on the disk, all at once, before any is renamed into place.
  if (const int error = flush_to_disk(dir_, temporaries); error != 0) {
    remove_temporaries();
    fail_at(dir_, fmt::format("cannot write: {}{}", std::strerror(error),
                              error == ENOSPC || error == EDQUOT ? " (disk full?)" : ""));
  }

  // 2. Rename them all into place.
  const std::vector<std::string> previous = read_manifest(dir_);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::error_code ec;
    fs::rename(temporaries[i], targets[i].first, ec);
    if (ec) {
      const std::string why = ec.message();
      remove_temporaries();
      fail_at(targets[i].first, fmt::format("cannot rename into place: {}", why));
    }
  }

  for (Entry& e : files_) {
    if (e.stream) e.stream->release();  // renamed: nothing for the interrupt handler to remove
  }

  // 3. Files of the previous set that this one does not write, and strays in the set's subfolders.
  for (const std::string& old : previous) {
    if (safe_relative(old) && names.count(fs::path(old).lexically_normal().generic_string()) == 0 &&
        names.count(old) == 0) {
      remove_file(dir_ / old);
    }
  }
  for (const fs::path& d : dirs) {
    if (d == dir_) continue;
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(d, ec)) {
      const std::string rel = entry.path().lexically_relative(dir_).generic_string();
      if (names.count(rel) == 0) remove_file(entry.path());
    }
  }
  // A subfolder that only held the previous set's files (charts/ after --no-charts) goes too.
  for (const std::string& old : previous) {
    const fs::path parent = (dir_ / old).parent_path();
    std::error_code ec;
    if (safe_relative(old) && parent != dir_ && fs::is_directory(parent, ec) && fs::is_empty(parent, ec)) {
      fs::remove(parent, ec);
    }
  }
  for (const fs::path& d : dirs) sync_directory(d);

  std::vector<fs::path> written;
  written.reserve(files_.size());
  for (const Entry& e : files_) written.push_back(dir_ / e.name);
  return written;
}

std::string read_text_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) fail_at(path, "no such file");
  if (fs::is_directory(status)) fail_at(path, "is a directory, not a file");
  if (!fs::is_regular_file(status))
    fail_at(path, "not a regular file (a device, FIFO or socket); give a file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxInputFileBytes) {
    fail_at(path, fmt::format("the file has {} bytes; mlasim reads inputs up to {} MiB", size,
                              kMaxInputFileBytes >> 20U));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_at(path, fmt::format("cannot read: {}", std::strerror(errno)));
  // Read in pieces and stop past the limit: a file that grows while it is read is still refused.
  std::string text;
  if (!ec) text.reserve(static_cast<std::size_t>(size));
  std::array<char, 1U << 16U> buffer{};
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    text.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxInputFileBytes) {
      fail_at(path, fmt::format("the file is larger than {} MiB", kMaxInputFileBytes >> 20U));
    }
  }
  if (in.bad()) fail_at(path, fmt::format("cannot read: {}", std::strerror(errno)));
  return text;
}

}  // namespace mlasim
