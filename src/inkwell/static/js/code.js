// A "Copy" button in the head line of each code block (content/render.py's _code_block). Only
// with JavaScript, since only JavaScript can copy: without it there is no button that does
// nothing. Loaded with defer on pages that have code.
"use strict";

(function () {
  if (!navigator.clipboard) return; // the Clipboard API needs a secure context (https or localhost)
  document.querySelectorAll(".code-block").forEach(function (block) {
    var head = block.querySelector(".code-head");
    var code = block.querySelector("pre code") || block.querySelector("pre");
    if (!head || !code) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-code";
    button.textContent = "Copy";
    var reset = null;
    function say(text) {
      button.textContent = text;
      clearTimeout(reset);
      reset = setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(code.textContent).then(
        function () { say("Copied"); },
        function () { say("Could not copy"); }
      );
    });
    head.appendChild(button);
  });
})();
