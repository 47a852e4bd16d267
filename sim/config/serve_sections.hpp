#pragma once
/// The sections a serve config (`serve:`) and a capacity plan (`plan:`) share, so both read them the same way
/// and report the same located errors (the device options, also a sweep's). Schema: sim/serving/README.md.
#include <filesystem>

#include "sim/config/yaml_reader.hpp"
#include "sim/serving/serve.hpp"

namespace mlasim {

/// `mode: speed-of-light | datasheet | calibrated`, `launch: graph | eager`, `mla_mode: auto | absorbed |
/// naive`, with a did-you-mean on a typo.
[[nodiscard]] DeviceMode read_device_mode(const YamlValue& v);
[[nodiscard]] LaunchMode read_launch_mode(const YamlValue& v);
[[nodiscard]] MlaMode read_mla_mode(const YamlValue& v);

/// `router`, `mode`, `launch`, `host_overhead` and `mla_mode` of the map `s`, where present, into `spec`.
void read_run_options(const YamlMap& s, ServeSpec& spec);

/// `workload:` — arrival process (poisson rate, closed loop, trace), request count, seed and length
/// distributions; files relative to `dir`.
[[nodiscard]] WorkloadSpec read_workload(const YamlValue& value, const std::filesystem::path& dir);

/// `slo:` — per metric, a time (a per-request threshold, for goodput) or a map of percentile targets
/// (`{p99: 2 s}`), which may also carry the per-request threshold as `per_request`.
[[nodiscard]] SloSpec read_slo(const YamlValue& value);

/// `measure:` — warm-up, drain and overload tolerance; fails when they leave none of `wl`'s requests.
[[nodiscard]] MeasureSpec read_measure(const YamlValue& value, const WorkloadSpec& wl);

/// The layout options a sweep (under `sweep:`) and a serve config (beside `tp` and `dp_attention`, and in
/// each disaggregated pool) share, the keys read_layout_options reads: one list for every map that allows
/// them.
[[nodiscard]] const std::vector<std::string>& layout_option_keys();
/// `keys` followed by layout_option_keys(): the allowed keys of a map that holds a layout.
[[nodiscard]] std::vector<std::string> with_layout_keys(std::vector<std::string> keys);

/// Reads the layout options: `expert_parallel: true|false` (ep = tp: every GPU of the replica an expert
/// rank), `redundant_experts: N`, `expert_imbalance: X`, `micro_batches: 1|2`, `pp: N` and `fuse_allreduce:
/// true|false`, where present in `m`, into `layout` (its tp, dp_attention and ep untouched). Returns
/// `expert_parallel` (false when absent).
[[nodiscard]] bool read_layout_options(const YamlMap& m, Parallelism& layout);

/// check_parallelism(p), its error located at the key of `m` it names (`ep` at `expert_parallel`), or at `m`
/// itself when that key is absent.
void check_layout(const YamlMap& m, const Parallelism& p);

/// `mtp: {depth: D, acceptance: 0.85 | [0.9, 0.8]}`, checked by check_speculation, its errors located at
/// `depth` or `acceptance`. `acceptance` is required when depth > 0.
[[nodiscard]] Speculation read_mtp(const YamlValue& value);

/// A time, > 0 and within the picosecond clock.
[[nodiscard]] TimePs read_time(const YamlValue& v);

}  // namespace mlasim
