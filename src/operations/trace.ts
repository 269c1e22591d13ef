import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { NotFoundError, OperationInputError } from "./inputs.js";

/** One event of a traced command, as the outbox recorded it. */
export interface TracedEvent {
  id: string;
  subject: string;
  type: string;
  position: number;
  data: unknown;
  createdAt: Date;
  /** When JetStream acknowledged it; null while unpublished. */
  publishedAt: Date | null;
  streamSeq: number | null;
  publishAttempts: number;
}

/** Everything the database knows about one command. */
export interface CommandTrace {
  id: string;
  domain: string;
  subject: string;
  command: string;
  idempotencyKey: string;
  payload: unknown;
  status: string;
  receivedAt: Date;
  committedAt: Date | null;
  /** Transaction attempts; retries = attempts - 1 (serialization conflicts). */
  attempts: number;
  retries: number;
  /** The stored reply: the outcome every duplicate gets. */
  reply: unknown;
  /** W3C trace id of the request, to open in Jaeger; null when it carried no traceparent. */
  traceId: string | null;
  spanId: string | null;
  expiresAt: Date;
  events: TracedEvent[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Finds a command by its id or its idempotency key (in `domain`, when given) and
 * gathers its events. A key used in several domains needs `domain`.
 */
export async function loadCommandTrace(db: Kysely<HeraldTables>, ref: string, domain?: string): Promise<CommandTrace> {
  let query = db.selectFrom("herald_commands").selectAll();
  if (domain !== undefined) query = query.where("domain", "=", domain);
  // A key may look like a UUID too: match either, preferring the id.
  query = UUID.test(ref)
    ? query.where((eb) => eb.or([eb("id", "=", ref.toLowerCase()), eb("idempotency_key", "=", ref)]))
    : query.where("idempotency_key", "=", ref);
  const rows = await query.limit(10).execute();
  const row = rows.find((r) => r.id === ref.toLowerCase()) ?? (rows.length === 1 ? rows[0] : undefined);
  if (!row) {
    if (rows.length > 1) {
      const domains = [...new Set(rows.map((r) => r.domain))].sort().join(", ");
      throw new OperationInputError(`idempotency key "${ref}" was used in several domains (${domains}): pass --domain`);
    }
    throw new NotFoundError(`no command with id or idempotency key "${ref}"${domain ? ` in domain ${domain}` : ""} (it may have been pruned)`);
  }
  const events = await db
    .selectFrom("herald_outbox")
    .select(["id", "subject", "type", "position", "data", "created_at", "published_at", "stream_seq", "publish_attempts"])
    .where("command_id", "=", row.id)
    .orderBy("position")
    .execute();
  return {
    id: row.id,
    domain: row.domain,
    subject: row.subject,
    command: row.command,
    idempotencyKey: row.idempotency_key,
    payload: row.payload,
    status: row.status,
    receivedAt: row.received_at,
    committedAt: row.committed_at,
    attempts: row.attempts,
    retries: Math.max(0, row.attempts - 1),
    reply: row.reply,
    traceId: row.trace_id,
    spanId: row.span_id,
    expiresAt: row.expires_at,
    events: events.map((e) => ({
      id: e.id,
      subject: e.subject,
      type: e.type,
      position: e.position,
      data: e.data,
      createdAt: e.created_at,
      publishedAt: e.published_at,
      streamSeq: e.stream_seq,
      publishAttempts: e.publish_attempts,
    })),
  };
}

const iso = (d: Date | null): string => (d ? d.toISOString() : "-");

/** A trace as aligned, human-readable lines. */
export function formatTrace(t: CommandTrace): string[] {
  const reply = t.reply as { status?: string; result?: unknown; error?: { code?: string; message?: string } } | null;
  const outcome = !reply
    ? t.status
    : reply.status === "rejected"
      ? `rejected ${reply.error?.code ?? ""}: ${reply.error?.message ?? ""}`
      : `${reply.status ?? t.status} ${JSON.stringify(reply.result ?? null)}`;
  const took = t.committedAt ? ` (+${t.committedAt.getTime() - t.receivedAt.getTime()} ms)` : "";
  const lines = [
    `command    ${t.id}`,
    `domain     ${t.domain}`,
    `subject    ${t.subject}`,
    `key        ${t.idempotencyKey}`,
    `payload    ${JSON.stringify(t.payload)}`,
    `received   ${iso(t.receivedAt)}`,
    `committed  ${iso(t.committedAt)}${took}`,
    `attempts   ${t.attempts} (${t.retries} ${t.retries === 1 ? "retry" : "retries"})`,
    `outcome    ${outcome}`,
    `trace id   ${t.traceId ? `${t.traceId} (search this trace id in Jaeger)` : "- (the request carried no traceparent)"}`,
    `expires    ${iso(t.expiresAt)}`,
    `events     ${t.events.length}`,
  ];
  for (const e of t.events) {
    const where = e.publishedAt ? `seq=${e.streamSeq ?? "?"} published=${iso(e.publishedAt)}` : `unpublished (attempts=${e.publishAttempts})`;
    lines.push(`  #${e.position} ${e.subject} ce-id=${e.id} ${where} data=${JSON.stringify(e.data)}`);
  }
  return lines;
}
