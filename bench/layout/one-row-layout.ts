import { sql, type Kysely, type Transaction } from "kysely";
import { commandColumns, domainOf, outcomeColumns } from "../../src/idempotency/columns.js";
import { businessWrite } from "./business-write.js";
import type { BatchResult, LayoutDriver } from "./layout-driver.js";
import { ONE_ROW_TABLE } from "./schema.js";
import type { SyntheticBatch, SyntheticCommand } from "./workload.js";

const table = sql.table(ONE_ROW_TABLE);

/** A command's events as its row holds them, in order. */
const eventsJson = (c: SyntheticCommand): string =>
  JSON.stringify(c.events.map((e) => ({ id: e.id, subject: e.subject, type: e.type, data: e.data, headers: e.headers })));

/** The batch's keys already stored (their rows would be replayed). */
async function storedKeys(tx: Transaction<any>, domain: string, keys: readonly string[]): Promise<Set<string>> {
  const { rows } = await sql<{ idempotency_key: string }>`
    SELECT idempotency_key, id, subject, payload_hash, status, reply
      FROM ${table}
     WHERE domain = ${domain} AND idempotency_key = ANY(${keys}::TEXT[])`.execute(tx);
  return new Set(rows.map((r) => r.idempotency_key));
}

/**
 * One row per command: the business write, then one INSERT stores key,
 * outcome and events, sent with COMMIT. With `readKeysFirst`, or when an
 * earlier attempt met a stored key, the keys are read first and a key already
 * stored is replayed, not run.
 *
 * That INSERT has no ON CONFLICT on purpose. DO NOTHING would skip the row of a
 * key already stored while its business write stays, and COMMIT travels in the
 * same message, so that write would commit without its command. A plain INSERT
 * fails instead (a unique violation, or a serialization failure under
 * SERIALIZABLE), COMMIT is skipped, and the batch runs again reading its keys.
 *
 * Reading the keys first in every batch is the obvious form, but on PostgreSQL
 * that read is an index scan under SERIALIZABLE, which takes predicate locks on
 * whole pages of the key index: batches side by side that insert keys into
 * those pages then fail serialization. Hence the form that reads only after a
 * conflict, measured beside it.
 */
async function commit(tx: Transaction<any>, batch: SyntheticBatch, readKeys: boolean): Promise<BatchResult> {
  const claims = batch.commands.map((c) => c.claim);
  const domain = domainOf(claims);
  const known = readKeys ? await storedKeys(tx, domain, claims.map((c) => c.idempotencyKey)) : new Set<string>();
  const fresh = batch.commands.filter((c) => !known.has(c.claim.idempotencyKey));
  await businessWrite(tx, fresh.map((c) => c.account));
  if (fresh.length === 0) return { stored: [], duplicates: batch.commands.length };
  const c = commandColumns(fresh.map((f) => f.claim));
  const o = outcomeColumns(fresh.map((f) => f.outcome));
  const events = fresh.map(eventsJson);
  await sql`
    INSERT INTO ${table}
      (id, domain, idempotency_key, subject, command, payload, payload_hash, status, reply,
       received_at, committed_at, attempts, trace_id, span_id, expires_at, events)
    SELECT c.id, ${domain}::TEXT, c.idempotency_key, c.subject, c.command, c.payload::JSONB, c.payload_hash, c.status, c.reply::JSONB,
           c.received_at, c.committed_at, c.attempts, c.trace_id, c.span_id, c.expires_at, c.events::JSONB
      FROM unnest(${c.id}::UUID[], ${c.idempotencyKey}::TEXT[], ${c.subject}::TEXT[], ${c.command}::TEXT[], ${c.payload}::TEXT[],
                  ${c.payloadHash}::TEXT[], ${o.status}::TEXT[], ${o.reply}::TEXT[], ${c.receivedAt}::TIMESTAMPTZ[], ${o.committedAt}::TIMESTAMPTZ[],
                  ${c.attempts}::INT[], ${c.traceId}::TEXT[], ${c.spanId}::TEXT[], ${c.expiresAt}::TIMESTAMPTZ[], ${events}::TEXT[])
           AS c (id, idempotency_key, subject, command, payload, payload_hash, status, reply, received_at, committed_at,
                 attempts, trace_id, span_id, expires_at, events); COMMIT`.execute(tx);
  return { stored: fresh.map((f) => f.claim.id), duplicates: batch.commands.length - fresh.length };
}

/** Reads the batch's unpublished rows (their events), then marks each command's row published. */
async function publish(db: Kysely<any>, commandIds: readonly string[], nextSeq: () => number): Promise<number> {
  if (commandIds.length === 0) return 0;
  const { rows } = await sql<{ id: string; events: unknown[] }>`
    SELECT id, events FROM ${table} WHERE id = ANY(${commandIds}::UUID[]) AND published_at IS NULL`.execute(db);
  if (rows.length === 0) return 0;
  const ids: string[] = [];
  const seqs: number[] = [];
  let events = 0;
  for (const row of rows) {
    // One PubAck per event; the row keeps the last one's sequence.
    let seq = 0;
    for (let k = 0; k < row.events.length; k++) seq = nextSeq();
    events += row.events.length;
    ids.push(row.id);
    seqs.push(seq);
  }
  await sql`
    UPDATE ${table} AS t
       SET published_at = now(), stream_seq = v.seq
      FROM unnest(${ids}::UUID[], ${seqs}::BIGINT[]) AS v (id, seq)
     WHERE t.id = v.id AND t.published_at IS NULL`.execute(db);
  return events;
}

/** Keys read only when an attempt met a stored key. */
export const oneRowLayout: LayoutDriver = {
  name: "one-row",
  tables: [ONE_ROW_TABLE],
  commit,
  publish,
};

/** Keys read at the start of every batch. */
export const oneRowReadFirstLayout: LayoutDriver = {
  name: "one-row-read-first",
  tables: [ONE_ROW_TABLE],
  commit: (tx, batch) => commit(tx, batch, true),
  publish,
};
