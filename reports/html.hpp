#pragma once
/// A self-contained HTML page: inline CSS, inline SVG charts, tables; no script, no external file, no
/// network. Every text added is escaped; only SVG from gnuplot and the page's own markup go in as markup.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/table.hpp"

namespace mlasim {

/// Escapes & < > " ' for HTML text and attribute values.
[[nodiscard]] std::string html_escape(std::string_view text);

/// A Table as an HTML <table>, shown as display_table shows it: headers with units (the description as a
/// tooltip), numbers in their column's unit with `significant` digits.
[[nodiscard]] std::string table_to_html(const Table& table, int significant = 4);

/// The Markdown the reports write (ATX headings, paragraphs, pipe tables, `code` spans) as HTML. Anything
/// else is kept as escaped text, so no input can inject markup. Headings move `heading_offset` levels down
/// (at most to h6), for Markdown placed under a page's own headings.
[[nodiscard]] std::string markdown_to_html(std::string_view markdown, int heading_offset = 0);

/// An SVG document made fit to sit inline in a page beside others: the XML prologue dropped, and every id and
/// #reference prefixed with `id_prefix` (gnuplot gives every chart the same ids).
[[nodiscard]] std::string inline_svg(std::string_view svg, std::string_view id_prefix);

/// The SVG with `title` (escaped) as its <title>, the name a screen reader or a browser gives the chart:
/// gnuplot's first <title> ("Gnuplot") replaced, or one added as the first child of <svg>.
[[nodiscard]] std::string titled_svg(std::string_view svg, std::string_view title);

/// One chart on the page: its SVG, or none (then the caption stands alone).
struct Figure {
  std::string svg;      ///< as gnuplot wrote it; empty when not rendered
  std::string caption;  ///< plain text
  std::string title;    ///< the chart's name, the SVG's <title>; empty: gnuplot's is kept
};

/// The files of a report beside its tables: the page and its charts' data and scripts.
struct ReportFiles {
  std::vector<std::pair<std::string, std::string>> files;  ///< (path relative to the output folder, content)
  std::string note;  ///< empty when the charts were drawn; else why not (also on the page)
};

/// Builds a page section by section; str() gives the whole document.
class HtmlPage {
 public:
  explicit HtmlPage(std::string title) : title_(std::move(title)) {}

  /// `anchor`, when given, becomes the heading's id for in-page links.
  void add_heading(int level, std::string_view text, std::string_view anchor = {});
  void add_paragraph(std::string_view text);
  /// A highlighted note (charts not rendered, what a subset shows).
  void add_note(std::string_view text);
  /// A warning box at the top of a page: a bold title, then one list item per line (what is not shown and
  /// why).
  void add_banner(std::string_view title, const std::vector<std::string>& items);
  /// A definition list of (term, value) pairs: the page header's facts.
  void add_facts(const std::vector<std::pair<std::string, std::string>>& facts);
  /// A list of in-page links (text, anchor).
  void add_links(const std::vector<std::pair<std::string, std::string>>& links);
  /// Figures in a responsive grid, two or three to a row on a wide screen.
  void add_figures(const std::vector<Figure>& figures);
  void add_markdown(std::string_view markdown, int heading_offset = 0) {
    body_ += markdown_to_html(markdown, heading_offset);
  }
  void add_table(const Table& table) { body_ += table_to_html(table); }

  [[nodiscard]] std::string str() const;

 private:
  std::string title_;
  std::string body_;
  int figure_count_ = 0;  ///< numbers SVG id prefixes so that ids stay unique on the page
};

}  // namespace mlasim
