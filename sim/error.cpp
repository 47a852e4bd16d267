#include "sim/error.hpp"

#include <fmt/format.h>

namespace mlasim {

std::string SourceLocation::to_string() const {
  if (file.empty()) return {};
  if (line <= 0) return file;
  if (column <= 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, column);
}

namespace {
std::string format_diagnostic(const SourceLocation& where, const std::string& key_path,
                              const std::string& message) {
  std::string out;
  const std::string loc = where.to_string();
  if (!loc.empty()) out += loc + ": ";
  out += "error: ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}
}  // namespace

InputError::InputError(SourceLocation where, std::string key_path, std::string message)
    : Error(format_diagnostic(where, key_path, message)),
      where_(std::move(where)),
      key_path_(std::move(key_path)),
      message_(std::move(message)) {}

InputError::InputError(std::string message)
    : InputError(SourceLocation{}, std::string{}, std::move(message)) {}

}  // namespace mlasim
