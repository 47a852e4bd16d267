#pragma once
/// The fuzz targets: one per input surface (sweep YAML, serve YAML, model card, GPU profile, Hugging Face
/// JSON, trace CSV, length CSV, probe folder). Each writes the bytes it is given to a scratch file, reads it
/// the way the CLI does and, when the read succeeds, evaluates something cheap with it (one step, one small
/// run). Bad input must end as InputError (caught here); any other exception escapes and is a finding. The
/// same functions back the libFuzzer programs (fuzz/libfuzzer_main.cpp) and the corpus replay test
/// (tests/test_fuzz_corpus.cpp), so every input that ever crashed stays a test.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlasim::fuzz {

struct Target {
  std::string_view name;  ///< the program is fuzz_<name>; its committed corpus is fuzz/corpus/<name>/
  void (*run)(std::string_view bytes);
  /// The project's own inputs of this kind that seed the fuzzer besides fuzz/corpus/<name>/: patterns
  /// relative to the source tree, `*` matching within the file name only (examples, cards, profiles, bad
  /// configs).
  std::vector<std::string_view> seeds;
};

/// Every target, in a fixed order.
[[nodiscard]] const std::vector<Target>& targets();
/// The target called `name`; std::invalid_argument when there is none.
[[nodiscard]] const Target& target(std::string_view name);

/// Every seed of `t`, sorted: the files of fuzz/corpus/<name>/ (findings and seeds committed there) and the
/// files its `seeds` patterns match in the source tree.
[[nodiscard]] std::vector<std::filesystem::path> seed_files(const Target& t);

/// How the `cli` target reads its bytes: arguments separated by NUL or newline bytes (a final separator ends
/// the last argument, it does not start an empty one), or nullopt when the input is skipped, never run: more
/// than 32 arguments or 4096 bytes, an argument that could name a file outside the target's scratch folder
/// (a `/` other than in an MLA variant `mla:D_C/D_R`, a `\`, a `..` anywhere, a leading `~`), or the command
/// `calibrate` (it rewrites a built-in GPU profile in place by default).
[[nodiscard]] std::optional<std::vector<std::string>> cli_command_line(std::string_view bytes);

/// The `cli` target's working directory (created on first use, under $TMPDIR, removed at exit): the files of
/// fuzz/cli_files/, a quick synthetic measurement run `run/` and its `probes/`. Every command line starts
/// from exactly these files: whatever a command writes there is removed after it.
[[nodiscard]] const std::filesystem::path& cli_folder();

}  // namespace mlasim::fuzz
