// Draws the Plotly charts in a post. Loaded with defer, only on pages that have a chart; the
// figures live in data-plotly because the CSP forbids inline JS. Most charts come with a static
// picture drawn when the post was rendered (content/chart_picture.py): the reader sees that at
// once, and plotly.js is fetched when they reach for the chart (pointer over it, a tap, keyboard
// focus), so a page does not pay for a chart library nobody uses. A chart without a picture is
// drawn when it is about to scroll into view. Either way only the smallest bundle that draws
// the charts is fetched: each chart names the one it needs (data-plotly-bundle, chosen when the
// post was rendered: basic < cartesian < full), data-plotly-bundles on this script gives their
// URLs. The editor uses window.loadPlotlyFor and window.drawCharts for its preview.
"use strict";

(function () {
  var BUNDLES = ["basic", "cartesian", "full"];  // each draws every trace the one before does
  var script = document.currentScript;
  var urls = JSON.parse((script && script.getAttribute("data-plotly-bundles")) || "{}");
  var loaded = -1;  // index in BUNDLES of the bundle window.Plotly is
  var loading = null, loadingRank = -1;

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
      // The picture and the line that stood in for the chart (no JavaScript, a feed reader)
      // have done their job; a reader who was on the picture with the keyboard stays on it.
      var picture = el.querySelector(".chart-picture");
      if (picture) {
        if (document.activeElement === picture) {
          el.setAttribute("tabindex", "-1");
          el.focus({ preventScroll: true });
        }
        picture.remove();
      }
      var fallback = el.parentNode.querySelector(".chart-fallback");
      if (fallback) fallback.remove();
    } catch (err) {
      // One broken chart must not stop the others from drawing.
      console.error("Could not draw chart", el, err);
    }
  }

  // The rank of the bundle a chart needs; a chart that names none (raw HTML, an old render)
  // gets the full bundle.
  function rankOf(el) {
    var rank = BUNDLES.indexOf(el.getAttribute("data-plotly-bundle"));
    return rank < 0 ? BUNDLES.length - 1 : rank;
  }

  function charts(root) { return root.querySelectorAll(".plotly-chart[data-plotly]"); }

  // Resolves once window.Plotly draws every chart in root: the smallest bundle that does, or
  // the one already loaded if it is as large. A larger bundle replaces a smaller one.
  window.loadPlotlyFor = function (root) {
    var need = 0;
    charts(root).forEach(function (el) { need = Math.max(need, rankOf(el)); });
    if (loaded >= need) return Promise.resolve();
    if (loading && loadingRank >= need) return loading;
    var name = BUNDLES[need];
    if (!urls[name]) return Promise.reject(new Error("No URL for plotly.js's " + name + " bundle."));
    loadingRank = need;
    // After the one under way, if any: a smaller bundle arriving last would replace this one.
    loading = (loading || Promise.resolve()).catch(function () {}).then(function () {
      return new Promise(function (resolve, reject) {
        var tag = document.createElement("script");
        tag.src = urls[name];
        tag.onload = function () { loaded = need; resolve(); };
        tag.onerror = function () {
          loadingRank = loaded;  // let a later call try again
          reject(new Error("Could not load the chart library."));
        };
        document.head.appendChild(tag);
      });
    });
    return loading;
  };

  window.drawCharts = function (root) { charts(root).forEach(drawChart); };

  var all = charts(document);
  if (!all.length || !urls.full) return;  // the editor, with no chart yet: it calls us itself
  function show(el) {
    if (el.getAttribute("data-drawing")) return;
    el.setAttribute("data-drawing", "1");
    window.loadPlotlyFor(document).then(function () { drawChart(el); }, function (err) {
      el.removeAttribute("data-drawing");  // the next reach tries again
      console.error(err.message);
    });
  }
  var unpictured = [];
  all.forEach(function (el) {
    var picture = el.querySelector(".chart-picture");
    if (!picture) { unpictured.push(el); return; }
    ["pointerenter", "pointerdown", "focus"].forEach(function (type) {
      picture.addEventListener(type, function () { show(el); });
    });
  });
  if (!unpictured.length) return;
  if (!("IntersectionObserver" in window)) {
    unpictured.forEach(show);
    return;
  }
  // Start a little ahead of the chart (300 px), so it is usually drawn by the time it is seen.
  var watcher = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      watcher.unobserve(entry.target);
      show(entry.target);
    });
  }, { rootMargin: "300px 0px" });
  unpictured.forEach(function (el) { watcher.observe(el); });
})();
