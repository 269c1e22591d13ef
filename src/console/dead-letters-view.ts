import { html } from "hono/html";
import type { DeadLetterCount, StoredDeadLetter } from "../operations/dead-letters.js";
import type { OperatorAction } from "../operations/operator-log.js";
import { shownHeaders } from "./commands-view.js";
import { pretty, when, type Html } from "./layout.js";
import type { Session } from "./sessions.js";

export interface DeadLettersViewInput {
  base: string;
  consumer?: string;
  counts: DeadLetterCount[];
  letters: StoredDeadLetter[];
  actions: boolean;
  session?: Session;
}

const csrfField = (s: Session | undefined): Html => html`<input type="hidden" name="csrf" value="${s?.csrf ?? ""}">`;

/** Dead letters per consumer, each with its error and deliveries; redrive and replay forms when actions are on. */
export function deadLettersBody(v: DeadLettersViewInput): Html {
  const canAct = v.actions && v.session !== undefined;
  return html`<h1>Dead letters${v.consumer ? html` <span class="muted">of ${v.consumer}</span>` : ""}</h1>
  <div class="toolbar">
    <a class="button ${v.consumer ? "secondary" : ""}" href="${v.base}/dead-letters">All consumers</a>
    ${v.counts.map((c) => html`<a class="button ${c.consumer === v.consumer ? "" : "secondary"}" href="${v.base}/dead-letters?consumer=${encodeURIComponent(c.consumer)}">${c.consumer} (${c.count})</a>`)}
  </div>
  ${v.actions && !v.session ? html`<div class="banner info">Sign in as an operator to redrive or replay.</div>` : ""}
  <div class="panel">
  ${v.letters.length === 0
    ? html`<div class="empty">No dead letters.</div>`
    : html`<form method="post" action="${v.base}/actions/redrive">${csrfField(v.session)}
      <table id="dead-letters"><thead><tr><th><input type="checkbox" id="select-all" aria-label="select all"></th><th>Consumer</th><th>Event</th><th class="num">Seq</th><th class="num">Deliveries</th><th>Error</th><th>When</th><th></th></tr></thead><tbody>
      ${v.letters.map((l) => html`<tr data-id="${l.id}"><td><input type="checkbox" name="id" value="${l.id}" aria-label="select ${l.id}"></td><td>${l.consumer}</td>
        <td><span class="mono">${l.subject}</span><br><span class="muted mono">${l.eventId ?? "no ce-id"}</span></td><td class="num">${l.streamSeq ?? "-"}</td>
        <td class="num" data-col="deliveries">${l.deliveries}</td><td class="error-text">${l.error}</td><td class="muted">${when(l.createdAt)}</td>
        <td>${canAct ? html`<button name="one" value="${l.id}" class="secondary">Redrive</button>` : ""}</td></tr>
        <tr><td></td><td colspan="7"><details><summary class="muted">data and headers</summary><pre>${pretty({ data: l.data, headers: shownHeaders(l.headers) })}</pre></details></td></tr>`)}
      </tbody></table>
      ${canAct ? html`<div class="pager"><button>Redrive selected</button></div>` : ""}
    </form>`}
  </div>
  ${canAct ? replayForm(v) : ""}`;
}

function replayForm(v: DeadLettersViewInput): Html {
  return html`<div class="panel"><h2>Replay a time range</h2>
    <p class="muted">Re-publishes the stored events of commands committed in the range, in commit order. Into the original subjects, JetStream drops those still inside its duplicate window; consumers with an inbox apply nothing twice.</p>
    <form class="filters" method="post" action="${v.base}/actions/replay">${csrfField(v.session)}
      <label>Since<input type="text" name="since" required placeholder="2h or ISO-8601"></label>
      <label>Until<input type="text" name="until" placeholder="now"></label>
      <label>Subject<input type="text" name="subject" placeholder="every event"></label>
      <label>To subject prefix<input type="text" name="prefix" placeholder="original subjects"></label>
      <button>Replay…</button>
    </form></div>`;
}

/** A confirmation page: what will happen, and one button that does it. */
export function confirmBody(title: string, lines: readonly string[], action: string, fields: Record<string, string | string[]>, session: Session, cancel: string): Html {
  return html`<h1>${title}</h1>
  <div class="panel"><div class="banner info">Confirm this action. It is recorded in the operator log with your name.</div>
    <ul>${lines.map((l) => html`<li>${l}</li>`)}</ul>
    <form method="post" action="${action}">
      ${Object.entries(fields).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => html`<input type="hidden" name="${k}" value="${x}">`))}
      <input type="hidden" name="confirm" value="yes">${csrfField(session)}
      <button class="danger" id="confirm">Confirm</button> <a class="button secondary" href="${cancel}">Cancel</a>
    </form></div>`;
}

/** The result of an action. */
export function resultBody(title: string, message: string, ok: boolean, back: string): Html {
  return html`<h1>${title}</h1><div class="banner ${ok ? "ok" : "error"}" id="result">${message}</div><a class="button secondary" href="${back}">Back</a>`;
}

/** The operator log. */
export function actionsBody(actions: OperatorAction[]): Html {
  return html`<h1>Operator log</h1><div class="panel">
  ${actions.length === 0
    ? html`<div class="empty">No action recorded.</div>`
    : html`<table id="operator-log"><thead><tr><th>When</th><th>Operator</th><th>Action</th><th>Outcome</th><th>Target</th><th>Detail</th></tr></thead><tbody>
      ${actions.map((a) => html`<tr><td class="muted">${when(a.at)}</td><td>${a.operator}</td><td>${a.action}</td><td><span class="pill ${a.outcome}">${a.outcome}</span></td>
        <td><code>${JSON.stringify(a.target)}</code></td><td>${a.detail}</td></tr>`)}
    </tbody></table>`}</div>`;
}

/** The prune form of the operator log page. */
export const pruneForm = (base: string, session: Session): Html =>
  html`<div class="panel"><h2>Prune</h2><form method="post" action="${base}/actions/prune" class="filters">
    <input type="hidden" name="csrf" value="${session.csrf}"><span class="muted">Delete this domain's rows past their retention now (workers and consumers also do it every 10 minutes).</span>
    <button>Prune…</button></form></div>`;
