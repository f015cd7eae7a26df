// tocsin: live countdowns on every clock, and pages that follow changes as they happen.
// No dependencies and no inline script: the content security policy allows only this file.
"use strict";

(function () {
  function span(seconds) {
    var s = Math.abs(Math.round(seconds));
    var parts = [[Math.floor(s / 86400), "d"], [Math.floor(s % 86400 / 3600), "h"],
      [Math.floor(s % 3600 / 60), "m"], [s % 60, "s"]];
    var first = 0;
    while (first < 3 && parts[first][0] === 0) first++;
    return parts.slice(first, first + 2).filter(function (p, i) { return p[0] > 0 || i === 0; })
      .map(function (p) { return p[0] + p[1]; }).join(" ");
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (clock) {
      var due = Date.parse(clock.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000;
      var label = clock.querySelector(".clock-left");
      if (!label) return;
      if (left >= 0) {
        label.textContent = "in " + span(left);
      } else {
        clock.classList.add("breached");
        clock.classList.remove("warn");
        label.textContent = "\u26a0 BREACHED " + span(-left) + " ago";
      }
    });
  }

  // Reload the page when what it shows changed, unless someone is typing into a form:
  // then say so and let them choose.
  function follow() {
    if (!window.EventSource || document.body.getAttribute("data-page") === "login") return;
    var article = document.querySelector("[data-incident]");
    var shown = article ? article.getAttribute("data-incident") : null;
    var source = new EventSource("/events");
    // A form on its way must not be cut short by a reload: its answer may lead elsewhere.
    var leaving = false;
    document.addEventListener("submit", function () { leaving = true; }, true);
    source.addEventListener("changed", function (event) {
      if (leaving) return;
      if (shown && event.data !== shown && event.data !== "*") return;
      var typing = Array.prototype.some.call(document.querySelectorAll("input:not([type=hidden]), textarea"),
        function (field) { return field.value && field.value !== field.defaultValue; });
      if (!typing) {
        window.location.reload();
        return;
      }
      var note = document.getElementById("live-note");
      if (!note || !note.hidden) return;
      note.textContent = "This page changed. ";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "Reload";
      button.addEventListener("click", function () { window.location.reload(); });
      note.appendChild(button);
      note.hidden = false;
    });
  }

  // A file kept as evidence is sent as it is, through the API, with the form's CSRF token;
  // a note goes with the form itself.
  function evidence() {
    document.querySelectorAll("form[data-evidence-upload]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        var input = form.querySelector("input[type=file]");
        var file = input && input.files && input.files[0];
        if (!file) return;
        event.preventDefault();
        var csrf = form.querySelector("input[name=csrf]").value;
        var url = form.getAttribute("data-evidence-upload") + "?name=" + encodeURIComponent(file.name);
        fetch(url, { method: "POST", body: file, credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, "Content-Type": file.type || "application/octet-stream" } })
          .then(function (response) {
            if (response.ok) { window.location.reload(); return; }
            return response.json().then(function (body) {
              window.alert("Not kept: " + ((body.error && body.error.message) || response.status));
            });
          });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    follow();
    evidence();
  });
})();
