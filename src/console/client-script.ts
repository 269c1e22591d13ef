/**
 * The console's browser script, served at /assets/console.js: the overview's
 * live chart (uPlot) and the live view (server-sent events, with a pause). It
 * ships as code, so the package needs no bundler; the page loads it after uPlot.
 */
export const CONSOLE_JS = String.raw`
(function () {
  "use strict";
  // Live rows show the time of day (UTC); the date is today's.
  function clock(iso) { return iso.slice(11, 23); }
  function text(tag, value, cls) { var el = document.createElement(tag); el.textContent = value; if (cls) el.className = cls; return el; }

  // Overview: commands per second by stored outcome over the last minute.
  var chartBox = document.getElementById("rates-chart");
  if (chartBox && window.uPlot) {
    var plot = null;
    var draw = function () {
      fetch(chartBox.dataset.src, { headers: { accept: "application/json" } }).then(function (r) { return r.json(); }).then(function (w) {
        var now = Math.floor(Date.now() / 1000), xs = [], ok = [], rej = [], by = {};
        w.perSecond.forEach(function (s) { by[s.t] = s; });
        for (var t = now - w.seconds + 1; t <= now; t++) { xs.push(t); ok.push(by[t] ? by[t].committed : 0); rej.push(by[t] ? by[t].rejected : 0); }
        var data = [xs, ok, rej];
        if (plot) { plot.setData(data); return; }
        plot = new uPlot({
          width: chartBox.clientWidth || 600, height: 220,
          series: [{}, { label: "committed/s", stroke: "#1f8a4c", width: 2, fill: "rgba(31,138,76,.08)", points: { show: false } },
                   { label: "rejected/s", stroke: "#b7791f", width: 2, points: { show: false } }],
          axes: [{}, { label: "commands/s" }],
          legend: { live: false },
        }, data, chartBox);
      }).catch(function () {});
    };
    draw();
    setInterval(draw, 2000);
  }

  // Live: commands and events pushed by the server; a pause keeps what arrives for later.
  var live = document.getElementById("live");
  if (live) {
    var paused = false, held = [], LIMIT = 200;
    var button = document.getElementById("live-pause"), state = document.getElementById("live-state");
    var show = function (kind, item) {
      var body = document.getElementById(kind === "command" ? "live-commands" : "live-events");
      var row = document.createElement("tr");
      row.dataset.id = item.id;
      if (kind === "command") {
        var link = document.createElement("a"); link.href = live.dataset.base + "/commands/" + encodeURIComponent(item.id); link.textContent = item.command;
        var cell = document.createElement("td"); cell.appendChild(link); row.appendChild(cell);
        row.appendChild(text("td", item.idempotencyKey, "mono"));
        var st = document.createElement("td"); st.appendChild(text("span", item.status, "pill " + item.status)); row.appendChild(st);
        row.appendChild(text("td", clock(item.receivedAt), "muted"));
      } else {
        row.appendChild(text("td", String(item.seq), "num"));
        row.appendChild(text("td", clock(item.time), "muted"));
        row.appendChild(text("td", item.subject, "mono"));
        row.appendChild(text("td", item.commandId || "-", "mono"));
      }
      body.insertBefore(row, body.firstChild);
      while (body.children.length > LIMIT) body.removeChild(body.lastChild);
      var empty = document.getElementById(kind === "command" ? "live-commands-empty" : "live-events-empty");
      if (empty) empty.remove();
    };
    var source = new EventSource(live.dataset.src);
    ["command", "event"].forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        var item = JSON.parse(e.data);
        if (paused) { held.push([kind, item]); if (held.length > 1000) held.shift(); state.textContent = "Paused, " + held.length + " waiting"; }
        else show(kind, item);
      });
    });
    source.addEventListener("open", function () { if (!paused) state.textContent = "Live"; });
    source.addEventListener("error", function () { state.textContent = "Reconnecting…"; });
    button.addEventListener("click", function () {
      paused = !paused;
      button.textContent = paused ? "Resume" : "Pause";
      if (paused) { state.textContent = "Paused"; return; }
      held.forEach(function (h) { show(h[0], h[1]); });
      held = [];
      state.textContent = "Live";
    });
  }

  // The domain picker goes to the chosen domain at once.
  var picker = document.querySelector(".domain-picker select");
  if (picker) picker.addEventListener("change", function () { picker.form.submit(); });

  // Dead letters: "select all" for the redrive form.
  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll("input[name=id]").forEach(function (box) { box.checked = all.checked; });
  });
})();
`;
