// best.csv and the closing summary of mlasim_attention_bench (bench_summary.hpp).
#include "kernels/attention/bench_summary.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace mlasim::attention {

int CsvTable::col(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string CsvTable::get(const std::vector<std::string>& r, const std::string& name) const {
  const int c = col(name);
  return c < 0 ? std::string() : r[static_cast<size_t>(c)];
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (const char ch : line) {
    if (ch == ',') {
      cells.push_back(cur);
      cur.clear();
    } else if (ch != '\r') {
      cur += ch;
    }
  }
  cells.push_back(cur);
  return cells;
}

CsvTable parse_csv_text(const std::string& text) {
  CsvTable t;
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;  // a torn last line
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (first) {
      t.header = split_csv_line(line);
      first = false;
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> cells = split_csv_line(line);
    if (cells.size() == t.header.size()) t.rows.push_back(std::move(cells));
  }
  return t;
}

double cell_number(const std::string& s) {
  if (s.empty()) return 0.0;
  return std::strtod(s.c_str(), nullptr);
}

std::string point_key(const CsvTable& t, const std::vector<std::string>& r) {
  std::string k;
  for (const char* c : {"kernel", "batch", "context", "lengths", "s_q", "n_h", "n_kv", "d"}) {
    k += t.get(r, c) + "|";
  }
  return k;
}

std::vector<std::vector<std::string>> best_rows(const CsvTable& t, int* points_without_pass) {
  std::vector<std::string> order;
  std::map<std::string, int> best;  // key -> row index (-1: none passed yet)
  const int check = t.col("check"), median = t.col("median_us");
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const auto& r = t.rows[i];
    const std::string key = point_key(t, r);
    auto it = best.find(key);
    if (it == best.end()) {
      order.push_back(key);
      it = best.emplace(key, -1).first;
    }
    if (check < 0 || median < 0 || r[static_cast<size_t>(check)] != kCheckPass) continue;
    if (it->second < 0 ||
        cell_number(r[static_cast<size_t>(median)]) <
            cell_number(t.rows[static_cast<size_t>(it->second)][static_cast<size_t>(median)])) {
      it->second = static_cast<int>(i);
    }
  }
  std::vector<std::vector<std::string>> out;
  int none = 0;
  for (const std::string& k : order) {
    const int i = best[k];
    if (i < 0)
      ++none;
    else
      out.push_back(t.rows[static_cast<size_t>(i)]);
  }
  if (points_without_pass != nullptr) *points_without_pass = none;
  return out;
}

std::string best_csv_text(const std::vector<CsvTable>& tables, int* points_without_pass) {
  std::string out;
  const std::vector<std::string> cols = timing_csv_columns();
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + cols[i];
  out += "\n";
  int none_total = 0;
  for (const CsvTable& t : tables) {
    if (t.header != cols) continue;  // another format (an older run): not mixed in
    int none = 0;
    for (const auto& r : best_rows(t, &none)) {
      for (size_t i = 0; i < r.size(); ++i) out += (i ? "," : "") + r[i];
      out += "\n";
    }
    none_total += none;
  }
  if (points_without_pass != nullptr) *points_without_pass = none_total;
  return out;
}

std::string summary_text(const SummaryInputs& in) {
  std::string out;
  char buf[320];
  std::snprintf(
      buf, sizeof buf, "\nsummary (%s; copy %s; dense bf16 peak %s)\n", in.device.c_str(),
      in.copy_gbps > 0 ? (std::to_string(static_cast<long long>(in.copy_gbps + 0.5)) + " GB/s").c_str()
                       : "not measured",
      in.peak_tflops > 0 ? (std::to_string(static_cast<long long>(in.peak_tflops)) + " TFLOP/s").c_str()
                         : "unknown for this device");
  out += buf;
  std::snprintf(buf, sizeof buf, "  %-30s %-26s %10s %9s %7s %9s %7s  %s\n", "point", "variant / peer",
                "median_us", "GB/s", "%copy", "TFLOP/s", "%peak", "check");
  out += buf;
  struct Headline {
    const char* label;
    const char* key;  // point_key
    const char* goal;
  };
  const Headline points[] = {
      {"MLA b128 ctx4096 s_q1 h_q16", "mla|128|4096|uniform|1|16|1|576|", "goal >= 90% of copy"},
      {"MLA b128 ctx4096 s_q1 h_q32", "mla|128|4096|uniform|1|32|1|576|", "goal >= 90% of copy"},
      {"MLA b128 ctx4096 s_q1 h_q64", "mla|128|4096|uniform|1|64|1|576|", "goal >= 90% of copy"},
      {"MLA b128 ctx4096 s_q1 h_q128", "mla|128|4096|uniform|1|128|1|576|", "goal >= 60% of peak"},
      {"MLA b128 ctx4096 s_q2 h_q128", "mla|128|4096|uniform|2|128|1|576|", "goal >= 60% of peak"},
      {"GQA b64 ctx4096 (64,8,128)", "gqa|64|4096|uniform|1|64|8|128|", "goal >= 85% of copy"},
  };
  auto pct = [](double v, double of) {
    char b[32];
    if (of > 0)
      std::snprintf(b, sizeof b, "%6.1f%%", 100.0 * v / of);
    else
      std::snprintf(b, sizeof b, "%7s", "-");
    return std::string(b);
  };
  for (const Headline& h : points) {
    std::snprintf(buf, sizeof buf, "  %s (%s)\n", h.label, h.goal);
    out += buf;
    bool any = false;
    for (const CsvTable& t : in.timing) {
      // The fastest passing row of this point, to mark it.
      double best_us = 0.0;
      for (const auto& r : t.rows) {
        if (point_key(t, r) != h.key || t.get(r, "check") != kCheckPass) continue;
        const double us = cell_number(t.get(r, "median_us"));
        if (best_us <= 0.0 || us < best_us) best_us = us;
      }
      for (const auto& r : t.rows) {
        if (point_key(t, r) != h.key) continue;
        any = true;
        const double us = cell_number(t.get(r, "median_us"));
        const double gbps = cell_number(t.get(r, "gbps")), tflops = cell_number(t.get(r, "tflops"));
        const bool pass = t.get(r, "check") == kCheckPass;
        std::string name = t.get(r, "variant");
        if (pass && us == best_us) name += " *";
        std::snprintf(buf, sizeof buf, "  %-30s %-26s %10.1f %9.1f %s %9.1f %s  %s\n", "", name.c_str(), us,
                      gbps, pct(gbps, in.copy_gbps).c_str(), tflops, pct(tflops, in.peak_tflops).c_str(),
                      pass ? "pass" : "FAILED");
        out += buf;
      }
    }
    for (const auto& r : in.peers.rows) {
      if (point_key(in.peers, r) != h.key) continue;
      any = true;
      const double us = cell_number(in.peers.get(r, "median_us"));
      const double gbps = cell_number(in.peers.get(r, "gbps")),
                   tflops = cell_number(in.peers.get(r, "tflops"));
      const std::string name = "peer " + in.peers.get(r, "peer");
      const std::string match = in.peers.get(r, "inputs_match");
      std::snprintf(buf, sizeof buf, "  %-30s %-26s %10.1f %9.1f %s %9.1f %s  %s\n", "", name.c_str(), us,
                    gbps, pct(gbps, in.copy_gbps).c_str(), tflops, pct(tflops, in.peak_tflops).c_str(),
                    match == "yes" ? "inputs match" : ("inputs " + match).c_str());
      out += buf;
    }
    if (!any) out += "  " + std::string(30, ' ') + " not measured\n";
  }
  return out;
}

}  // namespace mlasim::attention
