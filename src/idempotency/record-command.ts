import { sql, type RawBuilder, type Transaction } from "kysely";
import pg from "pg";
import type { HeraldTables } from "../db/schema.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import type { StoredReply } from "../protocol/replies.js";
import { claimRow, type CommandClaim } from "./store.js";

/** A command that ran to an answer, ready to be stored. */
export interface FinishedCommand {
  claim: CommandClaim;
  reply: StoredReply;
  committedAt: Date;
  /** Its outbox events; empty for a rejection. */
  events: readonly OutboxEvent[];
}

/** The stored form of a reply: `duplicate` is decided per request, never stored. */
export const storedReplyJson = (reply: StoredReply): string => JSON.stringify({ ...reply, duplicate: undefined });

/** `(…), (…)` rows of outbox values, typed so they can stand in a FROM clause. */
export function outboxValues(events: readonly OutboxEvent[]): RawBuilder<unknown> {
  return sql.join(
    events.map(
      (e) =>
        sql`(${e.id}::UUID, ${e.commandId}::UUID, ${e.domain}, ${e.subject}, ${e.type}, ${e.position}::INT, ${JSON.stringify(e.data)}::JSONB, ${JSON.stringify(e.headers)}::JSONB)`,
    ),
  );
}

/**
 * The statement that stores a finished command and its outbox events: the row
 * claims the key, and the events hang off the inserted row. The key is claimed
 * here, after the handler, not before it: a concurrent transaction holding the
 * same key makes this statement wait and then fail serialization, as a claim
 * up front would, and a key stored earlier fails it with a unique violation.
 */
function storeStatement(finished: FinishedCommand): RawBuilder<{ id: string }> {
  const row = claimRow(finished.claim);
  const command = sql`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at)
    VALUES (${row.id}, ${row.domain}, ${row.idempotency_key}, ${row.subject}, ${row.command}, ${row.payload}::JSONB,
            ${row.payload_hash}, ${finished.reply.status}, ${storedReplyJson(finished.reply)}::JSONB,
            ${row.received_at}::TIMESTAMPTZ, ${finished.committedAt}::TIMESTAMPTZ, ${row.attempts}::INT, ${row.trace_id},
            ${row.span_id}, ${row.expires_at}::TIMESTAMPTZ)
    RETURNING id`;
  if (finished.events.length === 0) return command as RawBuilder<{ id: string }>;
  return sql<{ id: string }>`
    WITH c AS (${command})
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT v.id, c.id, v.domain, v.subject, v.type, v.position, v.data, v.headers
      FROM c, (VALUES ${outboxValues(finished.events)}) AS v (id, command_id, domain, subject, type, position, data, headers)
    RETURNING command_id AS id`;
}

/**
 * Stores a finished command and commits, in one message: the statement with
 * its values written in as literals (a message of several statements carries
 * no parameters), then COMMIT. A key stored earlier fails the statement with
 * a unique violation (23505), which skips the COMMIT and leaves the
 * transaction open to roll back to a savepoint. Any other failure leaves the
 * outcome to the caller: an error reply from the server means nothing
 * committed, a lost connection means the COMMIT may have run.
 */
export async function recordCommandAndCommit(tx: Transaction<HeraldTables>, finished: FinishedCommand): Promise<void> {
  await sql.raw(`${inlined(storeStatement(finished), tx)}; COMMIT`).execute(tx);
}

/**
 * A statement's text with its parameters written in as literals, so that it
 * can share a simple-protocol message with other statements (BEGIN, COMMIT).
 */
export function inlined(statement: RawBuilder<unknown>, tx: Transaction<HeraldTables>): string {
  const compiled = statement.compile(tx);
  return compiled.sql.replace(/\$(\d+)/g, (_, n: string) => literal(compiled.parameters[Number(n) - 1]));
}

/** A value written into SQL text; pg's quoting doubles quotes and backslashes whatever the server's string settings. */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "string") return pg.escapeLiteral(value);
  if (value instanceof Date) return pg.escapeLiteral(value.toISOString());
  throw new TypeError(`cannot write a ${typeof value} into SQL`);
}
