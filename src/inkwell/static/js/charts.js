// Draws every Plotly chart in a post. Loaded with defer after plotly.min.js, and only on
// pages that have a chart; the figures live in data-plotly because the CSP forbids inline JS.
// The editor loads it too (before plotly.js) and calls drawCharts on its preview.
"use strict";

window.drawCharts = function (root) {
  root.querySelectorAll(".plotly-chart[data-plotly]").forEach(function (el) {
    try {
      var fig = JSON.parse(el.getAttribute("data-plotly"));
      Plotly.newPlot(el, fig.data, fig.layout || {}, { responsive: true, displaylogo: false });
    } catch (err) {
      // One broken chart must not stop the others from drawing.
      console.error("Could not draw chart", el, err);
    }
  });
};

if (window.Plotly) window.drawCharts(document);
