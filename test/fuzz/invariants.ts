import { isDeepStrictEqual } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { sql, type Kysely } from "kysely";
import { streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import type { RunResult } from "./runner.js";

/**
 * Whole-run checks against the database, the stream and the worker's own
 * counters: the bad traffic left no trace, the valid traffic left exactly its own.
 */

async function count(db: Kysely<any>, query: ReturnType<typeof sql<{ n: string | number }>>): Promise<number> {
  return Number((await query.execute(db)).rows[0]?.n ?? 0);
}

/** Waits until every outbox row is published (the relay and the after-reply publishes are done). */
export async function waitForOutboxDrained(db: Kysely<any>, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await count(db, sql`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`)) === 0, {
    timeoutMs,
    intervalMs: 100,
    what: "every outbox event to be published",
  });
}

/** Returns the reasons the stored state differs from what the valid traffic alone explains. */
export async function checkStoredState(db: Kysely<any>, nc: NatsConnection, domain: string, run: RunResult): Promise<string[]> {
  const problems: string[] = [];
  const { model } = run.plan;
  const keys = (await sql<{ k: string }>`SELECT idempotency_key AS k FROM herald_commands`.execute(db)).rows.map((r) => r.k);
  const unexpected = keys.filter((k) => !run.storedKeys.has(k));
  if (unexpected.length > 0) problems.push(`${unexpected.length} stored key(s) no valid request used, e.g. ${JSON.stringify(unexpected.slice(0, 5))}`);
  if (keys.length !== run.storedKeys.size) problems.push(`herald_commands has ${keys.length} rows; the valid traffic explains ${run.storedKeys.size}`);

  const committed = await count(db, sql`SELECT count(*) AS n FROM herald_commands WHERE status = 'committed'`);
  const rejected = await count(db, sql`SELECT count(*) AS n FROM herald_commands WHERE status = 'rejected'`);
  if (committed !== model.committed) problems.push(`${committed} committed commands stored; expected ${model.committed}`);
  if (rejected !== model.rejected + run.storedRejections) problems.push(`${rejected} rejected commands stored; expected ${model.rejected + run.storedRejections}`);

  // One event per committed bank command.
  const outbox = await count(db, sql`SELECT count(*) AS n FROM herald_outbox`);
  if (outbox !== model.committed) problems.push(`herald_outbox has ${outbox} rows; expected ${model.committed}`);
  const inStream = await streamCount(nc, `${domain.toUpperCase()}_EVENTS`);
  if (inStream !== model.committed) problems.push(`the stream holds ${inStream} events; expected ${model.committed}`);

  const rows = await sql<{ id: string; balance: string | number }>`SELECT id, balance FROM bank_accounts ORDER BY id`.execute(db);
  const actual = Object.fromEntries(rows.rows.map((r) => [r.id, Number(r.balance)]));
  const expected = Object.fromEntries([...model.balances.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  if (!isDeepStrictEqual(actual, expected)) {
    const diff = Object.keys({ ...actual, ...expected }).filter((id) => actual[id] !== expected[id]).slice(0, 5);
    problems.push(`balances differ from the model for ${diff.map((id) => `${id}: ${actual[id]} vs ${expected[id]}`).join(", ")}`);
  }
  return problems;
}

/** The worker's own counters ($SRV.STATS) agree with what the client saw. */
export async function checkWorkerStats(nc: NatsConnection, domain: string, run: RunResult): Promise<string[]> {
  const responses = [];
  for await (const s of await new Svcm(nc).client().stats(domain)) responses.push(s);
  if (responses.length !== 1) return [`expected one worker to answer $SRV.STATS, got ${responses.length}`];
  const stats = responses[0]!.endpoints?.[0]?.data as
    | { committed: number; rejected: number; duplicates: number; errors: Record<string, number> }
    | undefined;
  if (!stats) return ["$SRV.STATS carried no dispatcher stats"];
  const problems: string[] = [];
  const t = run.tally;
  const errors = Object.fromEntries(Object.entries(t).filter(([k]) => k.startsWith("error:")).map(([k, n]) => [k.slice(6), n]));
  const reported = Object.fromEntries(Object.entries(stats.errors).filter(([, n]) => n > 0));
  if (!isDeepStrictEqual(sortKeys(reported), sortKeys(errors))) {
    problems.push(`worker counted errors ${JSON.stringify(sortKeys(reported))}; client saw ${JSON.stringify(sortKeys(errors))}`);
  }
  if (stats.committed !== (t.committed ?? 0)) problems.push(`worker counted ${stats.committed} committed; client saw ${t.committed ?? 0}`);
  const rejected = Object.entries(t).filter(([k]) => k.startsWith("rejected:")).reduce((n, [, v]) => n + v, 0);
  if (stats.rejected !== rejected) problems.push(`worker counted ${stats.rejected} rejected; client saw ${rejected}`);
  const duplicates = Object.entries(t).filter(([k]) => k.startsWith("duplicate")).reduce((n, [, v]) => n + v, 0);
  if (stats.duplicates !== duplicates) problems.push(`worker counted ${stats.duplicates} duplicates; client saw ${duplicates}`);
  return problems;
}

function sortKeys(record: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}
