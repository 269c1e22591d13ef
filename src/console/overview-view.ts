import { html } from "hono/html";
import type { DomainOverview } from "../operations/overview.js";
import { banner, bytes, duration, when, type Html } from "./layout.js";

const card = (label: string, value: string | number, sub: string, id: string): Html =>
  html`<div class="card" data-figure="${id}"><div class="label">${label}</div><div class="value">${String(value)}</div><div class="sub">${sub}</div></div>`;

const rate = (n: number, seconds: number): string => (n / seconds).toFixed(n / seconds >= 10 ? 0 : 2);

/** The overview's figures: refreshed in place by htmx every 5 s. */
export function overviewFigures(o: DomainOverview, base: string): Html {
  const w = o.window;
  const dead = o.deadLetters.reduce((n, d) => n + d.count, 0);
  const problems = Object.entries(o.problems);
  return html`<div id="figures" hx-get="${base}/overview/figures" hx-trigger="every 5s" hx-swap="outerHTML">
  ${problems.map(([part, message]) => banner("error", `${part}: ${message}`))}
  <div class="grid">
    ${card("Committed / s", rate(w.committed, w.seconds), `${w.committed} in the last ${w.seconds} s`, "committed")}
    ${card("Rejected / s", rate(w.rejected, w.seconds), `${w.rejected} in the last ${w.seconds} s`, "rejected")}
    ${card("p50 commit", w.p50Ms === null ? "-" : `${w.p50Ms} ms`, "receive → commit", "p50")}
    ${card("p99 commit", w.p99Ms === null ? "-" : `${w.p99Ms} ms`, "receive → commit", "p99")}
    ${card("Retries", w.retries, `transaction retries, last ${w.seconds} s`, "retries")}
    ${card("Outbox backlog", o.outbox.pending, `oldest ${duration(o.outbox.oldestAgeMs)}`, "outbox")}
    ${card("Stream last seq", o.stream.exists ? o.stream.lastSeq : "-", o.stream.exists ? `${o.stream.stream}, ${o.stream.messages} messages` : `${o.stream.stream} does not exist`, "last-seq")}
    ${card("Dead letters", dead, `${o.deadLetters.length} consumer(s)`, "dead-letters")}
    ${card("Workers online", o.workers.length, "via $SRV discovery", "workers")}
  </div>
  <div class="cols">
    <div class="panel"><h2>Consumers</h2>${consumersTable(o, base)}</div>
    <div class="panel"><h2>CDC slots</h2>${slotsTable(o)}</div>
  </div>
  <div class="panel"><h2>Workers</h2>${workersTable(o)}</div>
</div>`;
}

function consumersTable(o: DomainOverview, base: string): Html {
  const names = [...new Set([...o.stream.consumers.map((c) => c.name), ...o.deadLetters.map((d) => d.consumer)])].sort();
  if (names.length === 0) return html`<div class="empty">No durable consumer on ${o.stream.stream}.</div>`;
  return html`<table id="consumers"><thead><tr><th>Consumer</th><th class="num">Lag</th><th class="num">Unacked</th><th class="num">Redelivered</th><th class="num">Dead letters</th></tr></thead><tbody>
    ${names.map((name) => {
      const c = o.stream.consumers.find((x) => x.name === name);
      const d = o.deadLetters.find((x) => x.consumer === name);
      return html`<tr data-consumer="${name}"><td>${name}</td><td class="num" data-col="lag">${c ? c.lag : "-"}</td><td class="num">${c ? c.ackPending : "-"}</td><td class="num">${c ? c.redelivered : "-"}</td>
        <td class="num" data-col="dead">${d ? html`<a href="${base}/dead-letters?consumer=${encodeURIComponent(name)}">${d.count}</a>` : "0"}</td></tr>`;
    })}
  </tbody></table>`;
}

function slotsTable(o: DomainOverview): Html {
  if (o.slots.length === 0) return html`<div class="empty">No logical replication slot (CockroachDB changefeeds keep their cursor in a job: SHOW CHANGEFEED JOBS).</div>`;
  return html`<table><thead><tr><th>Slot</th><th>State</th><th class="num">Lag</th><th class="num">Retained WAL</th><th class="num">Flush lag</th></tr></thead><tbody>
    ${o.slots.map((s) => html`<tr><td>${s.slot}</td><td><span class="pill ${s.active ? "ok" : "warn"}">${s.active ? "active" : "inactive"}</span>${s.walStatus === "lost" ? html` <span class="pill bad">lost</span>` : ""}</td>
      <td class="num">${bytes(s.lagBytes)}</td><td class="num">${bytes(s.retainedBytes)}</td><td class="num">${duration(s.flushLagMs)}</td></tr>`)}
  </tbody></table>`;
}

function workersTable(o: DomainOverview): Html {
  if (o.workers.length === 0) return html`<div class="empty">No worker of ${o.domain} answered $SRV.STATS.</div>`;
  return html`<table id="workers"><thead><tr><th>Instance</th><th>Version</th><th>Started</th><th class="num">Requests</th><th class="num">Committed</th><th class="num">Rejected</th><th class="num">Duplicates</th><th class="num">Errors</th><th class="num">Retries</th><th class="num">Batches</th><th class="num">Mean</th></tr></thead><tbody>
    ${o.workers.map((w) => {
      const errors = w.stats ? Object.values(w.stats.errors).reduce((n, x) => n + x, 0) : 0;
      return html`<tr><td class="mono">${w.id}</td><td>${w.version}</td><td class="muted">${when(w.started)}</td><td class="num">${w.requests}</td>
        <td class="num">${w.stats?.committed ?? "-"}</td><td class="num">${w.stats?.rejected ?? "-"}</td><td class="num">${w.stats?.duplicates ?? "-"}</td>
        <td class="num">${errors}</td><td class="num">${w.stats?.retries ?? "-"}</td><td class="num">${w.stats?.batches ?? "-"}</td><td class="num">${w.averageMs} ms</td></tr>`;
    })}
  </tbody></table>`;
}

/** The overview page's body. */
export function overviewBody(o: DomainOverview, base: string): Html {
  return html`<h1>${o.domain} <span class="muted">overview</span></h1>
  <div class="panel"><h2>Commands per second, last minute</h2><div id="rates-chart" class="chart" data-src="${base}/overview/rates.json"></div></div>
  ${overviewFigures(o, base)}`;
}
