// gavel console: keyboard navigation and charts. Loaded as a file (the CSP
// allows no inline script); the pages work without it.
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); el.click(); return true; }
    return false;
  }

  // Queue: j/k (or arrows) move between appeals, Enter opens, n claims
  // and opens the next. Appeal: c claims, u/o choose the outcome and put
  // the cursor in the note, n goes to the next appeal.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) { return; }
    var links = Array.prototype.slice.call(document.querySelectorAll("a.row-link"));
    var i = links.indexOf(document.activeElement);
    switch (e.key) {
      case "j": case "ArrowDown":
        if (links.length && (e.key === "j" || i >= 0)) {
          links[Math.min(i + 1, links.length - 1)].focus(); e.preventDefault();
        }
        break;
      case "k": case "ArrowUp":
        if (links.length && (e.key === "k" || i >= 0)) {
          links[Math.max(i - 1, 0)].focus(); e.preventDefault();
        }
        break;
      case "n":
        if (click("next")) { e.preventDefault(); }
        break;
      case "c":
        if (click("claim")) { e.preventDefault(); }
        break;
      case "u": case "o":
        var r = document.getElementById(e.key === "u" ? "outcome-upheld" : "outcome-overturned");
        if (r) { r.checked = true; var note = document.getElementById("note"); (note || r).focus(); e.preventDefault(); }
        break;
    }
  });

  // Sparklines on the Rules page: fired per day as a line, overturned as
  // bars, drawn with uPlot from the data-spark attribute.
  function sparklines(root) {
    if (typeof uPlot === "undefined") { return; }
    var table = root.querySelector("table[data-days]");
    if (!table) { return; }
    var days = JSON.parse(table.getAttribute("data-days") || "[]");
    var xs = days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
    root.querySelectorAll("[data-spark]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      el.dataset.drawn = "1";
      var s = JSON.parse(el.getAttribute("data-spark"));
      if (!s[0] || !s[0].length) { return; }
      var opts = {
        width: el.clientWidth || 160, height: el.clientHeight || 36,
        pxAlign: false, cursor: { show: false }, select: { show: false }, legend: { show: false },
        scales: {
          x: { time: false, range: function (u, lo, hi) { return [lo - 43200, hi + 43200]; } },
          y: { range: function (u, lo, hi) { return [0, Math.max(1, hi)]; } },
        },
        axes: [{ show: false }, { show: false }],
        series: [{}, { stroke: "#0b5cad", width: 1.5, fill: "rgba(11,92,173,0.12)", points: { show: false } },
          { stroke: "#b4442b", fill: "rgba(180,68,43,0.6)", paths: uPlot.paths.bars({ size: [0.8, 6] }), points: { show: false } }],
      };
      new uPlot(opts, [xs, s[0], s[1]], el);
    });
  }

  function ready(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }
  ready(function () {
    sparklines(document);
    document.documentElement.dataset.ready = "1";
  });
})();
