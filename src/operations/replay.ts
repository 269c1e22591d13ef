import type { JetStreamClient } from "@nats-io/jetstream";
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { toNatsHeaders } from "../messaging/nats-headers.js";
import { MSG_ID_HEADER } from "../protocol/headers.js";
import { NotFoundError, OperationInputError } from "./inputs.js";

/** Header a re-targeted replay adds: the subject the event was first published on. */
export const REPLAYED_FROM_HEADER = "herald-replayed-from";

export interface ReplayOptions {
  /** Database holding the outbox. Required. */
  db: Kysely<HeraldTables>;
  /** Publishes the events; may be omitted with `dryRun`. */
  js?: JetStreamClient;
  /** Domain whose stored events to replay. Required. */
  domain: string;
  /** Events of commands committed at or after this time. Default: the oldest stored. */
  since?: Date;
  /** Events of commands committed before this time. Default: no limit. */
  until?: Date;
  /** Subject filter (wildcards `*` and `>` allowed). Default: every subject of the domain. */
  subject?: string;
  /** Publish to `<prefix>.<original subject>` instead, without `Nats-Msg-Id`. Default: the original subjects. */
  toSubjectPrefix?: string;
  /** Count and list, publish nothing. Default false. */
  dryRun?: boolean;
  /** Refuse (OperationInputError, nothing published) a range holding more events than this. Default: no limit. */
  maxEvents?: number;
  /** Rows read per query. Default 500. */
  batchSize?: number;
  /** PubAck timeout per event in ms. Default 5000. */
  ackTimeoutMs?: number;
  /** Called after each batch with events done and the total. Default: nothing. */
  onProgress?(done: number, total: number): void;
  /** Called for each event, after it was published (or, dry, instead of publishing). Default: nothing. */
  onEvent?(event: ReplayedEvent): void;
}

/** One replayed event. */
export interface ReplayedEvent {
  id: string;
  commandId: string;
  committedAt: Date;
  position: number;
  /** The subject it was stored with. */
  subject: string;
  /** The subject it was (or would be) published to. */
  target: string;
  /** Stream sequence of the copy; undefined when dry or dropped as a duplicate. */
  seq?: number;
  duplicate: boolean;
}

export interface ReplayReport {
  total: number;
  /** Events the stream accepted as new messages. */
  published: number;
  /** Events JetStream dropped: their `Nats-Msg-Id` was inside the duplicate window. */
  duplicates: number;
  dryRun: boolean;
}

type Row = {
  id: string;
  command_id: string;
  subject: string;
  position: number;
  data: unknown;
  headers: Record<string, string>;
  committed_at: Date;
  cursor_at: string;
};

/** A NATS subject filter as an anchored regular expression (`*` one token, `>` the rest). */
function subjectRegex(filter: string): string {
  const tokens = filter.split(".").map((t) => (t === "*" ? "[^.]+" : t === ">" ? ".+" : t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  return `^${tokens.join("\\.")}$`;
}

function conditions(o: ReplayOptions): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [sql`o.domain = ${o.domain}`];
  if (o.since) parts.push(sql`c.committed_at >= ${o.since}`);
  if (o.until) parts.push(sql`c.committed_at < ${o.until}`);
  if (o.subject) parts.push(/[*>]/.test(o.subject) ? sql`o.subject ~ ${subjectRegex(o.subject)}` : sql`o.subject = ${o.subject}`);
  return sql.join(parts, sql` AND `);
}

function describeRange(o: ReplayOptions): string {
  const range = `${o.since ? ` from ${o.since.toISOString()}` : ""}${o.until ? ` until ${o.until.toISOString()}` : ""}`;
  return `no stored events of domain ${o.domain}${o.subject ? ` on ${o.subject}` : ""}${range || " at all"}`;
}

/**
 * Re-publishes stored events in commit order (commit time, command id,
 * position) with their original headers. Into the original subjects each keeps
 * `Nats-Msg-Id` = `ce-id`, so JetStream drops those still inside its duplicate
 * window; re-targeted ones carry no `Nats-Msg-Id`. Consumers de-duplicate on `ce-id`.
 */
export async function replayEvents(options: ReplayOptions): Promise<ReplayReport> {
  const { db } = options;
  const batchSize = options.batchSize ?? 500;
  const where = conditions(options);
  const { rows: counted } = await sql<{ n: number }>`
    SELECT count(*)::BIGINT AS n FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
     WHERE ${where} AND c.committed_at IS NOT NULL`.execute(db);
  const total = Number(counted[0]?.n ?? 0);
  if (total === 0) throw new NotFoundError(describeRange(options));
  if (options.maxEvents !== undefined && total > options.maxEvents) {
    throw new OperationInputError(`the range holds ${total} events, more than the ${options.maxEvents} allowed at once: narrow it`);
  }
  if (!options.dryRun && !options.js) throw new TypeError("replayEvents: js is required unless dryRun");

  const report: ReplayReport = { total, published: 0, duplicates: 0, dryRun: options.dryRun ?? false };
  let cursor: { at: string; commandId: string; position: number } | undefined;
  let done = 0;
  for (;;) {
    // Keyset paging; the cursor's time goes back as the database's own text, keeping its microseconds.
    const after = cursor
      ? sql`AND (c.committed_at, o.command_id, o.position) > (${cursor.at}::TIMESTAMPTZ, ${cursor.commandId}::UUID, ${cursor.position}::INT)`
      : sql``;
    const { rows } = await sql<Row>`
      SELECT o.id, o.command_id, o.subject, o.position, o.data, o.headers, c.committed_at, c.committed_at::TEXT AS cursor_at
        FROM herald_outbox o JOIN herald_commands c ON c.id = o.command_id
       WHERE ${where} AND c.committed_at IS NOT NULL ${after}
       ORDER BY c.committed_at, o.command_id, o.position
       LIMIT ${batchSize}`.execute(db);
    for (const row of rows) {
      const event = await replayOne(options, row);
      if (!options.dryRun) {
        if (event.duplicate) report.duplicates++;
        else report.published++;
      }
      options.onEvent?.(event);
    }
    done += rows.length;
    if (rows.length > 0) options.onProgress?.(done, total);
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) return report;
    cursor = { at: last.cursor_at, commandId: last.command_id, position: last.position };
  }
}

const encoder = new TextEncoder();

async function replayOne(options: ReplayOptions, row: Row): Promise<ReplayedEvent> {
  const target = options.toSubjectPrefix ? `${options.toSubjectPrefix}.${row.subject}` : row.subject;
  const base = { id: row.id, commandId: row.command_id, committedAt: row.committed_at, position: row.position, subject: row.subject, target };
  if (options.dryRun) return { ...base, duplicate: false };
  const headers: Record<string, string> = { ...row.headers };
  if (options.toSubjectPrefix) {
    // Another subject tree is another history: the original's id must not make JetStream drop the copy.
    for (const k of Object.keys(headers)) if (k.toLowerCase() === MSG_ID_HEADER.toLowerCase()) delete headers[k];
    headers[REPLAYED_FROM_HEADER] = row.subject;
  } else {
    headers[MSG_ID_HEADER] = row.id;
  }
  try {
    const ack = await options.js!.publish(target, encoder.encode(JSON.stringify(row.data)), {
      headers: toNatsHeaders(headers),
      timeout: options.ackTimeoutMs ?? 5000,
    });
    return { ...base, seq: ack.duplicate ? undefined : ack.seq, duplicate: ack.duplicate };
  } catch (err) {
    const reason = (err as Error).message;
    let chain = "";
    for (let e: unknown = err; e instanceof Error && chain.length < 2000; e = e.cause) chain += ` ${e.message}`;
    // JetStream answers a subject no stream captures with "no responders".
    const hint = /no responders|503/i.test(chain) ? ` (no JetStream stream captures ${target})` : "";
    throw new Error(`publishing event ${row.id} to ${target} failed${hint}: ${reason}`, { cause: err });
  }
}
