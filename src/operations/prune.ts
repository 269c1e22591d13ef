import { setTimeout as sleep } from "node:timers/promises";
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { HeraldTables } from "../db/schema.js";

export interface PruneOptions {
  /** Database to prune. Required. */
  db: Kysely<HeraldTables>;
  /** Only this domain's rows. Default: every domain. */
  domain?: string;
  /** Rows per DELETE statement. Default 500. */
  batchSize?: number;
  /** Hours a published event is kept after its publication. Default 168. */
  eventRetentionHours?: number;
  /** Count what would be deleted, delete nothing. Default false. */
  dryRun?: boolean;
  /** Pause between two batches in ms, leaving the database to the workers. Default 10. */
  pauseMs?: number;
  /** Aborts between batches (a stopping worker). Default: never. */
  signal?: AbortSignal;
}

export interface PruneReport {
  /** Published events deleted for being past their retention. */
  events: number;
  /** Command records deleted for being past `expires_at`, each with its (published) events. */
  commands: number;
  dryRun: boolean;
}

const DEFAULT_EVENT_RETENTION_HOURS = 24 * 7;

function eventsPastRetention(o: PruneOptions): RawBuilder<unknown> {
  const hours = o.eventRetentionHours ?? DEFAULT_EVENT_RETENTION_HOURS;
  const domain = o.domain === undefined ? sql`` : sql`domain = ${o.domain} AND`;
  // Unpublished events are never past retention: the relay still owes them to the stream.
  return sql`${domain} published_at IS NOT NULL AND published_at < now() - (${hours}::INT * INTERVAL '1 hour')`;
}

function expiredCommands(o: PruneOptions): RawBuilder<unknown> {
  const domain = o.domain === undefined ? sql`` : sql`c.domain = ${o.domain} AND`;
  // A command whose events are not all published keeps its row: the relay reads them through it.
  return sql`${domain} c.expires_at < now()
    AND NOT EXISTS (SELECT 1 FROM herald_outbox o WHERE o.command_id = c.id AND o.published_at IS NULL)`;
}

/** Runs `statement` (which deletes at most `batch` rows) until a round deletes fewer. */
async function inBatches(o: PruneOptions, batch: number, statement: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    if (o.signal?.aborted) return total;
    const n = await statement();
    total += n;
    if (n < batch) return total;
    if (o.pauseMs ?? 10) await sleep(o.pauseMs ?? 10);
  }
}

/**
 * Deletes command records past `expires_at` and published events past their
 * retention, in small autocommit batches (`DELETE … WHERE id IN (SELECT id …
 * LIMIT n)`) so no statement holds many locks or runs long. Never deletes an
 * unpublished event, nor a command with one. Portable to CockroachDB, whose
 * row-level TTL is the native alternative (docs/operations.md).
 */
export async function pruneExpired(options: PruneOptions): Promise<PruneReport> {
  const { db } = options;
  const batch = options.batchSize ?? 500;
  if (options.dryRun) {
    const events = await sql<{ n: number }>`SELECT count(*)::BIGINT AS n FROM herald_outbox WHERE ${eventsPastRetention(options)}`.execute(db);
    const commands = await sql<{ n: number }>`SELECT count(*)::BIGINT AS n FROM herald_commands c WHERE ${expiredCommands(options)}`.execute(db);
    return { events: Number(events.rows[0]?.n ?? 0), commands: Number(commands.rows[0]?.n ?? 0), dryRun: true };
  }
  const events = await inBatches(options, batch, async () => {
    const r = await sql`
      DELETE FROM herald_outbox WHERE id IN (
        SELECT id FROM herald_outbox WHERE ${eventsPastRetention(options)} LIMIT ${batch})`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  });
  const commands = await inBatches(options, batch, async () => {
    // The outbox's foreign key cascades: the command's published events go with it.
    const r = await sql`
      DELETE FROM herald_commands WHERE id IN (
        SELECT c.id FROM herald_commands c WHERE ${expiredCommands(options)} LIMIT ${batch})`.execute(db);
    return Number(r.numAffectedRows ?? 0);
  });
  return { events, commands, dryRun: false };
}
