#include "reports/gnuplot.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
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

// Starts `gnuplot script` in `dir` (stdout and stderr to `err_file`) and returns its pid. All strings are
// prepared before fork: between fork and exec the child calls only async-signal-safe functions. No shell is
// involved.
pid_t start_in(const fs::path& gnuplot, const fs::path& dir, const std::string& script,
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
  return pid;
}

// Waits for `pid` and returns its exit status (as from waitpid).
int wait_for(pid_t pid) {
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

namespace {

// The marker a batch prints on stderr before each of its jobs (gnuplot's `print` writes to stderr), so that a
// failure names the script it happened in.
constexpr std::string_view kJobMarker = "mlasim-gnuplot-job ";

// The driver of one gnuplot process: for each job, in order, its directory, its script, the SVG closed
// (`unset output`: the SVG terminal writes the closing tag then) and every setting and variable back to a
// fresh start (`reset session`), so a script sees what a gnuplot of its own would.
std::string batch_script(const std::vector<std::size_t>& batch, const std::vector<GnuplotJob>& jobs,
                         const std::vector<std::string>& dirs) {
  std::string out = "# written by mlasim: renders several charts in one gnuplot process\n";
  for (const std::size_t i : batch) {
    out += fmt::format("print '{}{}'\ncd '{}'\nload '{}'\nunset output\nreset session\ncd '..'\n", kJobMarker,
                       i, dirs[i], jobs[i].script_name);
  }
  return out;
}

// The job a failed batch was running: the last marker in its stderr (the batch's first job if none).
std::size_t failed_job(const std::string& err, const std::vector<std::size_t>& batch) {
  const std::size_t at = err.rfind(kJobMarker);
  if (at == std::string::npos) return batch.front();
  const std::size_t begin = at + kJobMarker.size();
  return static_cast<std::size_t>(std::stoull(err.substr(begin, err.find('\n', begin) - begin)));
}

// stderr without the job markers: what gnuplot said.
std::string without_markers(const std::string& err) {
  std::string out;
  std::size_t pos = 0;
  while (pos < err.size()) {
    std::size_t eol = err.find('\n', pos);
    if (eol == std::string::npos) eol = err.size();
    const std::string_view line(err.data() + pos, eol - pos);
    if (line.substr(0, kJobMarker.size()) != kJobMarker) out.append(line).push_back('\n');
    pos = eol + 1;
  }
  return out;
}

}  // namespace

std::vector<std::string> run_gnuplot(const fs::path& gnuplot, const std::vector<GnuplotJob>& jobs,
                                     int processes) {
  const TempDir tmp;
  // A figure drawn twice (the same script reading the same data) is rendered once.
  std::vector<std::size_t> same_as(jobs.size());
  std::vector<std::size_t> distinct;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    same_as[i] = i;
    for (const std::size_t j : distinct) {
      if (jobs[j].script == jobs[i].script && jobs[j].inputs == jobs[i].inputs &&
          jobs[j].output_name == jobs[i].output_name) {
        same_as[i] = j;
        break;
      }
    }
    if (same_as[i] == i) distinct.push_back(i);
  }
  // One directory for all when no two jobs name the same file (a report's charts), else one per job, so that
  // jobs never see each other's files.
  std::set<std::string> names;
  bool shared = true;
  for (const std::size_t i : distinct) {
    shared = shared && names.insert(jobs[i].script_name).second && names.insert(jobs[i].output_name).second;
    for (const auto& input : jobs[i].inputs) shared = shared && names.insert(input.first).second;
  }
  std::vector<std::string> dirs(jobs.size());
  for (const std::size_t i : distinct) {
    dirs[i] = shared ? std::string("jobs") : std::to_string(i);
    const fs::path dir = tmp.path() / dirs[i];
    write_scratch_file(dir / jobs[i].script_name, jobs[i].script);
    for (const auto& [name, text] : jobs[i].inputs) write_scratch_file(dir / name, text);
  }

  // Distinct jobs dealt round-robin to at most `processes` gnuplots, run at once.
  const std::size_t n_proc =
      std::min<std::size_t>(distinct.size(), static_cast<std::size_t>(std::max(processes, 1)));
  std::vector<std::vector<std::size_t>> batches(n_proc);
  for (std::size_t k = 0; k < distinct.size(); ++k) batches[k % n_proc].push_back(distinct[k]);
  std::vector<pid_t> pids;
  std::vector<int> statuses(n_proc, 0);
  try {
    for (std::size_t b = 0; b < n_proc; ++b) {
      const std::string name = fmt::format("batch-{}.gp", b);
      write_scratch_file(tmp.path() / name, batch_script(batches[b], jobs, dirs));
      pids.push_back(start_in(gnuplot, tmp.path(), name, tmp.path() / fmt::format("stderr-{}.txt", b)));
    }
  } catch (...) {
    for (const pid_t pid : pids) (void)wait_for(pid);  // no child outlives its directory
    throw;
  }
  for (std::size_t b = 0; b < n_proc; ++b) statuses[b] = wait_for(pids[b]);

  for (std::size_t b = 0; b < n_proc; ++b) {
    const int status = statuses[b];
    std::error_code ec;
    const fs::path err_file = tmp.path() / fmt::format("stderr-{}.txt", b);
    const std::string err = fs::exists(err_file, ec) ? read_text_file(err_file) : std::string();
    std::optional<std::size_t> missing;
    for (const std::size_t i : batches[b]) {
      if (!fs::exists(tmp.path() / dirs[i] / jobs[i].output_name, ec)) {
        missing = i;
        break;
      }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !missing) continue;
    const std::size_t job =
        WIFEXITED(status) && WEXITSTATUS(status) == 0 ? *missing : failed_job(err, batches[b]);
    const std::string how = !WIFEXITED(status) ? fmt::format("was killed by signal {}", WTERMSIG(status))
                            : WEXITSTATUS(status) == 127 ? "could not be started"
                            : WEXITSTATUS(status) != 0
                                ? fmt::format("exited with code {}", WEXITSTATUS(status))
                                : fmt::format("wrote no {}", jobs[job].output_name);
    const std::string said = without_markers(err);
    throw InternalError(fmt::format("gnuplot ({}) {} on script {}:\n{}", gnuplot.string(), how,
                                    jobs[job].script_name,
                                    said.empty() ? std::string("(no message)") : tail(said, 4000)));
  }
  std::vector<std::string> svgs(jobs.size());
  for (const std::size_t i : distinct) svgs[i] = read_text_file(tmp.path() / dirs[i] / jobs[i].output_name);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (same_as[i] != i) svgs[i] = svgs[same_as[i]];
  }
  return svgs;
}

ChartRendering render_charts(const std::vector<GnuplotJob>& jobs, bool charts, int processes) {
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
    out.svgs = run_gnuplot(*gnuplot, jobs, processes);
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
