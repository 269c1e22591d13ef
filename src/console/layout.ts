import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { Session } from "./sessions.js";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The page shell's context: where we are and who is signed in. */
export interface PageContext {
  title: string;
  domain?: string;
  domains: readonly string[];
  /** Which tab is active. */
  tab?: "overview" | "commands" | "dead-letters" | "live" | "actions";
  session?: Session;
  actions: boolean;
  /** Load uPlot on this page. */
  chart?: boolean;
}

const TABS = [
  ["overview", "Overview", ""],
  ["commands", "Commands", "/commands"],
  ["dead-letters", "Dead letters", "/dead-letters"],
  ["live", "Live", "/live"],
  ["actions", "Operator log", "/actions"],
] as const;

/** Keeps htmx from evaluating code or injecting inline styles, so the CSP can forbid both. */
const HTMX_CONFIG = JSON.stringify({ allowEval: false, allowScriptTags: false, includeIndicatorStyles: false, selfRequestsOnly: true });

/** A whole page. */
export function page(ctx: PageContext, body: Html): Html {
  const base = ctx.domain ? `/d/${ctx.domain}` : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${ctx.title} · Herald console</title>
<link rel="stylesheet" href="/assets/console.css">
${ctx.chart ? raw('<link rel="stylesheet" href="/assets/uPlot.min.css">') : ""}
</head>
<body>
<header class="top">
  <div class="brand">Herald <span>console</span></div>
  <nav>
    ${ctx.domain ? TABS.map(([id, label, path]) => html`<a href="${base}${path}" class="${ctx.tab === id ? "on" : ""}">${label}</a>`) : ""}
  </nav>
  <div class="who">
    ${ctx.domains.length > 0 ? domainPicker(ctx) : ""}
    ${who(ctx)}
  </div>
</header>
<main>${body}</main>
<script src="/assets/htmx.min.js"></script>
${ctx.chart ? raw('<script src="/assets/uPlot.iife.min.js"></script>') : ""}
<script src="/assets/console.js"></script>
</body>
</html>`;
}

function domainPicker(ctx: PageContext): Html {
  return html`<form method="get" action="/go" class="domain-picker">
    <select name="domain" aria-label="domain">
      ${ctx.domains.map((d) => html`<option value="${d}" ${d === ctx.domain ? "selected" : ""}>${d}</option>`)}
    </select><noscript><button class="secondary">Go</button></noscript>
  </form>`;
}

function who(ctx: PageContext): Html {
  if (!ctx.actions) return html`<span class="pill">read-only</span>`;
  if (!ctx.session) return html`<a class="button secondary" href="/login">Sign in to act</a>`;
  return html`<span>Operator: <strong>${ctx.session.operator.name}</strong></span>
    <form method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.session.csrf}"><button class="secondary">Sign out</button></form>`;
}

/** A banner for errors and notices. */
export const banner = (kind: "error" | "info" | "ok", message: string): Html => html`<div class="banner ${kind}" role="${kind === "error" ? "alert" : "status"}">${message}</div>`;

/** A date as the page shows it (UTC, to the millisecond). */
export const when = (d: Date | string | null | undefined): string => (d ? new Date(d).toISOString().replace("T", " ").replace("Z", "") : "-");

/** JSON for a <pre>. */
export const pretty = (value: unknown): string => JSON.stringify(value ?? null, null, 2);

/** A byte count readable at a glance. */
export function bytes(n: number | null): string {
  if (n === null) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A duration in ms readable at a glance. */
export function duration(ms: number | null): string {
  if (ms === null) return "-";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
