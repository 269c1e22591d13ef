import { sql, type Transaction } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import type { StoredReply } from "../protocol/replies.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { inlined, outboxValues, storedReplyJson } from "./record-command.js";
import { claimRow, type CommandClaim, type StoredCommand } from "./store.js";

/**
 * Multi-row forms of the key store for group commit: one statement claims every
 * key of a batch, one stores every outcome.
 */

/**
 * Claims the keys; returns the ids it inserted (a key already stored is absent).
 * `prefix` (parameterless statements such as SET LOCAL) goes in the same
 * message, written before the claim with its values inlined, so that the
 * driver sends BEGIN, the prefix and the claim in one round trip.
 */
export async function claimKeys(tx: Transaction<HeraldTables>, claims: readonly CommandClaim[], prefix = ""): Promise<Set<string>> {
  const rows = claims.map(claimRow);
  const claim = sql<{ id: string }>`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, received_at, attempts, trace_id, span_id, expires_at)
    VALUES ${sql.join(
      rows.map(
        (r) => sql`(${r.id}::UUID, ${r.domain}, ${r.idempotency_key}, ${r.subject}, ${r.command}, ${r.payload}::JSONB, ${r.payload_hash}, 'pending',
          ${r.received_at}::TIMESTAMPTZ, ${r.attempts}::INT, ${r.trace_id}, ${r.span_id}, ${r.expires_at}::TIMESTAMPTZ)`,
      ),
    )}
    ON CONFLICT (domain, idempotency_key) DO NOTHING
    RETURNING id`;
  const result = await sql.raw<{ id: string }>(`${prefix}${inlined(claim, tx)}`).execute(tx);
  return new Set(result.rows.map((r) => r.id));
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

/** A batched command that ran to an answer: its claim (the row it inserted) and its outcome. */
export interface BatchOutcome {
  claim: CommandClaim;
  reply: StoredReply;
  committedAt: Date;
}

/**
 * Stores every outcome of a batch, writes its outbox events and commits, in
 * one message: one statement (the events are inserted for the commands it
 * completed), then COMMIT.
 *
 * The claimed rows are finished with an upsert on the primary key rather than
 * an UPDATE joined to a VALUES list: finding the rows of an UPDATE is an index
 * scan, and on PostgreSQL an index scan under SERIALIZABLE locks whole index
 * pages (predicate locks on btree leaf pages), so every batch side by side
 * that inserted a claim into one of those pages would conflict with this one.
 * The upsert's conflict check reads the index without predicate locks and
 * locks only the row it updates: a row-level write, as on CockroachDB (where
 * both forms are row-level).
 */
export async function completeCommandsAndCommit(tx: Transaction<HeraldTables>, outcomes: readonly BatchOutcome[], events: readonly OutboxEvent[]): Promise<void> {
  if (outcomes.length === 0) return;
  const values = sql.join(
    outcomes.map((o) => {
      const row = claimRow(o.claim);
      return sql`(${row.id}::UUID, ${row.domain}, ${row.idempotency_key}, ${row.subject}, ${row.command}, ${row.payload}::JSONB, ${row.payload_hash},
        ${o.reply.status}, ${storedReplyJson(o.reply)}::JSONB, ${row.received_at}::TIMESTAMPTZ, ${o.committedAt.toISOString()}::TIMESTAMPTZ, 1,
        ${row.trace_id}, ${row.span_id}, ${row.expires_at}::TIMESTAMPTZ)`;
    }),
  );
  const upsert = sql`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at)
    VALUES ${values}
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, reply = excluded.reply, committed_at = excluded.committed_at, attempts = 1`;
  const statement =
    events.length === 0
      ? upsert
      : sql`
    WITH completed AS (${upsert} RETURNING id)
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT v.id, v.command_id, v.domain, v.subject, v.type, v.position, v.data, v.headers
      FROM (VALUES ${outboxValues(events)}) AS v (id, command_id, domain, subject, type, position, data, headers)
     WHERE v.command_id IN (SELECT id FROM completed)`;
  // COMMIT in the same message: an error skips it and leaves the transaction to
  // roll back; a lost answer leaves the outcome unknown (the caller resolves it).
  await sql.raw(`${inlined(statement, tx)}; COMMIT`).execute(tx);
}
