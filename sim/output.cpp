#include "sim/output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sim/error.hpp"

namespace mlasim {

namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::string& content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      throw InputError(SourceLocation{path.parent_path().string()}, "",
                       fmt::format("cannot create directory: {}", ec.message()));
    }
  }
  const fs::path tmp = path.string() + fmt::format(".tmp-{}", static_cast<long>(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw InputError(SourceLocation{tmp.string()}, "",
                       fmt::format("cannot write: {}", std::strerror(errno)));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      throw InputError(SourceLocation{tmp.string()}, "", "write failed (disk full?)");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw InputError(SourceLocation{path.string()}, "",
                     fmt::format("cannot rename into place: {}", ec.message()));
  }
}

std::vector<fs::path> OutputSet::commit() const {
  std::vector<fs::path> written;
  written.reserve(files_.size());
  for (const auto& [name, content] : files_) {
    const fs::path p = dir_ / name;
    write_file_atomically(p, content);
    written.push_back(p);
  }
  return written;
}

std::string read_text_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(SourceLocation{path.string()}, "", "no such file");
  if (fs::is_directory(path, ec))
    throw InputError(SourceLocation{path.string()}, "", "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(SourceLocation{path.string()}, "", fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mlasim
