// The bad-config corpus (tests/bad_configs/): every file must fail to load with exactly the message its
// header states. A YAML file starts with two comment lines:
//   # expect: LINE:COL: error: key.path: message      (the file path and its colon are prefixed here)
//   # kind: card | hw | sweep | hf
// JSON has no comments, so a config.json case keeps those two lines in a sibling `NAME.json.expect`.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/config/loader.hpp"
#include "sim/error.hpp"

using namespace mlasim;
namespace fs = std::filesystem;

namespace {

struct Header {
  std::string expect;
  std::string kind;
};

// Reads `# expect:` and `# kind:` from the first two lines of `header_file`.
Header read_header(const fs::path& header_file) {
  std::ifstream in(header_file);
  std::string first;
  std::string second;
  std::getline(in, first);
  std::getline(in, second);
  const std::string expect_tag = "# expect: ";
  const std::string kind_tag = "# kind: ";
  INFO(header_file.string());
  REQUIRE(first.rfind(expect_tag, 0) == 0);
  REQUIRE(second.rfind(kind_tag, 0) == 0);
  return {first.substr(expect_tag.size()), second.substr(kind_tag.size())};
}

// Loads `file` with the loader of `kind`; returns the InputError's message, or "" if it loaded.
std::string load_error(const fs::path& file, const std::string& kind) {
  try {
    if (kind == "card") {
      (void)load_model_card(file);
    } else if (kind == "hw") {
      (void)load_hw_profile(file);
    } else if (kind == "sweep") {
      (void)load_sweep_config(file);
    } else if (kind == "hf") {
      (void)load_hf_config(file);
    } else {
      FAIL("unknown kind `" << kind << "` in " << file.string());
    }
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every file of the bad-config corpus fails with its stated message") {
  const fs::path dir = fs::path(MLASIM_TEST_DATA_DIR) / "bad_configs";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".json")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());

  int ran = 0;
  for (const fs::path& file : files) {
    const bool json = file.extension() == ".json";
    const Header h = read_header(json ? fs::path(file.string() + ".expect") : file);
    // The file's own path prefixes the message; a message without a line has no ':' before "error".
    const bool has_line = !h.expect.empty() && std::isdigit(static_cast<unsigned char>(h.expect.front()));
    const std::string expected = file.string() + (has_line ? ":" : ": ") + h.expect;
    INFO(file.filename().string());
    CHECK(load_error(file, h.kind) == expected);
    ++ran;
  }
  CHECK(ran >= 20);
}
