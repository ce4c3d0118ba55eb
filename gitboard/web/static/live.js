// gitboard web board: live updates without a framework.
// The server sends a "tip" Server-Sent Event each time the board ref moves; the page then
// fetches its own URL again with the header X-Gitboard-Partial: 1 and swaps its live part.
// A refresh waits while the user is typing in, or has opened, a form of the live part.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var dot = document.getElementById("live-dot");
  if (!live || !window.EventSource) { return; }
  var pending = false, busy = false;

  function editing() {
    var a = document.activeElement;
    if (a && live.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName) && a.type !== "submit") { return true; }
    var fields = live.querySelectorAll("textarea, input:not([type=hidden])");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].closest("form.filters")) { continue; }
      if (fields[i].value) { return true; }
    }
    return false;
  }

  function openDetails() {
    var ids = [];
    live.querySelectorAll("details[open]").forEach(function (d) {
      var owner = d.closest("[data-task]");
      ids.push((owner ? owner.getAttribute("data-task") : "") + "|" + (d.className || ""));
    });
    return ids;
  }

  function restoreDetails(ids) {
    live.querySelectorAll("details").forEach(function (d) {
      var owner = d.closest("[data-task]");
      if (ids.indexOf((owner ? owner.getAttribute("data-task") : "") + "|" + (d.className || "")) >= 0) { d.open = true; }
    });
  }

  function refresh() {
    if (busy) { pending = true; return; }
    if (editing()) { pending = true; return; }
    busy = true; pending = false;
    fetch(window.location.href, { headers: { "X-Gitboard-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && editing()) { pending = true; return; }  // typing began while it loaded
        if (html !== null) {
          var keep = openDetails();  // as they are now: one may have been opened while it loaded
          live.innerHTML = html;
          restoreDetails(keep);
          var mark = live.querySelector("[data-tip]");
          var tip = mark ? mark.getAttribute("data-tip") : "";
          document.body.setAttribute("data-tip", tip);
          var shown = document.getElementById("tip");
          if (shown) { shown.textContent = tip.slice(0, 12); }
        }
      })
      .catch(function () { pending = true; })
      .then(function () { busy = false; if (pending) { setTimeout(refresh, 300); } });
  }

  setInterval(function () { if (pending) { refresh(); } }, 1000);
  var source = new EventSource("/events?tip=" + encodeURIComponent(document.body.getAttribute("data-tip") || ""));
  source.addEventListener("hello", function () { if (dot) { dot.classList.add("on"); } });
  source.addEventListener("tip", function (e) {
    if (e.data && e.data !== document.body.getAttribute("data-tip")) { refresh(); }
  });
  source.onerror = function () { if (dot) { dot.classList.remove("on"); } };
  source.onopen = function () { if (dot) { dot.classList.add("on"); } };
})();
