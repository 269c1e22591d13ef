import { sql, type Transaction } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import type { StoredReply } from "../protocol/replies.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { outboxValues, storedReplyJson } from "./record-command.js";
import { claimRow, type CommandClaim, type StoredCommand } from "./store.js";

/**
 * Multi-row forms of the key store for group commit: one statement claims every
 * key of a batch, one stores every outcome.
 */

/** Claims the keys; returns the ids it inserted (a key already stored is absent). */
export async function claimKeys(tx: Transaction<HeraldTables>, claims: readonly CommandClaim[]): Promise<Set<string>> {
  const rows = await tx
    .insertInto("herald_commands")
    .values(claims.map(claimRow))
    .onConflict((oc) => oc.columns(["domain", "idempotency_key"]).doNothing())
    .returning("id")
    .execute();
  return new Set(rows.map((r) => r.id));
}

/** Commands stored under any of `keys` in a domain, by key. */
export async function findCommands(tx: Transaction<HeraldTables>, domain: string, keys: readonly string[]): Promise<Map<string, StoredCommand>> {
  if (keys.length === 0) return new Map();
  const rows = await tx
    .selectFrom("herald_commands")
    .select(["id", "idempotency_key", "subject", "payload_hash", "status", "reply"])
    .where("domain", "=", domain)
    .where("idempotency_key", "in", keys)
    .execute();
  return new Map(rows.map((r) => [r.idempotency_key, r]));
}

/**
 * Stores every outcome of a batch and writes its outbox events, in one
 * statement: the events are inserted for the commands the UPDATE completed.
 */
export async function completeCommands(
  tx: Transaction<HeraldTables>,
  outcomes: ReadonlyArray<{ id: string; reply: StoredReply; committedAt: Date }>,
  events: readonly OutboxEvent[],
): Promise<void> {
  if (outcomes.length === 0) return;
  const values = sql.join(
    outcomes.map((o) => sql`(${o.id}::UUID, ${o.reply.status}, ${storedReplyJson(o.reply)}::JSONB, ${o.committedAt.toISOString()}::TIMESTAMPTZ)`),
  );
  const update = sql`
    UPDATE herald_commands AS c
       SET status = v.status, reply = v.reply, committed_at = v.committed_at, attempts = 1
      FROM (VALUES ${values}) AS v (id, status, reply, committed_at)
     WHERE c.id = v.id`;
  if (events.length === 0) {
    await update.execute(tx);
    return;
  }
  await sql`
    WITH completed AS (${update} RETURNING c.id)
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT v.id, v.command_id, v.domain, v.subject, v.type, v.position, v.data, v.headers
      FROM (VALUES ${outboxValues(events)}) AS v (id, command_id, domain, subject, type, position, data, headers)
     WHERE v.command_id IN (SELECT id FROM completed)`.execute(tx);
}
