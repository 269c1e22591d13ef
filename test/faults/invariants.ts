import { sql, type Kysely } from "kysely";
import type { NatsConnection } from "@nats-io/nats-core";
import { readStream } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import type { OpOutcome } from "./workload.js";

/** What the checks found; `violations` empty means every promise held. */
export interface InvariantReport {
  violations: string[];
  eventsChecked: number;
  committedInDb: number;
}

/**
 * Jepsen-style bank checks after a faulty run: confirmed commands are durable,
 * no key took effect twice, money is conserved, every committed event is in the
 * stream exactly once, nothing is left half done.
 */
export async function checkInvariants(
  db: Kysely<any>,
  nc: NatsConnection,
  stream: string,
  outcomes: OpOutcome[],
  initial: Record<string, number>,
): Promise<InvariantReport> {
  const violations: string[] = [];
  const commands = await db
    .selectFrom("herald_commands")
    .select(["id", "idempotency_key", "status", "payload"])
    .where("command", "=", "transfer")
    .execute();
  const byKey = new Map(commands.map((c: any) => [c.idempotency_key as string, c]));

  for (const op of outcomes) {
    const row: any = byKey.get(op.key);
    if (op.status === "committed" || op.status === "rejected") {
      if (!row) violations.push(`confirmed ${op.status} ${op.key} is not in the database`);
      else if (row.status !== op.status) violations.push(`${op.key} replied ${op.status} but is stored ${row.status}`);
      else if (row.id !== op.commandId) violations.push(`${op.key} replied command ${op.commandId} but stored ${row.id}`);
    }
    if (op.status === "failed" && row?.status === "committed") violations.push(`${op.key} reported failure (${op.code}) but committed`);
  }
  if (commands.some((c: any) => c.status === "pending")) violations.push("a command is left pending");

  // Each committed transfer applied exactly once: balances equal the initial ones plus the stored commits.
  const expected = { ...initial };
  for (const c of commands as any[]) {
    if (c.status !== "committed") continue;
    expected[c.payload.from] = (expected[c.payload.from] ?? 0) - c.payload.amount;
    expected[c.payload.to] = (expected[c.payload.to] ?? 0) + c.payload.amount;
  }
  const balances = await db.selectFrom("bank_accounts").select(["id", "balance"]).execute();
  let total = 0;
  for (const b of balances as Array<{ id: string; balance: number }>) {
    total += b.balance;
    if (b.balance < 0) violations.push(`account ${b.id} is negative`);
    if (expected[b.id] !== b.balance) violations.push(`account ${b.id} holds ${b.balance}, the committed transfers say ${expected[b.id]}`);
  }
  const deposited = Object.values(initial).reduce((a, b) => a + b, 0);
  if (total !== deposited) violations.push(`money not conserved: ${total} != ${deposited}`);

  // Outbox complete and published; stream holds each event once.
  const { rows: missing } = await sql<{ n: number }>`
    SELECT count(*) AS n FROM herald_commands c
     WHERE c.status = 'committed' AND NOT EXISTS (SELECT 1 FROM herald_outbox o WHERE o.command_id = c.id)`.execute(db);
  if (Number(missing[0]!.n) > 0) violations.push(`${missing[0]!.n} committed commands have no events`);
  const outbox = await db.selectFrom("herald_outbox").select(["id", "published_at"]).execute();
  if (outbox.some((o: any) => o.published_at === null)) violations.push("events left unpublished");
  // After a fault the JetStream API may need a moment (reconnect, leader election).
  const messages = await waitFor(() => readStream(nc, stream), { what: "stream readable", timeoutMs: 30_000, intervalMs: 250 });
  const ids = messages.map((m) => m.headers["ce-id"]);
  if (new Set(ids).size !== ids.length) violations.push(`${ids.length - new Set(ids).size} events are in the stream twice`);
  const inStream = new Set(ids);
  const absent = outbox.filter((o: any) => !inStream.has(o.id)).length;
  if (absent > 0) violations.push(`${absent} committed events are missing from the stream`);
  if (ids.length !== outbox.length) violations.push(`stream holds ${ids.length} events, the outbox ${outbox.length}`);
  return { violations, eventsChecked: ids.length, committedInDb: commands.filter((c: any) => c.status === "committed").length };
}
