// The post editor: live preview rendered by the server (the same pipeline as published posts),
// image upload by button or drag-and-drop (asking for the image's description, inserting the
// Markdown at the cursor), a warning before leaving the page with unsaved edits, and autosave of
// drafts (refused, with the reason shown, when another tab saved a newer version).
// Loaded with defer after js/charts.js; no inline script anywhere because the CSP forbids it.
"use strict";

(function () {
  var body = document.getElementById("body");
  var preview = document.getElementById("preview");
  var status = document.getElementById("editor-status");
  var picker = document.getElementById("upload-input");
  if (!body || !preview) return;
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var timer = null;
  var latest = 0;

  // The status line says the latest news (an upload, an autosave, a preview error); a preview
  // that works again clears only its own error, never the other messages.
  var previewError = false;
  function say(message) { status.textContent = message || ""; previewError = false; }

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

  // From js/charts.js: the smallest plotly.js bundle the preview's charts need (a larger one
  // when a new chart needs it), then every chart in the preview drawn.
  function drawCharts() {
    return window.loadPlotlyFor(preview).then(function () { window.drawCharts(preview); });
  }

  function refresh() {
    var ticket = ++latest;
    post(body.getAttribute("data-preview-url"), { markdown: body.value }, true).then(function (json) {
      if (ticket !== latest) return;  // an older answer arriving late must not win
      preview.innerHTML = json.html;  // sanitized by the server with the published posts' allowlist
      if (previewError) say("");
      if (json.has_chart) drawCharts().catch(function (err) { say(err.message); });
    }).catch(function (err) { say("Preview: " + err.message); previewError = true; });
  }

  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });

  // The preview follows the text: scrolled to the same share of its height as the text box
  // (when it scrolls on its own: beside the text on a wide screen, see admin.css).
  var previewBox = preview.closest(".editor-preview");
  function follow() {
    var room = body.scrollHeight - body.clientHeight;
    var previewRoom = previewBox.scrollHeight - previewBox.clientHeight;
    if (room > 0 && previewRoom > 0) previewBox.scrollTop = previewRoom * body.scrollTop / room;
  }
  body.addEventListener("scroll", follow);

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
        say(json.existing ? file.name + " was uploaded before: the same image is inserted."
                          : "Uploaded " + file.name + ".");
      }).catch(function (err) {
        say(file.name + ": " + (err.message === "Failed to fetch" ? "the upload failed (is the file too large?)" : err.message));
      });
    });
  }

  // Leaving with unsaved edits asks first; submitting the form (a save) is not leaving them.
  var form = body.form;
  var unsaved = Boolean(document.querySelector(".flash-error[role=alert]"));  // a refused save
  var edits = 0;  // counts edits, so an autosave answer knows whether newer ones came meanwhile
  form.addEventListener("input", function () { unsaved = true; edits++; });
  form.addEventListener("submit", function () { unsaved = false; clearTimeout(autosaveTimer); });

  // Autosave (drafts only: the form has data-autosave-url). A refused or failed autosave keeps
  // the text where it is and says why; a conflict (a newer save elsewhere) stops autosaving.
  var revision = document.getElementById("revision");
  var autosaveTimer = null, saving = false, pending = false, stopped = false;

  function autosave() {
    var url = form.getAttribute("data-autosave-url");
    if (!url || stopped || !unsaved) return;
    if (!form.elements.title.value.trim()) return;  // a draft needs a title first
    if (saving) { pending = true; return; }
    saving = true;
    var seen = edits;
    fetch(url, {
      method: "POST", credentials: "same-origin", body: new FormData(form),
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (response.ok) {
          revision.value = json.revision;
          if (form.getAttribute("action") !== json.edit_url) {  // a new post became a draft
            form.setAttribute("action", json.edit_url);
            history.replaceState(null, "", json.edit_url);
          }
          form.setAttribute("data-autosave-url", json.autosave_url);
          if (edits === seen) unsaved = false;
          say("Draft saved automatically at " + json.saved_at + ".");
          return;
        }
        if (response.status === 409) stopped = true;
        var why = response.status === 401 ? "you were signed out. Sign in again in another tab."
          : (json.message || "the server answered " + response.status + ".");
        say("Not saved: " + why.replace(/^Not saved( automatically)?: /, "") +
            " Your text is still here.");
      });
    }, function () {
      say("Not saved: the server cannot be reached. Your text is still here and is saved " +
          "when the connection is back.");
    }).then(function () {
      saving = false;
      if (pending) { pending = false; autosave(); }
    });
  }

  if (form.hasAttribute("data-autosave-url")) {
    form.addEventListener("input", function () {
      clearTimeout(autosaveTimer);
      autosaveTimer = setTimeout(autosave, 1500);
    });
    window.addEventListener("online", autosave);
  }
  window.addEventListener("beforeunload", function (e) {
    if (!unsaved) return;
    e.preventDefault();
    e.returnValue = "";  // older browsers need it set to show the prompt
  });

  // Write / Preview tabs, shown on narrow screens only (admin.css): one panel at a time, the
  // preview brought up to date when it is opened. Arrow keys move between the tabs.
  var tabs = form.querySelector(".editor-tabs");
  if (tabs) {
    var tabButtons = tabs.querySelectorAll("[role=tab]");
    var show = function (button) {
      Array.prototype.forEach.call(tabButtons, function (other) {
        var selected = other === button;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
      });
      form.setAttribute("data-tab", button.id === "tab-preview" ? "preview" : "write");
      if (button.id === "tab-preview") { clearTimeout(timer); refresh(); }
    };
    Array.prototype.forEach.call(tabButtons, function (button, index) {
      button.addEventListener("click", function () { show(button); });
      button.addEventListener("keydown", function (e) {
        if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
        var next = tabButtons[(index + 1) % tabButtons.length];
        show(next);
        next.focus();
      });
    });
    form.setAttribute("data-tab", "write");
    tabs.hidden = false;
  }

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
