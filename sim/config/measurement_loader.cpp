// A measurement run folder (measurements/README.md): run.yaml and the fingerprints through the YAML reader,
// the CSVs through the calibration parsers. Every error names file:line:col.
#include <fmt/format.h>

#include <filesystem>

#include "sim/calibration/measurement_run.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/yaml_reader.hpp"
#include "sim/error.hpp"
#include "sim/output.hpp"

namespace mlasim {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSchema = "mlasim-measurement-run/1";

RunManifest read_manifest(const fs::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "measurement run manifest");
  const YamlMap root =
      doc.root().as_map({"schema", "synthetic", "device", "gpu_id", "driver", "nvcc", "git_revision",
                         "command", "started", "finished", "host", "deadline_s", "phases"});
  RunManifest m;
  m.file = path.string();
  const YamlValue schema = root.required("schema");
  m.schema = schema.as_string();
  if (m.schema != kSchema) {
    schema.fail(fmt::format("unknown schema `{}`; this mlasim reads `{}`", m.schema, kSchema));
  }
  m.synthetic = root.optional_bool("synthetic", false);
  m.device = root.required_string("device");
  m.gpu_id = root.optional_string("gpu_id", "");
  m.driver = root.optional_string("driver", "");
  m.nvcc = root.optional_string("nvcc", "");
  m.git_revision = root.optional_string("git_revision", "");
  m.command = root.optional_string("command", "");
  m.started = root.optional_string("started", "");
  m.finished = root.optional_string("finished", "");
  m.host = root.optional_string("host", "");
  if (const auto d = root.optional("deadline_s")) m.deadline_s = d->as_double();
  if (const auto phases = root.optional("phases")) {
    const YamlMap all = phases->as_open_map();
    for (const YamlEntry& e : all.entries()) {
      const YamlMap p = e.value.as_map({"status", "exit_code", "seconds", "method"});
      PhaseStatus s;
      s.where = e.value.where();
      const YamlValue status = p.required("status");
      s.status = status.as_string();
      // measurements/README.md: "pending" marks a phase not yet run in a copy packed mid-run.
      static const std::vector<std::string> known = {"ok",      "failed",       "timeout", "no-gpu",
                                                     "skipped", "check-failed", "partial", "pending"};
      if (std::find(known.begin(), known.end(), s.status) == known.end()) {
        status.fail(unknown_name_message("phase status", s.status, known));
      }
      s.exit_code = p.optional_int("exit_code", 0);
      if (const auto sec = p.optional("seconds")) s.seconds = sec->as_double();
      s.method = p.optional_string("method", "");
      m.phases[e.key] = s;
    }
  }
  return m;
}

/// A fingerprint.yaml of a GPU program: a flat map of scalars, some known (the rest is kept by the file).
RunFingerprint read_fingerprint(const fs::path& path) {
  const YamlDocument doc = YamlDocument::parse_file(path, "device fingerprint");
  const YamlMap root = doc.root().as_open_map();
  RunFingerprint f;
  f.file = path.string();
  f.device = root.required_string("device");
  const YamlValue sms = root.required("sms");
  f.sms = sms.as_int();
  if (f.sms < 1) sms.fail(fmt::format("must be at least 1, got {}", f.sms));
  f.compute_capability = root.optional_string("compute_capability", "");
  f.date = root.optional_string("date", "");
  f.git_revision = root.optional_string("git_revision", "");
  f.cuda_runtime = root.optional_string("cuda_runtime", "");
  f.driver = root.optional_string("nvml_driver", root.optional_string("nvidia_smi_driver", ""));
  if (const auto clock = root.optional("sm_clock_max")) {
    f.sm_clock_max_hz = clock->parse_with([](std::string_view text) {
      const std::size_t space = text.find(' ');
      if (space == std::string_view::npos || text.substr(space + 1) != "MHz") {
        throw InputError(fmt::format("expected a clock such as `1980 MHz`, got `{}`", text));
      }
      return std::stod(std::string(text.substr(0, space))) * 1e6;
    });
  }
  return f;
}

}  // namespace

MeasurementRun load_measurement_run(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(SourceLocation{dir.string()}, "", "not a folder (expected a measurement run folder)");
  }
  const fs::path manifest = dir / "run.yaml";
  if (!fs::exists(manifest)) {
    throw InputError(SourceLocation{dir.string()}, "",
                     "not a measurement run: run.yaml is missing (scripts/gpu_measure.sh writes it; "
                     "measurements/README.md describes the folder)");
  }
  MeasurementRun run;
  run.dir = dir.string();
  run.manifest = read_manifest(manifest);
  const auto present = [&](const fs::path& p) { return fs::is_regular_file(p, ec); };
  for (const char* sub : {"probes", "attention"}) {
    const fs::path fp = dir / sub / "fingerprint.yaml";
    if (!present(fp)) continue;
    (std::string_view(sub) == "probes" ? run.probes_fingerprint : run.attention_fingerprint) =
        read_fingerprint(fp);
  }
  for (const char* name : {"bandwidth.csv", "gemm.csv", "launch.csv"}) {
    const fs::path p = dir / "probes" / name;
    if (!present(p)) {
      run.notes.push_back(fmt::format("{}: missing", p.string()));
      continue;
    }
    auto rows = read_probe_csv(p.string());
    run.probe_rows.insert(run.probe_rows.end(), rows.begin(), rows.end());
  }
  for (const char* name : {"mla_decode.csv", "gqa_decode.csv"}) {
    const fs::path p = dir / "attention" / name;
    if (!present(p)) {
      run.notes.push_back(fmt::format("{}: missing", p.string()));
      continue;
    }
    auto rows = parse_attention_csv(read_text_file(p), p.string(), &run.notes);
    run.attention_rows.insert(run.attention_rows.end(), rows.begin(), rows.end());
  }
  if (const fs::path p = dir / "attention" / "check.csv"; present(p)) {
    run.checks = parse_check_csv(read_text_file(p), p.string());
  }
  if (const fs::path p = dir / "probes" / "device_state.csv"; present(p)) {
    run.device_state = parse_device_state_csv(read_text_file(p), p.string());
  }
  // Several kernel variants per point (the bench's registry): the fastest correct one per point.
  choose_fastest_variants(run);
  return run;
}

}  // namespace mlasim
