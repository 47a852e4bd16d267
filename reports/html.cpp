#include "reports/html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "reports/table_display.hpp"

namespace mlasim {

namespace {

// Escaped text with `code` spans; an unpaired backquote stays a backquote.
std::string inline_markdown(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find('`', pos);
    const std::size_t close = open == std::string_view::npos ? open : text.find('`', open + 1);
    if (close == std::string_view::npos) {
      out += html_escape(text.substr(pos));
      break;
    }
    out += html_escape(text.substr(pos, open - pos));
    out += "<code>" + html_escape(text.substr(open + 1, close - open - 1)) + "</code>";
    pos = close + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> table_cells(std::string_view line) {
  line = trim(line);
  if (!line.empty() && line.front() == '|') line.remove_prefix(1);
  if (!line.empty() && line.back() == '|') line.remove_suffix(1);
  std::vector<std::string_view> cells;
  while (true) {
    const std::size_t bar = line.find('|');
    cells.push_back(trim(line.substr(0, bar)));
    if (bar == std::string_view::npos) break;
    line.remove_prefix(bar + 1);
  }
  return cells;
}

bool is_separator_row(std::string_view line) {
  for (const std::string_view cell : table_cells(line)) {
    if (cell.empty() || cell.find_first_not_of("-:") != std::string_view::npos) return false;
  }
  return true;
}

std::string pipe_table_html(const std::vector<std::string_view>& lines) {
  std::string out = "<table>\n";
  std::size_t body_start = 0;
  if (lines.size() >= 2 && is_separator_row(lines[1])) {
    out += "<thead><tr>";
    for (const std::string_view c : table_cells(lines[0])) out += "<th>" + inline_markdown(c) + "</th>";
    out += "</tr></thead>\n";
    body_start = 2;
  }
  out += "<tbody>\n";
  for (std::size_t i = body_start; i < lines.size(); ++i) {
    out += "<tr>";
    for (const std::string_view c : table_cells(lines[i])) out += "<td>" + inline_markdown(c) + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

constexpr const char* kStyle =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em}h4{margin:1.2em 0 .4em}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.15em 1em}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.note{background:#fff6d6;border-left:4px solid #e0b400;padding:.5em 1em;margin:1em 0}
.banner{background:#fdecea;border-left:4px solid #c62828;padding:.5em 1em;margin:1em 0}.banner ul{margin:.3em 0;padding-left:1.4em}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1em}
figure{margin:0;border:1px solid #e4e4e4;padding:.4em;background:#fff}figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#555;margin-top:.3em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
code{background:#f2f2f2;padding:0 .2em}
)";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string table_to_html(const Table& table, int significant) {
  const Table shown = display_table(table, significant);
  std::string out = "<table>\n<thead><tr>";
  for (const Column& c : shown.columns()) {
    out += c.description.empty()
               ? "<th>" + html_escape(c.name) + "</th>"
               : "<th title=\"" + html_escape(c.description) + "\">" + html_escape(c.name) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : shown.rows()) {
    out += "<tr>";
    for (const Cell& cell : row) out += "<td>" + html_escape(std::get<std::string>(cell)) + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string markdown_to_html(std::string_view markdown, int heading_offset) {
  std::vector<std::string_view> lines;
  while (!markdown.empty()) {
    const std::size_t nl = markdown.find('\n');
    lines.push_back(markdown.substr(0, nl));
    if (nl == std::string_view::npos) break;
    markdown.remove_prefix(nl + 1);
  }
  std::string out;
  std::vector<std::string_view> paragraph, table;
  auto flush = [&]() {
    if (!paragraph.empty()) {
      std::string text;
      for (const std::string_view l : paragraph) text += (text.empty() ? "" : " ") + inline_markdown(trim(l));
      out += "<p>" + text + "</p>\n";
      paragraph.clear();
    }
    if (!table.empty()) {
      out += pipe_table_html(table);
      table.clear();
    }
  };
  for (const std::string_view raw : lines) {
    const std::string_view line = trim(raw);
    if (line.empty()) {
      flush();
    } else if (line.front() == '|') {
      if (!paragraph.empty()) flush();
      table.push_back(line);
    } else if (line.front() == '#') {
      flush();
      const std::size_t level = line.find_first_not_of('#');
      if (level == std::string_view::npos || level > 6 || line[level] != ' ') {
        paragraph.push_back(line);  // "#tag" is text, not a heading
      } else {
        const int shown = std::clamp(static_cast<int>(level) + heading_offset, 1, 6);
        out += fmt::format("<h{0}>{1}</h{0}>\n", shown, inline_markdown(trim(line.substr(level))));
      }
    } else {
      if (!table.empty()) flush();
      paragraph.push_back(line);
    }
  }
  flush();
  return out;
}

std::string inline_svg(std::string_view svg, std::string_view id_prefix) {
  const std::size_t start = svg.find("<svg");
  if (start != std::string_view::npos) svg.remove_prefix(start);
  std::string out;
  out.reserve(svg.size() + 256);
  const std::string prefix(id_prefix);
  // Longest patterns first: each is an attribute or reference gnuplot writes around an id.
  static const std::vector<std::string_view> patterns{"id='", "id=\"", "href='#", "href=\"#", "url(#"};
  std::size_t pos = 0;
  while (pos < svg.size()) {
    bool matched = false;
    for (const std::string_view p : patterns) {
      // " id=" only as a whole attribute name, not the tail of another (e.g. "grid=").
      const bool boundary =
          p[0] != 'i' || pos == 0 || svg[pos - 1] == ' ' || svg[pos - 1] == '\t' || svg[pos - 1] == '\n';
      if (boundary && svg.substr(pos, p.size()) == p) {
        out += p;
        out += prefix;
        pos += p.size();
        matched = true;
        break;
      }
    }
    if (!matched) out += svg[pos++];
  }
  return out;
}

std::string titled_svg(std::string_view svg, std::string_view title) {
  const std::string element = "<title>" + html_escape(title) + "</title>";
  const std::size_t open = svg.find("<svg");
  if (open == std::string_view::npos) return std::string(svg);
  const std::size_t start_end = svg.find('>', open);
  if (start_end == std::string_view::npos) return std::string(svg);
  // gnuplot writes <title>Gnuplot</title> before its first group: that one names the chart.
  const std::size_t first_group = svg.find("<g", start_end);
  const std::size_t old = svg.find("<title>", start_end);
  if (old != std::string_view::npos && (first_group == std::string_view::npos || old < first_group)) {
    const std::size_t old_end = svg.find("</title>", old);
    if (old_end != std::string_view::npos) {
      return std::string(svg.substr(0, old)) + element + std::string(svg.substr(old_end + 8));
    }
  }
  return std::string(svg.substr(0, start_end + 1)) + "\n" + element + std::string(svg.substr(start_end + 1));
}

void HtmlPage::add_heading(int level, std::string_view text, std::string_view anchor) {
  level = std::clamp(level, 1, 6);
  if (anchor.empty()) {
    body_ += fmt::format("<h{0}>{1}</h{0}>\n", level, html_escape(text));
  } else {
    body_ += fmt::format("<h{0} id=\"{2}\">{1}</h{0}>\n", level, html_escape(text), html_escape(anchor));
  }
}

void HtmlPage::add_paragraph(std::string_view text) {
  body_ += "<p>" + html_escape(text) + "</p>\n";
}

void HtmlPage::add_note(std::string_view text) {
  body_ += "<p class=\"note\">" + html_escape(text) + "</p>\n";
}

void HtmlPage::add_banner(std::string_view title, const std::vector<std::string>& items) {
  body_ += "<div class=\"banner\" role=\"note\">\n<p><strong>" + html_escape(title) + "</strong></p>\n<ul>\n";
  for (const std::string& item : items) body_ += "<li>" + html_escape(item) + "</li>\n";
  body_ += "</ul>\n</div>\n";
}

void HtmlPage::add_facts(const std::vector<std::pair<std::string, std::string>>& facts) {
  body_ += "<dl class=\"facts\">\n";
  for (const auto& [term, value] : facts) {
    body_ += "<dt>" + html_escape(term) + "</dt><dd>" + html_escape(value) + "</dd>\n";
  }
  body_ += "</dl>\n";
}

void HtmlPage::add_links(const std::vector<std::pair<std::string, std::string>>& links) {
  body_ += "<ul>\n";
  for (const auto& [text, anchor] : links) {
    body_ += "<li><a href=\"#" + html_escape(anchor) + "\">" + html_escape(text) + "</a></li>\n";
  }
  body_ += "</ul>\n";
}

void HtmlPage::add_figures(const std::vector<Figure>& figures) {
  body_ += "<div class=\"charts\">\n";
  for (const Figure& f : figures) {
    body_ += "<figure>\n";
    if (!f.svg.empty()) {
      const std::string svg = f.title.empty() ? f.svg : titled_svg(f.svg, f.title);
      body_ += inline_svg(svg, fmt::format("f{}_", ++figure_count_)) + "\n";
    }
    body_ += "<figcaption>" + html_escape(f.caption) + "</figcaption>\n</figure>\n";
  }
  body_ += "</div>\n";
}

std::string HtmlPage::str() const {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n"
      "<style>\n{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
      html_escape(title_), kStyle, body_);
}

}  // namespace mlasim
