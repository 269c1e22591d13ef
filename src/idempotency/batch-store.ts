import { sql, type Transaction } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import type { StoredReply } from "../protocol/replies.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import { commandColumns, domainOf, eventColumns, outcomeColumns } from "./columns.js";
import type { CommandClaim, StoredCommand } from "./store.js";

/**
 * Multi-row forms of the key store for group commit: one statement claims every
 * key of a batch, one stores every outcome. Their values travel as typed array
 * parameters (see columns.ts), so each statement's text is fixed and prepared once.
 */

/**
 * Claims the keys; returns the ids it inserted (a key already stored is absent).
 * `prefix` (parameterless statements such as SET LOCAL) runs first; the driver
 * holds such statements with BEGIN until this claim, so BEGIN, the prefix and
 * the claim leave together in one round trip.
 */
export async function claimKeys(tx: Transaction<HeraldTables>, claims: readonly CommandClaim[], prefix = ""): Promise<Set<string>> {
  if (claims.length === 0) return new Set();
  for (const statement of prefix.split(";").map((s) => s.trim()).filter(Boolean)) await sql.raw(statement).execute(tx);
  const c = commandColumns(claims);
  const result = await sql<{ id: string }>`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, received_at, attempts, trace_id, span_id, expires_at)
    SELECT c.id, ${domainOf(claims)}::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, 'pending',
           c.received_at, c.attempts, c.trace_id, c.span_id, c.expires_at
      FROM unnest(${c.id}::UUID[], ${c.idempotencyKey}::TEXT[], ${c.subject}::TEXT[], ${c.command}::TEXT[], ${c.payload}::TEXT[],
                  ${c.payloadHash}::TEXT[], ${c.receivedAt}::TIMESTAMPTZ[], ${c.attempts}::INT[], ${c.traceId}::TEXT[], ${c.spanId}::TEXT[],
                  ${c.expiresAt}::TIMESTAMPTZ[])
           AS c (id, idempotency_key, subject, command, payload, payload_hash, received_at, attempts, trace_id, span_id, expires_at)
    ON CONFLICT (domain, idempotency_key) DO NOTHING
    RETURNING id`.execute(tx);
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
 * one exchange: one statement (the events are inserted for the commands it
 * completed), then COMMIT under the same Sync, so an error skips the COMMIT
 * (see statementThenCommit in src/db/).
 *
 * The claimed rows are finished with an upsert on the primary key rather than
 * an UPDATE joined to the outcomes: finding the rows of an UPDATE is an index
 * scan, and on PostgreSQL an index scan under SERIALIZABLE locks whole index
 * pages (predicate locks on btree leaf pages), so every batch side by side
 * that inserted a claim into one of those pages would conflict with this one.
 * The upsert's conflict check reads the index without predicate locks and
 * locks only the row it updates: a row-level write, as on CockroachDB (where
 * both forms are row-level).
 */
export async function completeCommandsAndCommit(tx: Transaction<HeraldTables>, outcomes: readonly BatchOutcome[], events: readonly OutboxEvent[]): Promise<void> {
  if (outcomes.length === 0) return;
  const claims = outcomes.map((o) => o.claim);
  const domain = domainOf(claims);
  const c = commandColumns(claims);
  const o = outcomeColumns(outcomes);
  const upsert = sql`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at)
    SELECT c.id, ${domain}::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, c.status, c.reply::JSONB,
           c.received_at, c.committed_at, 1, c.trace_id, c.span_id, c.expires_at
      FROM unnest(${c.id}::UUID[], ${c.idempotencyKey}::TEXT[], ${c.subject}::TEXT[], ${c.command}::TEXT[], ${c.payload}::TEXT[],
                  ${c.payloadHash}::TEXT[], ${o.status}::TEXT[], ${o.reply}::TEXT[], ${c.receivedAt}::TIMESTAMPTZ[], ${o.committedAt}::TIMESTAMPTZ[],
                  ${c.traceId}::TEXT[], ${c.spanId}::TEXT[], ${c.expiresAt}::TIMESTAMPTZ[])
           AS c (id, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at, trace_id, span_id, expires_at)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, reply = excluded.reply, committed_at = excluded.committed_at, attempts = 1`;
  if (events.length === 0) {
    await sql`${upsert}; COMMIT`.execute(tx);
    return;
  }
  const e = eventColumns(events);
  // COMMIT under the same Sync: an error skips it and leaves the transaction to
  // roll back; a lost answer leaves the outcome unknown (the caller resolves it).
  await sql`
    WITH completed AS (${upsert} RETURNING id)
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT e.id, e.command_id, ${domain}::TEXT, e.subject, e.type, e.position, e.data::JSONB, e.headers::JSONB
      FROM unnest(${e.id}::UUID[], ${e.commandId}::UUID[], ${e.subject}::TEXT[], ${e.type}::TEXT[], ${e.position}::INT[], ${e.data}::TEXT[],
                  ${e.headers}::TEXT[])
           AS e (id, command_id, subject, type, position, data, headers)
     WHERE e.command_id IN (SELECT id FROM completed); COMMIT`.execute(tx);
}
