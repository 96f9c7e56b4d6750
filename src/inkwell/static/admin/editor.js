// The post editor: live preview rendered by the server (the same pipeline as published posts),
// image upload by button or drag-and-drop (asking for the image's description, inserting the
// Markdown at the cursor), and a warning before leaving the page with unsaved edits.
// Loaded with defer after js/charts.js; no inline script anywhere because the CSP forbids it.
"use strict";

(function () {
  var body = document.getElementById("body");
  var preview = document.getElementById("preview");
  var status = document.getElementById("editor-status");
  var picker = document.getElementById("upload-input");
  if (!body || !preview) return;
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var plotlyLoading = null;
  var timer = null;
  var latest = 0;

  function say(message) { status.textContent = message || ""; }

  function post(url, data, isJson) {
    var headers = { "X-CSRFToken": token, "Accept": "application/json" };
    if (isJson) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: "POST", credentials: "same-origin", headers: headers,
      body: isJson ? JSON.stringify(data) : data
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (response.status === 401) throw new Error("You were signed out; sign in again in another tab, then keep writing.");
        if (!response.ok) throw new Error(json.message || ("The server answered " + response.status + "."));
        return json;
      });
    });
  }

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve();
    if (!plotlyLoading) {
      plotlyLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = body.getAttribute("data-plotly-src");
        script.onload = resolve;
        script.onerror = function () { reject(new Error("Could not load the chart library.")); };
        document.head.appendChild(script);
      });
    }
    return plotlyLoading;
  }

  function drawCharts() { window.drawCharts(preview); }  // from js/charts.js

  function refresh() {
    var ticket = ++latest;
    post(body.getAttribute("data-preview-url"), { markdown: body.value }, true).then(function (json) {
      if (ticket !== latest) return;  // an older answer arriving late must not win
      preview.innerHTML = json.html;  // sanitized by the server with the published posts' allowlist
      say("");
      if (json.has_chart) loadPlotly().then(drawCharts).catch(function (err) { say(err.message); });
    }).catch(function (err) { say("Preview: " + err.message); });
  }

  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
  if (preview.querySelector(".plotly-chart")) loadPlotly().then(drawCharts).catch(function () {});

  function insertAtCursor(text) {
    var start = body.selectionStart, end = body.selectionEnd;
    var before = body.value.slice(0, start);
    var padded = (before && !/\n$/.test(before) ? "\n" : "") + text + "\n";
    body.setRangeText(padded, start, end, "end");
    body.focus();
    body.dispatchEvent(new Event("input"));
  }

  // MAX_UPLOAD_SIZE, checked here too so a too-large file is refused before it is sent.
  var maxBytes = Number(body.getAttribute("data-upload-max-bytes")) || 0;

  function megabytes(bytes) { return (Math.round(bytes / 104857.6) / 10) + " MB"; }

  function upload(files) {
    Array.prototype.forEach.call(files, function (file) {
      if (maxBytes && file.size > maxBytes) {
        say(file.name + ": the file is too large (" + megabytes(file.size) + "; max " + megabytes(maxBytes) + ").");
        return;
      }
      // Alt text: what a reader who cannot see the image needs to know. Cancel: nothing is uploaded.
      var description = window.prompt("Describe " + file.name + " for readers who cannot see it (alt text):", "");
      if (description === null) { say("Upload of " + file.name + " cancelled."); return; }
      var form = new FormData();
      form.append("file", file);
      form.append("alt", description.trim());
      say("Uploading " + file.name + "…");
      post(body.getAttribute("data-upload-url"), form, false).then(function (json) {
        insertAtCursor(json.markdown);
        say("Uploaded " + file.name + ".");
      }).catch(function (err) {
        say(file.name + ": " + (err.message === "Failed to fetch" ? "the upload failed (is the file too large?)" : err.message));
      });
    });
  }

  // Leaving with unsaved edits asks first; submitting the form (a save) is not leaving them.
  var form = body.form;
  var unsaved = Boolean(document.querySelector(".flash-error[role=alert]"));  // a refused save
  form.addEventListener("input", function () { unsaved = true; });
  form.addEventListener("submit", function () { unsaved = false; });
  window.addEventListener("beforeunload", function (e) {
    if (!unsaved) return;
    e.preventDefault();
    e.returnValue = "";  // older browsers need it set to show the prompt
  });

  if (picker) picker.addEventListener("change", function () { upload(picker.files); picker.value = ""; });
  body.addEventListener("dragover", function (e) {
    if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") !== -1) {
      e.preventDefault();
      body.classList.add("dragging");
    }
  });
  body.addEventListener("dragleave", function () { body.classList.remove("dragging"); });
  body.addEventListener("drop", function (e) {
    body.classList.remove("dragging");
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    upload(e.dataTransfer.files);
  });
})();
