import { sql, type Kysely } from "kysely";
import type { CommittedReply } from "../protocol/replies.js";
import type { DemoPlan, TransferInput } from "./plan.js";
import type { StreamEvent } from "./stream-events.js";
import type { WorkloadTally } from "./workload.js";

/** What the database holds for the run. */
export interface RunRecord {
  commands: Array<{ key: string; id: string; status: string; attempts: number }>;
  /** Outbox events of the run's commands. */
  events: Array<{ id: string; commandId: string }>;
  balances: Record<string, number>;
}

/** One promise the demo checks, and how it turned out. */
export interface Guarantee {
  name: string;
  held: boolean;
  detail: string;
}

/** Reads the run's commands, events and accounts; keys and account ids are unique to the run. */
export async function readRun(db: Kysely<any>, domain: string, plan: DemoPlan): Promise<RunRecord> {
  const like = `${plan.keyPrefix}%`;
  const commands = await sql<{ key: string; id: string; status: string; attempts: number }>`
    SELECT idempotency_key AS key, id, status, attempts FROM herald_commands
     WHERE domain = ${domain} AND idempotency_key LIKE ${like}`.execute(db);
  const events = await sql<{ id: string; commandId: string }>`
    SELECT o.id, o.command_id AS "commandId" FROM herald_outbox o
      JOIN herald_commands c ON c.id = o.command_id
     WHERE c.domain = ${domain} AND c.idempotency_key LIKE ${like}`.execute(db);
  const accounts = await sql<{ id: string; balance: number }>`
    SELECT id, balance FROM bank_accounts WHERE id IN (${sql.join(plan.accounts)})`.execute(db);
  return {
    commands: commands.rows.map((r) => ({ ...r, attempts: Number(r.attempts) })),
    events: events.rows,
    balances: Object.fromEntries(accounts.rows.map((r) => [r.id, Number(r.balance)])),
  };
}

/** The replies that committed a command (one per key). */
export function committedReplies(tally: WorkloadTally): CommittedReply[] {
  return [...tally.stored.values()].filter((r): r is CommittedReply => r.status === "committed");
}

/** The replies match the rows: same keys, command ids and statuses, nothing stored for refused requests. */
export function checkDatabase(tally: WorkloadTally, record: RunRecord): Guarantee {
  const problems: string[] = [];
  const rows = new Map(record.commands.map((r) => [r.key, r]));
  for (const [key, reply] of tally.stored) {
    const row = rows.get(key);
    if (!row) problems.push(`no row for ${key}`);
    else if (row.id !== reply.commandId || row.status !== reply.status) problems.push(`row of ${key} is ${row.status} ${row.id}, reply said ${reply.status} ${reply.commandId}`);
  }
  for (const key of rows.keys()) if (!tally.stored.has(key)) problems.push(`unexpected row for ${key} (a refused request stored something?)`);
  const committed = record.commands.filter((r) => r.status === "committed").length;
  return {
    name: "database matches the replies",
    held: problems.length === 0,
    detail: problems.length ? problems.slice(0, 3).join("; ") : `${record.commands.length} command rows (${committed} committed), one per key, none for refused requests`,
  };
}

/** Every committed command's events are in the stream, each once by ce-id, and nothing else of the run is. */
export function checkEvents(tally: WorkloadTally, record: RunRecord, streamed: readonly StreamEvent[]): { guarantee: Guarantee; inStream: number; copies: number; expected: number } {
  const expected = new Set(committedReplies(tally).flatMap((r) => r.events.map((e) => e.id)));
  const outbox = new Set(record.events.map((e) => e.id));
  const runCommands = new Set(record.commands.map((c) => c.id));
  const ours = streamed.filter((e) => runCommands.has(e.commandId));
  const ids = new Set(ours.map((e) => e.ceId));
  const missing = [...expected].filter((id) => !ids.has(id));
  const unexpected = [...ids].filter((id) => !expected.has(id));
  const problems: string[] = [];
  if (missing.length) problems.push(`${missing.length} committed event(s) not in the stream`);
  if (unexpected.length) problems.push(`${unexpected.length} event(s) in the stream that no committed reply announced`);
  if (outbox.size !== expected.size || [...expected].some((id) => !outbox.has(id))) problems.push(`the outbox holds ${outbox.size} events, the replies announced ${expected.size}`);
  return {
    guarantee: {
      name: "every committed command's events are in the stream",
      held: problems.length === 0,
      detail: problems.length ? problems.join("; ") : `${ids.size} of ${expected.size} events, matched by ce-commandid`,
    },
    inStream: ids.size,
    // JetStream drops re-publications inside its duplicate window; copies beyond it are allowed (consumers de-duplicate on ce-id).
    copies: ours.length - ids.size,
    expected: expected.size,
  };
}

/** Money is conserved, no balance is negative, and each balance is what the committed transfers say. */
export function checkBalances(plan: DemoPlan, tally: WorkloadTally, transfers: ReadonlyMap<string, TransferInput>, record: RunRecord): { guarantee: Guarantee; before: number; after: number } {
  const expected: Record<string, number> = Object.fromEntries(plan.accounts.map((a) => [a, plan.initialBalance]));
  for (const reply of committedReplies(tally)) {
    const t = transfers.get(reply.idempotencyKey);
    if (!t) continue;
    expected[t.from]! -= t.amount;
    expected[t.to]! += t.amount;
  }
  const before = plan.accounts.length * plan.initialBalance;
  const after = Object.values(record.balances).reduce((sum, b) => sum + b, 0);
  const problems: string[] = [];
  if (after !== before) problems.push(`the accounts hold ${after}, not ${before}`);
  const negative = plan.accounts.filter((a) => (record.balances[a] ?? 0) < 0);
  if (negative.length) problems.push(`negative: ${negative.join(", ")}`);
  const off = plan.accounts.filter((a) => record.balances[a] !== expected[a]);
  if (off.length) problems.push(`${off.map((a) => `${a} is ${record.balances[a]}, the replies say ${expected[a]}`).join("; ")}`);
  return {
    guarantee: {
      name: "balance invariant",
      held: problems.length === 0,
      detail: problems.length ? problems.join("; ") : `${before} before, ${after} after, none negative, each as the committed transfers say`,
    },
    before,
    after,
  };
}
