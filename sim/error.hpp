#pragma once
/// Typed errors for the whole library. Only `main` turns them into a message and an exit code:
/// InputError -> 2 (the user's input is wrong), everything else -> 1 (a bug or an environment failure).
#include <stdexcept>
#include <string>

namespace mlasim {

/// Where in a user's file something was found. Line and column are 1-based; 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  /// "file:line:col", "file:line", "file" or "" depending on what is known.
  [[nodiscard]] std::string to_string() const;
};

/// Base of every mlasim exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad user input: a config key, a value, a missing file, a CLI option. Exit code 2.
/// what() reads like a compiler diagnostic: `file:line:col: error: key.path: message`.
class InputError : public Error {
 public:
  InputError(SourceLocation where, std::string key_path, std::string message);
  explicit InputError(std::string message);

  [[nodiscard]] const SourceLocation& where() const { return where_; }
  [[nodiscard]] const std::string& key_path() const { return key_path_; }
  /// The message without location and key.
  [[nodiscard]] const std::string& message() const { return message_; }

 private:
  SourceLocation where_;
  std::string key_path_;
  std::string message_;
};

/// A broken invariant inside mlasim (a bug) or a failed system call. Exit code 1.
class InternalError : public Error {
 public:
  using Error::Error;
};

/// Process exit codes used by the CLI and the GPU programs.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitNoGpu = 3;

}  // namespace mlasim
