import type { Guarantee } from "./checks.js";

/** The demo's outcome: what `--json` prints and the text summary is made from. */
export interface DemoReport {
  domain: string;
  stream: string;
  runId: string;
  /** Every idempotency key of the run starts with it. */
  keyPrefix: string;
  accounts: string[];
  workers: number;
  transfers: number;
  concurrency: number;
  durationMs: number;
  /** Requests put on the wire (the client's own retries not counted). */
  sent: number;
  /** Commands committed (one per key): account openings and transfers. */
  committed: { total: number; accountsOpened: number; transfers: number };
  /** Commands a business rule refused, by code. */
  rejected: { total: number; byCode: Record<string, number>; mustReject: number; asExpected: number };
  /** Requests re-sent with the same key and payload, and how many got the stored reply back. */
  duplicates: { sent: number; replayed: number };
  /** Requests refused as invalid, by the worker (sent) or by the client (not sent), by code. */
  invalid: { total: number; byWorker: number; byClient: number; byCode: Record<string, number> };
  /** Keys re-sent with another payload, and how many got 409 idempotency_key_reused. */
  keyReuse: { sent: number; conflicts: number };
  /** Transaction retries after serialization conflicts: sum(attempts - 1) over the run's commands. */
  serializationRetries: number;
  /** Requests the client sent again on its own (timeouts, 503s). */
  clientRetries: number;
  events: { committedCommands: number; expected: number; inStream: number; copies: number };
  balances: { before: number; after: number; byAccount: Record<string, number> };
  guarantees: Guarantee[];
  /** Deviations from what was expected, first ones only. */
  problems: string[];
  /** True when every guarantee held. */
  ok: boolean;
}

const codes = (byCode: Record<string, number>) =>
  Object.entries(byCode)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");

/** The short readable summary printed on stdout. */
export function formatReport(r: DemoReport): string {
  const row = (label: string, value: string | number, note = "") => `  ${label.padEnd(22)}${String(value).padStart(12)}${note ? `   ${note}` : ""}`;
  const lines = [
    `Herald demo: domain ${r.domain}, run ${r.runId}, ${r.workers} workers, ${r.transfers} transfers at concurrency ${r.concurrency} (${(r.durationMs / 1000).toFixed(1)} s)`,
    "",
    row("requests sent", r.sent),
    row("committed", r.committed.total, `${r.committed.accountsOpened} accounts opened, ${r.committed.transfers} transfers`),
    row("rejected", r.rejected.total, codes(r.rejected.byCode) || "none"),
    row("replayed duplicates", `${r.duplicates.replayed}/${r.duplicates.sent}`, "same key and payload: stored reply, no new effect"),
    row("refused as invalid", r.invalid.total, `${codes(r.invalid.byCode)} (${r.invalid.byClient} by the client, before sending)`),
    row("key-reuse conflicts", `${r.keyReuse.conflicts}/${r.keyReuse.sent}`, "same key, other payload: 409"),
    row("serialization retries", r.serializationRetries, "transaction attempts retried after conflicts"),
    row("client retries", r.clientRetries, "timeouts and 503s sent again with the same key"),
    row("events in stream", `${r.events.inStream}/${r.events.committedCommands}`, `for ${r.events.committedCommands} committed commands${r.events.copies ? `, ${r.events.copies} extra copies` : ""}`),
    row("money", `${r.balances.after}/${r.balances.before}`, `across ${r.accounts.length} hot accounts`),
    "",
    ...r.guarantees.map((g) => `  ${g.held ? "ok  " : "FAIL"}  ${g.name}: ${g.detail}`),
    ...r.problems.map((p) => `        ${p}`),
    "",
    r.ok ? "Every guarantee held." : "Some guarantees did NOT hold.",
  ];
  return lines.join("\n");
}
