import { sql, type Transaction } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import type { OutboxEvent } from "../outbox/outbox-event.js";
import type { StoredReply } from "../protocol/replies.js";
import { eventColumns, storedReplyJson } from "./columns.js";
import { claimRow, type CommandClaim } from "./store.js";

export { storedReplyJson } from "./columns.js";

/** A command that ran to an answer, ready to be stored. */
export interface FinishedCommand {
  claim: CommandClaim;
  reply: StoredReply;
  committedAt: Date;
  /** Its outbox events; empty for a rejection. */
  events: readonly OutboxEvent[];
}

/**
 * Stores a finished command and its outbox events, and commits, in one
 * exchange: the statement, then COMMIT under the same Sync (see
 * statementThenCommit in src/db/), its values as parameters. The row claims
 * the key here, after the handler, not before it: a concurrent transaction
 * holding the same key makes this statement wait and then fail serialization,
 * as a claim up front would, and a key stored earlier fails it with a unique
 * violation (23505), which skips the COMMIT and leaves the transaction open to
 * roll back to a savepoint. Any other failure leaves the outcome to the caller:
 * an error reply from the server means nothing committed, a lost connection
 * means the COMMIT may have run.
 */
export async function recordCommandAndCommit(tx: Transaction<HeraldTables>, finished: FinishedCommand): Promise<void> {
  const row = claimRow(finished.claim);
  const command = sql`
    INSERT INTO herald_commands
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at)
    VALUES (${row.id}::UUID, ${row.domain}::TEXT, ${row.idempotency_key}::TEXT, ${row.subject}::TEXT, ${row.command}::TEXT, ${row.payload}::JSONB,
            ${row.payload_hash}::TEXT, ${finished.reply.status}::TEXT, ${storedReplyJson(finished.reply)}::JSONB,
            ${(row.received_at as Date).toISOString()}::TIMESTAMPTZ, ${finished.committedAt.toISOString()}::TIMESTAMPTZ, ${row.attempts}::INT,
            ${row.trace_id}::TEXT, ${row.span_id}::TEXT, ${(row.expires_at as Date).toISOString()}::TIMESTAMPTZ)
    RETURNING id`;
  if (finished.events.length === 0) {
    await sql`${command}; COMMIT`.execute(tx);
    return;
  }
  const e = eventColumns(finished.events);
  await sql`
    WITH c AS (${command})
    INSERT INTO herald_outbox (id, command_id, domain, subject, type, position, data, headers)
    SELECT e.id, c.id, ${row.domain}::TEXT, e.subject, e.type, e.position, e.data::JSONB, e.headers::JSONB
      FROM c, unnest(${e.id}::UUID[], ${e.subject}::TEXT[], ${e.type}::TEXT[], ${e.position}::INT[], ${e.data}::TEXT[], ${e.headers}::TEXT[])
              AS e (id, subject, type, position, data, headers)
    RETURNING command_id AS id; COMMIT`.execute(tx);
}
