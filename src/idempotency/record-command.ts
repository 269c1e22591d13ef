import { sql, type RawBuilder, type Transaction } from "kysely";
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
 * Stores a finished command and its outbox events in one statement, the last
 * write of its transaction. The key is claimed here, not before the handler:
 * a concurrent transaction holding the same key makes this statement wait and
 * then fail serialization, as a claim up front would, and a key stored earlier
 * makes it store nothing and return false; the caller then undoes the
 * handler's writes and replays what is stored.
 */
export async function recordCommand(tx: Transaction<HeraldTables>, finished: FinishedCommand): Promise<boolean> {
  const row = claimRow(finished.claim);
  const command = sql`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at)
    VALUES (${row.id}, ${row.domain}, ${row.idempotency_key}, ${row.subject}, ${row.command}, ${row.payload}::JSONB,
            ${row.payload_hash}, ${finished.reply.status}, ${storedReplyJson(finished.reply)}::JSONB,
            ${row.received_at}::TIMESTAMPTZ, ${finished.committedAt}::TIMESTAMPTZ, ${row.attempts}::INT, ${row.trace_id},
            ${row.span_id}, ${row.expires_at}::TIMESTAMPTZ)
    ON CONFLICT (domain, idempotency_key) DO NOTHING
    RETURNING id`;
  if (finished.events.length === 0) {
    const { rows } = await command.execute(tx);
    return rows.length > 0;
  }
  // The events hang off the inserted row: none are written when the key was taken.
  const { rows } = await sql`
    WITH c AS (${command})
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT v.id, c.id, v.domain, v.subject, v.type, v.position, v.data, v.headers
      FROM c, (VALUES ${outboxValues(finished.events)}) AS v (id, command_id, domain, subject, type, position, data, headers)
    RETURNING command_id`.execute(tx);
  return rows.length > 0;
}
