#include "reports/gnuplot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "sim/error.hpp"
#include "sim/output.hpp"

extern char** environ;  // NOLINT: POSIX, not declared by <unistd.h> everywhere

namespace mlasim {

namespace fs = std::filesystem;

namespace {

bool is_executable_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::optional<fs::path> search_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string_view rest(path);
  while (true) {
    const std::size_t colon = rest.find(':');
    const std::string_view dir = rest.substr(0, colon);
    const fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

// A private directory, removed with everything in it when the renderer is done (or fails).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "mlasim-gnuplot-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw InternalError(fmt::format("cannot create a temporary directory for gnuplot ({}): {}", pattern,
                                      std::strerror(errno)));
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The child's environment: the parent's, minus what would make the output depend on the user (init files
// under HOME or XDG_CONFIG_HOME, locale), plus HOME pointing at the private directory and the C locale.
std::vector<std::string> child_environment(const fs::path& home) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const std::string_view key = kv.substr(0, kv.find('='));
    if (key == "HOME" || key == "XDG_CONFIG_HOME" || key == "LANG" || key == "LANGUAGE" ||
        key.substr(0, 3) == "LC_") {
      continue;
    }
    env.emplace_back(kv);
  }
  env.push_back("HOME=" + home.string());
  env.emplace_back("LC_ALL=C");
  return env;
}

// Runs `gnuplot script` in `dir` and returns its exit status (as from waitpid). All strings are prepared
// before fork: between fork and exec the child calls only async-signal-safe functions. No shell is involved.
int run_in(const fs::path& gnuplot, const fs::path& dir, const std::string& script,
           const fs::path& err_file) {
  const std::string program = gnuplot.string(), dir_s = dir.string(), err_s = err_file.string();
  std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>(script.c_str()), nullptr};
  std::vector<std::string> env = child_environment(dir);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw InternalError(fmt::format("cannot start gnuplot: fork: {}", std::strerror(errno)));
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    const int err = ::open(err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || err < 0 || ::chdir(dir_s.c_str()) != 0 || ::dup2(in, 0) < 0 || ::dup2(err, 1) < 0 ||
        ::dup2(err, 2) < 0) {
      ::_exit(126);
    }
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw InternalError(fmt::format("waiting for gnuplot: {}", std::strerror(errno)));
  }
  return status;
}

std::string tail(const std::string& text, std::size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return "…" + text.substr(text.size() - max_chars);
}

}  // namespace

std::optional<fs::path> find_gnuplot() {
  const char* env = std::getenv("MLASIM_GNUPLOT");
  if (env != nullptr && *env != '\0') {
    const std::string value(env);
    if (value == "none") return std::nullopt;
    std::optional<fs::path> found;
    if (value.find('/') != std::string::npos) {
      if (is_executable_file(value)) found = fs::path(value);
    } else {
      found = search_path(value);
    }
    if (!found) {
      throw InputError(fmt::format(
          "MLASIM_GNUPLOT={}: not an executable file (set it to gnuplot's path, or to `none` for no charts)",
          value));
    }
    return found;
  }
  return search_path("gnuplot");
}

std::vector<std::string> run_gnuplot(const fs::path& gnuplot, const std::vector<GnuplotJob>& jobs) {
  const TempDir tmp;
  std::vector<std::string> svgs;
  svgs.reserve(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const GnuplotJob& job = jobs[i];
    // One directory per job: jobs may reuse file names without seeing each other's files.
    const fs::path dir = tmp.path() / std::to_string(i);
    write_file_atomically(dir / job.script_name, job.script);
    for (const auto& [name, text] : job.inputs) write_file_atomically(dir / name, text);
    const fs::path err_file = tmp.path() / fmt::format("stderr-{}.txt", i);
    const int status = run_in(gnuplot, dir, job.script_name, err_file);
    std::error_code ec;
    const std::string err = fs::exists(err_file, ec) ? read_text_file(err_file) : std::string();
    const fs::path svg = dir / job.output_name;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !fs::exists(svg, ec)) {
      const std::string how = !WIFEXITED(status) ? fmt::format("was killed by signal {}", WTERMSIG(status))
                              : WEXITSTATUS(status) == 127 ? "could not be started"
                              : WEXITSTATUS(status) != 0
                                  ? fmt::format("exited with code {}", WEXITSTATUS(status))
                                  : fmt::format("wrote no {}", job.output_name);
      throw InternalError(fmt::format("gnuplot ({}) {} on script {}:\n{}", gnuplot.string(), how,
                                      job.script_name,
                                      err.empty() ? std::string("(no message)") : tail(err, 4000)));
    }
    svgs.push_back(read_text_file(svg));
  }
  return svgs;
}

ChartRendering render_charts(const std::vector<GnuplotJob>& jobs, bool charts) {
  ChartRendering out;
  out.svgs.resize(jobs.size());
  if (!charts) {
    out.note = "charts not drawn (--no-charts)";
  } else if (jobs.empty()) {
    out.note = "no chart: nothing to plot";
  } else if (const std::optional<fs::path> gnuplot = find_gnuplot(); !gnuplot) {
    const char* env = std::getenv("MLASIM_GNUPLOT");
    out.note =
        env != nullptr && std::string(env) == "none"
            ? "charts not rendered: MLASIM_GNUPLOT=none (run the scripts in charts/ with gnuplot)"
            : "charts not rendered: gnuplot not found (install gnuplot-nox, or run the scripts in charts/)";
  } else {
    out.svgs = run_gnuplot(*gnuplot, jobs);
  }
  return out;
}

void append_chart_files(std::vector<std::pair<std::string, std::string>>& files,
                        const std::vector<GnuplotJob>& jobs) {
  for (const GnuplotJob& j : jobs) {
    for (const auto& [name, text] : j.inputs) files.emplace_back("charts/" + name, text);
    files.emplace_back("charts/" + j.script_name, j.script);
  }
}

}  // namespace mlasim
