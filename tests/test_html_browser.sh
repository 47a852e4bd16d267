#!/usr/bin/env bash
# The reports in a real browser (issue 10): writes the example sweeps' report.html, a serving run's, a serve
# sweep's and a capacity plan's report.html and a validation's validate.html, loads each in headless Chromium and checks
#   - that the page loads without a console message: the pages carry no script, so any console line is the
#     browser complaining (an SVG attribute it cannot parse, a file it cannot load);
#   - that every inline chart is named by a <title>, is drawn at a readable size and has data in its plot area
#     (tests/test_html_browser.js, run in the page once it has loaded; see there);
# and first that the check can fail: a page with an untitled chart, an empty chart and an SVG path Chromium
# rejects must be refused.
#
#   tests/test_html_browser.sh MLASIM_BINARY WORK_DIR
#     MLASIM_CHROMIUM   the browser to run (default: chromium, chromium-browser or google-chrome on PATH)
#     MLASIM_SCREENSHOTS a folder: also write a PNG of the top of each page there (1400 px wide)
#
# Skipped (exit 77) without Chromium or gnuplot (no charts to check); scripts/dev.sh installs both. About
# 30 s. ctest runs it from the source folder (tests/CMakeLists.txt, "reports in a browser" block).
set -u -o pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -ne 2 ]; then
  echo "usage: $0 MLASIM_BINARY WORK_DIR" >&2
  exit 2
fi
mlasim=$1
work=$2

browser=${MLASIM_CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null; then
      browser=$(command -v "$b")
      break
    fi
  done
fi
if [ -z "$browser" ]; then
  echo "SKIPPED: no Chromium (chromium, chromium-browser or google-chrome on PATH, or MLASIM_CHROMIUM);"
  echo "         scripts/dev.sh installs the Debian package chromium"
  exit 77
fi
if ! command -v gnuplot >/dev/null; then
  echo "SKIPPED: no gnuplot on PATH: the reports would have no charts to check (scripts/dev.sh installs gnuplot-nox)"
  exit 77
fi
unset MLASIM_GNUPLOT  # the charts are what is checked

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
failures=0
fail() {
  echo "FAILED: $*"
  failures=$((failures + 1))
}

# run_browser OUT_PREFIX ARGS...: Chromium headless with its own profile; stdout and stderr to files.
run_browser() {
  local out=$1
  shift
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$work/profile" --window-size=1400,1000 --enable-logging=stderr --v=0 "$@" \
    >"$out.stdout" 2>"$out.stderr"
}

# check_page PAGE.html EXPECT: loads a copy of the page with the checker injected (in the page's folder, so
# that relative paths resolve the same) and prints the verdict. EXPECT is "ok" or "failed".
check_page() {
  local page=$1 expect=$2
  local dir name copy
  dir=$(dirname "$page")
  name=$(basename "$page" .html)
  copy="$dir/$name.browser-check.html"
  {
    # Errors from the very start of the page: the hook goes first in <head>.
    sed -n '1,/<head>/p' "$page"
    cat <<'EOF'
<script>
window.__mlasimErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  window.__mlasimErrors.push(e.message || ('cannot load ' + ((t && (t.src || t.href)) || 'a resource')));
}, true);
['error', 'warn'].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    window.__mlasimErrors.push('console.' + level + ': ' + Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
});
</script>
EOF
    sed -n '/<head>/,$p' "$page" | sed '1d' | sed '/<\/body>/,$d'
    echo "<script>window.addEventListener('load', function () {"
    cat "$here/test_html_browser.js"
    echo "});</script>"
    sed -n '/<\/body>/,$p' "$page"
  } >"$copy"
  local log="$dir/$name.browser"
  if ! run_browser "$log" --dump-dom "file://$copy"; then
    fail "$page: Chromium exited with an error (see $log.stderr)"
    return
  fi
  local verdict console
  verdict=$(sed -n '/<pre id="mlasim-browser-check">/,/<\/pre>/p' "$log.stdout" | sed -e 's/<[^>]*>//g' \
    -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e 's/&amp;/\&/g' | sed '/^$/d')
  console=$(grep ':CONSOLE' "$log.stderr" || true)
  echo "$page:"
  if [ -z "$verdict" ]; then
    echo "  (no verdict: the page did not load, or the check did not run)"
  else
    echo "$verdict" | sed 's/^/  /'
  fi
  if [ -n "$console" ]; then
    echo "  console:"
    echo "$console" | sed 's/^/    /'
  fi
  local got=ok
  if [ -z "$verdict" ] || [ "$(echo "$verdict" | tail -1)" != ok ] || [ -n "$console" ]; then got=failed; fi
  if [ "$got" != "$expect" ]; then
    fail "$page: expected the browser check to give $expect, got $got"
  fi
  local charts
  charts=$(echo "$verdict" | sed -n 's/^charts //p')
  if [ "$expect" = ok ] && ! [ "${charts:-0}" -gt 0 ]; then fail "$page: no chart on the page"; fi
  if [ -n "${MLASIM_SCREENSHOTS:-}" ] && [ "$expect" = ok ]; then
    mkdir -p "$MLASIM_SCREENSHOTS"
    local shot
    shot="$(cd "$MLASIM_SCREENSHOTS" && pwd)/$(basename "$dir")-$name.png"
    run_browser "$log.screenshot" --hide-scrollbars --window-size=1400,6000 --screenshot="$shot" "file://$page" ||
      fail "screenshot of $page"
  fi
}

# 1. The check can fail: an untitled chart, a chart with no data (only a key sample) and a path Chromium
#    rejects (a console message).
mkdir -p "$work/bad"
cat >"$work/bad/bad.html" <<'EOF'
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>bad</title>
</head>
<body>
<figure><svg viewBox="0 0 800 480" width="800" height="480"><title>Gnuplot</title>
<path class="gridline" d="M50,400 L750,400"/><path class="gridline" d="M50,20 L50,400"/>
<g id="f1_gnuplot_plot_1"><title>gnuplot_plot_1</title><path d="M100,100 L200,200"/></g></svg></figure>
<figure><svg viewBox="0 0 800 480" width="800" height="480"><title>empty chart</title>
<path class="gridline" d="M50,400 L750,400"/><path class="gridline" d="M50,20 L50,400"/>
<g id="f2_gnuplot_plot_1"><title>gnuplot_plot_1</title>
<g transform="translate(600,50)"><text>series</text></g><path d="M610,46 L650,46 M60,NaN L70,NaN"/></g></svg></figure>
<figure><figcaption>a chart that is missing</figcaption></figure>
</body>
</html>
EOF
check_page "$work/bad/bad.html" failed
for expected in "no <title> naming the chart" "\"empty chart\": no data drawn" "caption does not say why"; do
  grep -q "$expected" <(sed -n '/mlasim-browser-check/,/<\/pre>/p' "$work/bad/bad.browser.stdout" |
    sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g') || fail "the check did not report: $expected"
done
grep -q ':CONSOLE.*attribute d' "$work/bad/bad.browser.stderr" || fail "Chromium did not report the bad path"

# 2. The reports.
for config in deepseek_v3_attention llama3_70b_attention; do
  if ! "$mlasim" sweep "configs/$config.yaml" -q --out "$work/$config" >"$work/$config.log" 2>&1; then
    fail "mlasim sweep configs/$config.yaml (see $work/$config.log)"
    continue
  fi
  check_page "$work/$config/report.html" ok
done
# A serving run (CDFs, timelines), a serve sweep (latency against throughput) and a capacity plan (Pareto
# front, percentile against rate).
if "$mlasim" serve configs/serve_llama3_8b_h100.yaml --no-sweep -q --out "$work/serve" >"$work/serve.log" 2>&1; then
  check_page "$work/serve/report.html" ok
else
  fail "mlasim serve --no-sweep (see $work/serve.log)"
fi
if "$mlasim" serve configs/serve_llama3_8b_h100.yaml -q --out "$work/serve_sweep" >"$work/serve_sweep.log" 2>&1; then
  check_page "$work/serve_sweep/report.html" ok
else
  fail "mlasim serve (sweep) (see $work/serve_sweep.log)"
fi
if "$mlasim" plan tests/plan_fixtures/small_plan.yaml -q --out "$work/plan" >"$work/plan.log" 2>&1; then
  check_page "$work/plan/report.html" ok
else
  fail "mlasim plan (see $work/plan.log)"
fi
if "$mlasim" synthesize-run "$work/run" --quick >"$work/run.log" 2>&1 &&
  "$mlasim" validate "$work/run" --out "$work/validation" >>"$work/run.log" 2>&1; then
  check_page "$work/validation/validate.html" ok
else
  fail "mlasim synthesize-run / validate (see $work/run.log)"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all pages load without a console message; every chart is titled and drawn"
