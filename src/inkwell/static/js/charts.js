// Draws the Plotly charts in a post. Loaded with defer, only on pages that have a chart; the
// figures live in data-plotly because the CSP forbids inline JS. On a post, plotly.js (several
// MB) is fetched only when a chart is about to scroll into view (data-plotly-src on this script).
// The editor loads it too (with no data-plotly-src), loads plotly.js itself and calls drawCharts.
"use strict";

// Unless a figure sets its own colours, a chart sits on the page's background and takes its
// text colour, so it reads in dark mode too (Plotly's default is black on white).
function pageColours(el, layout) {
  var style = getComputedStyle(el);
  if (layout.paper_bgcolor === undefined) layout.paper_bgcolor = "rgba(0,0,0,0)";
  if (layout.plot_bgcolor === undefined) layout.plot_bgcolor = "rgba(0,0,0,0)";
  layout.font = layout.font || {};
  if (layout.font.color === undefined) layout.font.color = style.color;
  return layout;
}

function drawChart(el) {
  try {
    var fig = JSON.parse(el.getAttribute("data-plotly"));
    var layout = pageColours(el, fig.layout || {});
    Plotly.newPlot(el, fig.data, layout, { responsive: true, displaylogo: false });
  } catch (err) {
    // One broken chart must not stop the others from drawing.
    console.error("Could not draw chart", el, err);
  }
}

window.drawCharts = function (root) {
  root.querySelectorAll(".plotly-chart[data-plotly]").forEach(drawChart);
};

(function () {
  var plotlySrc = document.currentScript && document.currentScript.getAttribute("data-plotly-src");
  if (!plotlySrc) {
    if (window.Plotly) window.drawCharts(document);
    return;
  }
  var loading = null;
  function withPlotly(then) {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = plotlySrc;
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    loading.then(then, function () { console.error("Could not load " + plotlySrc); });
  }
  var charts = document.querySelectorAll(".plotly-chart[data-plotly]");
  if (!("IntersectionObserver" in window)) {
    withPlotly(function () { window.drawCharts(document); });
    return;
  }
  // Start a little ahead of the chart (300 px), so it is usually drawn by the time it is seen.
  var watcher = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      watcher.unobserve(entry.target);
      withPlotly(function () { drawChart(entry.target); });
    });
  }, { rootMargin: "300px 0px" });
  charts.forEach(function (el) { watcher.observe(el); });
})();
