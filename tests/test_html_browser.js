// Runs inside a report page loaded by tests/test_html_browser.sh (headless Chromium), once the page has
// loaded, and writes its verdict into the page as a <pre> with the id mlasim-browser-check: a "charts N" line, one
// "problem: ..." line per problem, then "ok" or "failed". The script only reads the page; the pages themselves
// carry no script. What it checks, per inline <svg>:
//   - a <title> as a direct child, naming the chart (not gnuplot's "Gnuplot");
//   - a drawn size of at least 200 x 100 px;
//   - data drawn: at least one vertex of a series' path or filled polygon, or one point marker, inside the plot
//     area (the extent of the grid lines, which every chart has), key samples (beside a key label) not counted.
// A figure without an SVG must say in its caption why ("not drawn" or "not rendered"). Errors caught by the
// hook in <head> (window errors, failed loads, console.error / console.warn) are problems too.
(function () {
  'use strict';
  var problems = [];
  (window.__mlasimErrors || []).forEach(function (e) {
    problems.push('page error: ' + e);
  });

  var figures = document.querySelectorAll('figure');
  figures.forEach(function (figure, i) {
    if (figure.querySelector('svg')) return;
    var caption = figure.querySelector('figcaption');
    var text = caption ? caption.textContent : '';
    if (text.indexOf('not drawn') < 0 && text.indexOf('not rendered') < 0) {
      problems.push('figure ' + (i + 1) + ': no chart, and its caption does not say why');
    }
  });

  var translate = function (element) {
    var m = /translate\(\s*([-\d.eE]+)[ ,]+([-\d.eE]+)\s*\)/.exec((element && element.getAttribute('transform')) || '');
    return m ? [parseFloat(m[1]), parseFloat(m[2])] : null;
  };

  var svgs = document.querySelectorAll('svg');
  svgs.forEach(function (svg, i) {
    var title = null;
    for (var child = svg.firstElementChild; child; child = child.nextElementSibling) {
      if (child.tagName.toLowerCase() === 'title') {
        title = child;
        break;
      }
    }
    var name = title ? title.textContent.trim() : '';
    var label = 'chart ' + (i + 1) + (name ? ' "' + name + '"' : '');
    if (!name || name === 'Gnuplot') problems.push(label + ': no <title> naming the chart');

    var box = svg.getBoundingClientRect();
    if (box.width < 200 || box.height < 100) {
      problems.push(label + ': drawn ' + Math.round(box.width) + ' x ' + Math.round(box.height) + ' px');
    }

    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    svg.querySelectorAll('path.gridline').forEach(function (p) {
      var b = p.getBBox();
      x0 = Math.min(x0, b.x);
      x1 = Math.max(x1, b.x + b.width);
      y0 = Math.min(y0, b.y);
      y1 = Math.max(y1, b.y + b.height);
    });
    if (!(x1 > x0 && y1 > y0)) {
      problems.push(label + ': no plot area (no grid lines)');
      return;
    }
    var inside = function (x, y) {
      return x >= x0 - 1 && x <= x1 + 1 && y >= y0 - 1 && y <= y1 + 1;
    };

    var marks = 0;
    svg.querySelectorAll('g[id*="gnuplot_plot_"]').forEach(function (plot) {
      // A key entry is a label (a <text> in a translated group) with its sample drawn beside it.
      var keys = [];
      plot.querySelectorAll('text').forEach(function (t) {
        var at = translate(t.parentNode);
        if (at) keys.push(at);
      });
      var is_key = function (x, y) {
        return keys.some(function (k) {
          return Math.abs(y - k[1]) < 12 && Math.abs(x - k[0]) < 120;
        });
      };
      // gnuplot writes lines as <path d="M x,y L x,y ...">, filled areas as <polygon points="x,y x,y ...">.
      plot.querySelectorAll('path, polygon').forEach(function (p) {
        var re = /(-?[\d.]+),(-?[\d.]+)/g, m;
        var d = p.getAttribute(p.tagName.toLowerCase() === 'path' ? 'd' : 'points') || '';
        while ((m = re.exec(d))) {
          var x = parseFloat(m[1]), y = parseFloat(m[2]);
          if (inside(x, y) && !is_key(x, y)) ++marks;
        }
      });
      plot.querySelectorAll('use').forEach(function (u) {
        var at = translate(u);
        if (at && inside(at[0], at[1]) && !is_key(at[0], at[1])) ++marks;
      });
    });
    if (marks === 0) problems.push(label + ': no data drawn in the plot area');
  });

  var verdict = ['charts ' + svgs.length];
  problems.forEach(function (p) {
    verdict.push('problem: ' + p);
  });
  verdict.push(problems.length ? 'failed' : 'ok');
  var pre = document.createElement('pre');
  pre.id = 'mlasim-browser-check';
  pre.textContent = '\n' + verdict.join('\n') + '\n';
  document.body.appendChild(pre);
})();
