import { html } from "hono/html";
import type { CommandFilterInput, CommandPage } from "../operations/command-list.js";
import type { CommandTrace } from "../operations/trace.js";
import { pretty, when, type Html } from "./layout.js";

/** Header names whose values are never shown. */
const SECRET_HEADER = /authorization|cookie|token|secret|password|api[-_]?key/i;

/** Headers as shown: secret-looking values masked. */
export const shownHeaders = (headers: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, SECRET_HEADER.test(k) ? "(hidden)" : v]));

const query = (input: CommandFilterInput, extra: Record<string, string>): string =>
  new URLSearchParams(Object.entries({ ...input, ...extra }).filter(([, v]) => v) as [string, string][]).toString();

/** The commands page: find by key or id, filter, one page of results. */
export function commandsBody(base: string, input: CommandFilterInput, result: CommandPage): Html {
  return html`<h1>Commands</h1>
  <div class="panel">
    <form class="filters" method="get" action="${base}/commands/find">
      <label>Idempotency key or command id<input type="text" name="q" required maxlength="256" placeholder="3f6c1d2e-… or a key" size="44"></label>
      <button>Find</button>
    </form>
    <form class="filters" method="get" action="${base}/commands" hx-get="${base}/commands" hx-target="main" hx-select="main" hx-swap="outerHTML" hx-push-url="true">
      <label>Command<input type="text" name="command" value="${input.command ?? ""}" maxlength="64" placeholder="any"></label>
      <label>Status<select class="field" name="status">
        ${["", "committed", "rejected"].map((s) => html`<option value="${s}" ${s === (input.status ?? "") ? "selected" : ""}>${s || "any"}</option>`)}
      </select></label>
      <label>Since<input type="text" name="since" value="${input.since ?? ""}" placeholder="1h or ISO-8601"></label>
      <label>Until<input type="text" name="until" value="${input.until ?? ""}" placeholder="now"></label>
      <label>Page size<input type="text" name="limit" value="${input.limit ?? ""}" placeholder="25" size="4"></label>
      <button>Filter</button>
    </form>
  </div>
  <div class="panel">
    ${result.rows.length === 0
      ? html`<div class="empty">No command matches.</div>`
      : html`<table id="commands"><thead><tr><th>Command</th><th>Idempotency key</th><th>Status</th><th>Received</th><th class="num">Attempts</th><th class="num">Commit</th></tr></thead><tbody>
        ${result.rows.map((r) => html`<tr><td><a href="${base}/commands/${r.id}">${r.command}</a></td><td class="mono">${r.idempotencyKey}</td>
          <td><span class="pill ${r.status}">${r.status}</span></td><td class="muted">${when(r.receivedAt)}</td><td class="num">${r.attempts}</td>
          <td class="num">${r.committedAt ? `${r.committedAt.getTime() - r.receivedAt.getTime()} ms` : "-"}</td></tr>`)}
      </tbody></table>`}
    <div class="pager">${result.next ? html`<a class="button secondary" href="${base}/commands?${query(input, { before: result.next })}">Older →</a>` : ""}</div>
  </div>`;
}

/** One command: input, reply, attempts, events with their stream sequence, and the Jaeger link. */
export function commandBody(t: CommandTrace, jaegerUrl: string): Html {
  const took = t.committedAt ? ` (+${t.committedAt.getTime() - t.receivedAt.getTime()} ms)` : "";
  return html`<h1>${t.command} <span class="pill ${t.status}">${t.status}</span></h1>
  <div class="panel"><dl class="facts">
    <dt>Command id</dt><dd class="mono" id="command-id">${t.id}</dd>
    <dt>Idempotency key</dt><dd class="mono" id="command-key">${t.idempotencyKey}</dd>
    <dt>Subject</dt><dd class="mono">${t.subject}</dd>
    <dt>Received</dt><dd>${when(t.receivedAt)}</dd>
    <dt>Committed</dt><dd>${when(t.committedAt)}${took}</dd>
    <dt>Attempts</dt><dd>${t.attempts} (${t.retries} ${t.retries === 1 ? "retry" : "retries"})</dd>
    <dt>Expires</dt><dd>${when(t.expiresAt)}</dd>
    <dt>Trace</dt><dd>${t.traceId ? html`<a id="jaeger" href="${jaegerUrl}/trace/${t.traceId}" target="_blank" rel="noopener noreferrer">${t.traceId}</a> (Jaeger)` : html`<span class="muted">the request carried no traceparent</span>`}</dd>
  </dl></div>
  <div class="cols">
    <div class="panel"><h2>Input</h2><pre id="command-input">${pretty(t.payload)}</pre></div>
    <div class="panel"><h2>Reply</h2><pre id="command-reply">${pretty(t.reply)}</pre></div>
  </div>
  <div class="panel"><h2>Events</h2>
    ${t.events.length === 0
      ? html`<div class="empty">No events.</div>`
      : html`<table id="events"><thead><tr><th>#</th><th>Subject</th><th>ce-id</th><th class="num">Stream seq</th><th>Published</th><th>Data</th></tr></thead><tbody>
        ${t.events.map((e) => html`<tr><td>${e.position}</td><td class="mono">${e.subject}</td><td class="mono">${e.id}</td>
          <td class="num" data-col="seq">${e.streamSeq ?? "-"}</td>
          <td>${e.publishedAt ? html`<span class="pill published">published</span> <span class="muted">${when(e.publishedAt)}</span>` : html`<span class="pill unpublished">unpublished</span> <span class="muted">${e.publishAttempts} attempt(s)</span>`}</td>
          <td><pre>${pretty(e.data)}</pre></td></tr>`)}
      </tbody></table>`}
  </div>`;
}
