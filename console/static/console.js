// The console's small behaviours; no framework, no inline scripts (the CSP forbids them).
// 1. The escalation queue: one EventSource; each "escalation" event carries the row's server-rendered
//    HTML. New cases go on top; a changed case is replaced in place; a resolved one leaves the queue.
// 2. The call page: clicking (or Enter on) a transcript turn seeks the recording to the turn's start.
(function () {
  "use strict";

  function startQueue(table) {
    var body = document.getElementById("queue-rows");
    var empty = document.getElementById("queue-empty");
    var status = document.getElementById("live-status");
    var source = new EventSource(table.dataset.stream);
    function live(on) {
      if (!status) return;
      status.classList.toggle("on", on);
      status.classList.toggle("off", !on);
      status.textContent = on ? status.dataset.on : status.dataset.off;
    }
    var dropped = false;
    source.addEventListener("open", function () {
      live(true);
      // Back after a disconnection: changes made meanwhile were not streamed, so reload the rows.
      if (dropped) refreshRows();
      dropped = false;
    });
    source.addEventListener("error", function () { live(false); dropped = true; });
    function refreshRows() {
      fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("queue-rows");
          if (fresh) body.innerHTML = fresh.innerHTML;
          if (empty) empty.classList.toggle("hidden", body.children.length > 0);
        })
        .catch(function () {});
    }
    source.addEventListener("escalation", function (event) {
      var change = JSON.parse(event.data);
      var existing = document.getElementById("esc-" + change.id);
      if (change.status === "resolved") {
        if (existing) existing.remove();
      } else {
        var holder = document.createElement("tbody");
        holder.innerHTML = change.html.trim();
        var row = holder.firstElementChild;
        if (existing) {
          existing.replaceWith(row);
        } else {
          row.classList.add("new");
          body.insertBefore(row, body.firstElementChild);
        }
        if (window.htmx) window.htmx.process(row);
      }
      if (empty) empty.classList.toggle("hidden", body.children.length > 0);
    });
  }

  function startCall(audio) {
    var turns = document.querySelectorAll(".turn[data-start-ms]");
    function seek(turn) {
      audio.currentTime = Number(turn.dataset.startMs) / 1000;
      var played = audio.play();
      if (played && played.catch) played.catch(function () {});
    }
    turns.forEach(function (turn) {
      turn.addEventListener("click", function () { seek(turn); });
      turn.addEventListener("keydown", function (e) { if (e.key === "Enter") seek(turn); });
    });
    audio.addEventListener("timeupdate", function () {
      var ms = audio.currentTime * 1000;
      var current = null;
      turns.forEach(function (turn) { if (Number(turn.dataset.startMs) <= ms) current = turn; });
      turns.forEach(function (turn) { turn.classList.toggle("playing", turn === current); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("queue");
    if (table && table.dataset.stream) startQueue(table);
    var audio = document.getElementById("recording");
    if (audio) startCall(audio);
  });
})();
