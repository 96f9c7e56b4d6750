// Draws every Plotly chart in a post. Loaded with defer after plotly.min.js, and only on
// pages that have a chart; the figures live in data-plotly because the CSP forbids inline JS.
// The editor loads it too (before plotly.js) and calls drawCharts on its preview.
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

window.drawCharts = function (root) {
  root.querySelectorAll(".plotly-chart[data-plotly]").forEach(function (el) {
    try {
      var fig = JSON.parse(el.getAttribute("data-plotly"));
      var layout = pageColours(el, fig.layout || {});
      Plotly.newPlot(el, fig.data, layout, { responsive: true, displaylogo: false });
    } catch (err) {
      // One broken chart must not stop the others from drawing.
      console.error("Could not draw chart", el, err);
    }
  });
};

if (window.Plotly) window.drawCharts(document);
