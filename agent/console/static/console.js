// vigia console: live board sections without reloading, and running elapsed times.
(function () {
  "use strict";

  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function tickElapsed() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-start]").forEach(function (el) {
      var elapsed = now - parseFloat(el.dataset.start);
      var amber = parseFloat(el.dataset.amber), red = parseFloat(el.dataset.red);
      var level = elapsed > red ? "late" : elapsed >= amber ? "warn" : "ok";
      el.textContent = clock(elapsed);
      el.classList.remove("lvl-ok", "lvl-warn", "lvl-late");
      el.classList.add("lvl-" + level);
      var row = el.closest("tr");
      if (row) { row.className = row.className.replace(/lvl-\w+/, "lvl-" + level); }
    });
  }

  function startLive(board) {
    var status = document.querySelector("[data-live-status]");
    var interval = parseInt(board.dataset.interval, 10) || 2000;
    var busy = false;

    function sections() {
      return Array.prototype.slice.call(board.querySelectorAll("[data-section]"));
    }

    function have() {
      return sections().map(function (el) {
        return el.dataset.section + ":" + el.dataset.digest;
      }).join(",");
    }

    function replace(el, html, digest) {
      // keep what the operator is doing: do not replace a section holding the focus of a
      // form field (typing a comment); restore focus on links/buttons by id
      var active = document.activeElement;
      if (active && el.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName)) {
        return;
      }
      var focusId = active && el.contains(active) ? active.id : null;
      el.innerHTML = html;
      el.dataset.digest = digest;
      if (focusId) {
        var again = document.getElementById(focusId);
        if (again) { again.focus(); }
      }
    }

    function poll() {
      if (busy) { return; }
      busy = true;
      fetch(board.dataset.live + "?have=" + encodeURIComponent(have()), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (body) {
        Object.keys(body.sections).forEach(function (name) {
          var el = board.querySelector('[data-section="' + name + '"]');
          if (el) { replace(el, body.sections[name].html, body.sections[name].digest); }
        });
        tickElapsed();
        if (status) {
          status.classList.remove("stale");
          status.textContent = board.dataset.updated + " " + new Date().toLocaleTimeString();
        }
        board.dataset.lastUpdate = body.at;
      }).catch(function () {
        if (status) { status.classList.add("stale"); status.textContent = board.dataset.stale; }
      }).then(function () { busy = false; });
    }

    setInterval(poll, interval);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tickElapsed();
    setInterval(tickElapsed, 1000);
    var board = document.getElementById("board");
    if (board) { startLive(board); }
  });
})();
