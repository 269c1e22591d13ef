import { sql, type Kysely, type Selectable } from "kysely";
import type { HeraldTables, OutboxTable } from "../db/schema.js";
import type { OutboxEvent } from "./outbox-event.js";

const COLUMNS = ["id", "command_id", "domain", "subject", "type", "position", "data", "headers"] as const;

/** An outbox row as read back: exactly the columns an event needs. */
type Row = Pick<Selectable<OutboxTable>, (typeof COLUMNS)[number]>;

const toEvent = (r: Row): OutboxEvent => ({
  id: r.id,
  commandId: r.command_id,
  domain: r.domain,
  subject: r.subject,
  type: r.type,
  position: r.position,
  data: r.data,
  headers: r.headers,
});

/** Records the PubAcks: one statement for many events. */
export async function markPublished(db: Kysely<HeraldTables>, acks: ReadonlyArray<{ id: string; seq: number }>): Promise<void> {
  if (acks.length === 0) return;
  const values = sql.join(acks.map((a) => sql`(${a.id}::UUID, ${a.seq}::BIGINT)`));
  await sql`
    UPDATE herald_outbox AS o
       SET published_at = now(), stream_seq = v.seq, lease_until = NULL
      FROM (VALUES ${values}) AS v (id, seq)
     WHERE o.id = v.id AND o.published_at IS NULL`.execute(db);
}

/**
 * Counts a failed publish (operators watch events that keep failing) and drops the
 * lease, so the next relay round retries at once instead of after the lease.
 */
export async function recordPublishFailure(db: Kysely<HeraldTables>, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable("herald_outbox")
    .set((eb) => ({ publish_attempts: eb("publish_attempts", "+", 1), lease_until: null }))
    .where("id", "in", ids)
    .execute();
}

/**
 * Leases the unpublished events of a domain's oldest commands: those older than
 * `graceMs` (the committing worker publishes its own first) whose events no live
 * relay holds. Whole commands, never part of one: two relays that split a
 * command's events could publish a later one first (docs/protocol.md §6, Order).
 * `limit` picks the commands (those of the first `limit` events), so a round can
 * return a few more events than `limit`. Autocommit, so no lock is held while
 * publishing; several relays share the work and a crashed one's lease runs out.
 */
export async function leaseUnpublished(
  db: Kysely<HeraldTables>,
  options: { domain: string; limit: number; graceMs: number; leaseMs: number },
): Promise<OutboxEvent[]> {
  const { rows } = await sql<Row & { created_at: Date }>`
    UPDATE herald_outbox
       SET lease_until = now() + (${options.leaseMs}::INT * INTERVAL '1 millisecond')
     WHERE command_id IN (
       SELECT command_id FROM herald_outbox
        WHERE domain = ${options.domain}
          AND published_at IS NULL
          AND created_at <= now() - (${options.graceMs}::INT * INTERVAL '1 millisecond')
          AND command_id NOT IN (
            SELECT command_id FROM herald_outbox
             WHERE domain = ${options.domain} AND published_at IS NULL AND lease_until >= now())
        ORDER BY created_at, command_id, position
        LIMIT ${options.limit})
       AND domain = ${options.domain}
       AND published_at IS NULL
    RETURNING id, command_id, domain, subject, type, position, data, headers, created_at`.execute(db);
  // RETURNING has no order; publish in commit-ish order so consumers see a command's events in sequence.
  return rows
    .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.command_id.localeCompare(b.command_id) || a.position - b.position)
    .map(toEvent);
}

/** Unpublished events of one command, in order (used after an ambiguous commit). */
export async function unpublishedEventsOf(db: Kysely<HeraldTables>, commandId: string): Promise<OutboxEvent[]> {
  const rows = await db
    .selectFrom("herald_outbox")
    .select(COLUMNS)
    .where("command_id", "=", commandId)
    .where("published_at", "is", null)
    .orderBy("position")
    .execute();
  return rows.map((r) => toEvent(r as Row));
}

/** Count and age in ms of the oldest unpublished event of a domain. */
export async function pendingStats(db: Kysely<HeraldTables>, domain: string): Promise<{ count: number; oldestAgeMs: number }> {
  const { rows } = await sql<{ count: number; oldest_age_ms: number | null }>`
    SELECT count(*)::BIGINT AS count,
           (EXTRACT(EPOCH FROM (now() - min(created_at))) * 1000)::BIGINT AS oldest_age_ms
      FROM herald_outbox
     WHERE domain = ${domain} AND published_at IS NULL`.execute(db);
  return { count: Number(rows[0]?.count ?? 0), oldestAgeMs: Number(rows[0]?.oldest_age_ms ?? 0) };
}
