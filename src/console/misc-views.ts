import { html } from "hono/html";
import type { OperatorAuthenticator } from "./operator-auth.js";
import { banner, type Html } from "./layout.js";

/** The live view: commands and events as they happen, with a pause. */
export function liveBody(base: string, stream: string): Html {
  return html`<h1>Live <span class="muted">commands and events as they happen</span></h1>
  <div id="live" data-src="${base}/live/stream" data-base="${base}">
    <div class="toolbar"><button id="live-pause" class="secondary">Pause</button><span id="live-state" class="pill">Connecting…</span></div>
    <div class="cols live-cols">
      <div class="panel"><h2>Commands</h2><div class="live-list"><table><thead><tr><th>Command</th><th>Key</th><th>Status</th><th>Received (UTC)</th></tr></thead>
        <tbody id="live-commands"></tbody></table><div class="empty" id="live-commands-empty">Waiting for commands…</div></div></div>
      <div class="panel"><h2>Events on ${stream}</h2><div class="live-list"><table><thead><tr><th class="num">Seq</th><th>Time (UTC)</th><th>Subject</th><th>Command</th></tr></thead>
        <tbody id="live-events"></tbody></table><div class="empty" id="live-events-empty">Waiting for events…</div></div></div>
    </div>
  </div>`;
}

/** Sign-in: the token form, or a link to the identity provider. */
export function loginBody(auth: OperatorAuthenticator | undefined, error?: string): Html {
  if (!auth) return html`<div class="login panel"><h1>Read-only console</h1><p class="muted">Actions are turned off (HERALD_CONSOLE_ACTIONS), so there is nothing to sign in for.</p></div>`;
  return html`<div class="login panel"><h1>Operator sign-in</h1>
    ${error ? banner("error", error) : ""}
    ${auth.method === "redirect"
      ? html`<a class="button" href="/auth/start">${auth.label}</a>`
      : html`<form method="post" action="/login" class="stack">
          <label>${auth.label}<input type="password" name="credential" autocomplete="current-password" required maxlength="16384"></label>
          <button>Sign in</button></form>`}
  </div>`;
}

/** An error page body. */
export const errorBody = (status: number, message: string): Html =>
  html`<h1>${status === 404 ? "Not found" : status === 403 ? "Not allowed" : status >= 500 ? "Something went wrong" : "Bad request"}</h1>${banner("error", message)}`;

/** The landing page when the database holds no commands yet. */
export const noDomainsBody = (): Html =>
  html`<h1>No domains yet</h1><div class="panel empty">The database holds no commands of any domain. Start a worker and send a command.</div>`;
