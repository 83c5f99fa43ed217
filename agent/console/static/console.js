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

  function fragment(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    return holder.content;
  }

  // a form field the operator is typing in (an acknowledgement comment) is never replaced
  function typingIn(el) {
    var active = document.activeElement;
    return Boolean(active && el.contains(active) && /INPUT|TEXTAREA|SELECT/.test(active.tagName));
  }

  // the focus on a link or button moves to its replacement (same id)
  function keepingFocus(el, change) {
    var active = document.activeElement;
    var focusId = active && el.contains(active) ? active.id : null;
    change();
    if (focusId && document.activeElement !== document.getElementById(focusId)) {
      var again = document.getElementById(focusId);
      if (again) { again.focus(); }
    }
  }

  function startLive(board) {
    var status = document.querySelector("[data-live-status]");
    var interval = parseInt(board.dataset.interval, 10) || 2000;
    var busy = false;

    function sections() {
      return Array.prototype.slice.call(board.querySelectorAll("[data-section]"));
    }

    // the token of each part this page holds, as the last answer gave it
    function have() {
      return sections().map(function (el) {
        return el.dataset.section + ":" + el.dataset.digest;
      }).join(",");
    }

    function replaceWhole(el, html) {
      if (typingIn(el)) { return "later"; }
      keepingFocus(el, function () { el.innerHTML = html; });
      return true;
    }

    // tiles changed since the page's cursor: swap their <li>
    function replaceTiles(el, tiles) {
      var complete = true;
      keepingFocus(el, function () {
        Object.keys(tiles).forEach(function (sid) {
          var old = document.getElementById("tile-" + sid);
          var item = old && el.contains(old) ? old.closest("li") : null;
          if (item) { item.replaceWith(fragment(tiles[sid])); } else { complete = false; }
        });
      });
      return complete;
    }

    // rows added or changed since the page's cursor, and the order of all rows
    function replaceRows(el, order, rows) {
      var box = el.querySelector("[data-rows]");
      if (!box) { return false; }
      var active = document.activeElement;
      var typing = typingIn(box) ? active.closest("[data-row]") : null;
      var touched = typing && (rows[typing.dataset.row] !== undefined ||
        order.indexOf(typing.dataset.row) < 0);
      if (touched) { return "later"; }  // the row being typed in changed or went
      var held = {};
      Array.prototype.forEach.call(box.children, function (row) { held[row.dataset.row] = row; });
      if (order.some(function (id) { return rows[id] === undefined && !held[id]; })) { return false; }
      keepingFocus(el, function () {
        var wanted = {};
        var nodes = order.map(function (id) {
          wanted[id] = true;
          return rows[id] !== undefined ? fragment(rows[id]).firstElementChild : held[id];
        });
        Object.keys(held).forEach(function (id) {
          if (!wanted[id] || rows[id] !== undefined) { held[id].remove(); }
        });
        nodes.forEach(function (node, i) {
          var at = box.children[i];
          if (at !== node) { box.insertBefore(node, at || null); }
        });
        var total = el.querySelector("[data-total]"), list = el.querySelector("[data-list]");
        var empty = el.querySelector("[data-empty]");
        if (total) { total.textContent = order.length; }
        if (list) { list.hidden = order.length === 0; }
        if (empty) { empty.hidden = order.length > 0; }
      });
      return true;
    }

    // apply one part of an answer: applied, its new token is kept; left for later (the
    // operator is typing in it), the old one; something missing, none (the whole part next)
    function apply(el, part) {
      var done;
      if (part.html !== undefined) {
        done = replaceWhole(el, part.html);
      } else if (part.tiles) {
        done = replaceTiles(el, part.tiles);
      } else {
        done = replaceRows(el, part.order, part.rows);
      }
      if (done === true) { el.dataset.digest = part.digest; }
      if (done === false) { el.dataset.digest = ""; }
    }

    function poll() {
      if (busy) { return; }
      busy = true;
      fetch(board.dataset.live + "?v=2&have=" + encodeURIComponent(have()), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      }).then(function (body) {
        Object.keys(body.sections).forEach(function (name) {
          var el = board.querySelector('[data-section="' + name + '"]');
          if (el) { apply(el, body.sections[name]); }
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
