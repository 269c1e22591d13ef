import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { pendingStats } from "../outbox/store.js";

export interface OutboxStatusOptions {
  /** Domain to inspect. Required. */
  domain: string;
  /** The backlog is stale when its oldest event is older than this, in ms. Default 60000. */
  maxAgeMs?: number;
  /** Pending events listed, oldest first. Default 20. */
  limit?: number;
}

/** One unpublished event. */
export interface PendingEvent {
  id: string;
  commandId: string;
  subject: string;
  createdAt: Date;
  ageMs: number;
  publishAttempts: number;
  /** A relay holds it until then; null when none does. */
  leaseUntil: Date | null;
}

export interface OutboxStatus {
  domain: string;
  pending: number;
  /** Age of the oldest unpublished event in ms; 0 when there is none. */
  oldestAgeMs: number;
  maxAgeMs: number;
  /** True when the oldest is older than `maxAgeMs`: the relay is not keeping up (or NATS is unreachable). */
  stale: boolean;
  /** The oldest pending events, at most `limit`. */
  events: PendingEvent[];
}

/** The unpublished backlog of a domain; ages are measured by the database clock. */
export async function outboxStatus(db: Kysely<HeraldTables>, options: OutboxStatusOptions): Promise<OutboxStatus> {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const { count, oldestAgeMs } = await pendingStats(db, options.domain);
  const { rows } = await sql<{
    id: string;
    command_id: string;
    subject: string;
    created_at: Date;
    age_ms: number;
    publish_attempts: number;
    lease_until: Date | null;
  }>`
    SELECT id, command_id, subject, created_at, publish_attempts, lease_until,
           (EXTRACT(EPOCH FROM (now() - created_at)) * 1000)::BIGINT AS age_ms
      FROM herald_outbox
     WHERE domain = ${options.domain} AND published_at IS NULL
     ORDER BY created_at, command_id, position
     LIMIT ${options.limit ?? 20}`.execute(db);
  return {
    domain: options.domain,
    pending: count,
    oldestAgeMs,
    maxAgeMs,
    stale: count > 0 && oldestAgeMs > maxAgeMs,
    events: rows.map((r) => ({
      id: r.id,
      commandId: r.command_id,
      subject: r.subject,
      createdAt: r.created_at,
      ageMs: Number(r.age_ms),
      publishAttempts: r.publish_attempts,
      leaseUntil: r.lease_until,
    })),
  };
}
