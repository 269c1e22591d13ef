import { setTimeout as sleep } from "node:timers/promises";
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { HeraldConfig } from "../config.js";
import type { HeraldTables } from "../db/schema.js";

/** What a prune may delete; each is one growing table (or, for commands, a table and its cascade). */
export type PruneTarget = "commands" | "events" | "inbox" | "deadLetters" | "issuances" | "operatorActions" | "reactorRejections";

/** Every target, in the order a run prunes them. */
export const PRUNE_TARGETS: readonly PruneTarget[] = ["events", "commands", "inbox", "deadLetters", "issuances", "operatorActions", "reactorRejections"];

export interface PruneOptions {
  /** Database to prune. Required. */
  db: Kysely<HeraldTables>;
  /** What to prune. Default: every target. */
  targets?: readonly PruneTarget[];
  /** Only this domain's commands, events and dead letters (the inbox and reactor rejections have no domain). Default: every domain. */
  domain?: string;
  /** Only this consumer's (durable's, or reactor's) inbox rows, dead letters and reactor rejections. Default: every consumer. */
  consumer?: string;
  /** Rows per DELETE statement. Default 500. */
  batchSize?: number;
  /** Hours a published event is kept after its publication. Default 168. */
  eventRetentionHours?: number;
  /** Hours an inbox row (a consumer's "already applied" record) is kept. Default 720. */
  inboxRetentionHours?: number;
  /** Hours a dead letter, or a reactor's recorded rejection (a reactor's dead end), is kept. Default 720. */
  deadLetterRetentionHours?: number;
  /** Hours a recorded operator action (herald_operator_actions) is kept. Default 8760 (a year). */
  operatorActionRetentionHours?: number;
  /** Hours an identity issuance record is kept after its credential expired. Default 2160. */
  identityRetentionHours?: number;
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
  /** Inbox rows deleted for being past their retention. */
  inbox: number;
  /** Dead letters deleted for being past their retention. */
  deadLetters: number;
  /** Identity issuance records deleted for being past their retention. */
  issuances: number;
  /** Recorded operator actions deleted for being past their retention. */
  operatorActions: number;
  /** Recorded reactor rejections deleted for being past the dead-letter retention. */
  reactorRejections: number;
  dryRun: boolean;
}

export const DEFAULT_EVENT_RETENTION_HOURS = 24 * 7;
export const DEFAULT_INBOX_RETENTION_HOURS = 24 * 30;
export const DEFAULT_DEAD_LETTER_RETENTION_HOURS = 24 * 30;
export const DEFAULT_OPERATOR_ACTION_RETENTION_HOURS = 24 * 365;

/** The retentions the environment configures, for a prune run. */
export const DEFAULT_IDENTITY_RETENTION_HOURS = 24 * 90;

/** The retentions the environment configures, for a prune run. */
export function retentionFromConfig(
  config: HeraldConfig,
): Required<Pick<PruneOptions, "eventRetentionHours" | "inboxRetentionHours" | "deadLetterRetentionHours" | "identityRetentionHours" | "operatorActionRetentionHours">> {
  return {
    eventRetentionHours: config.HERALD_EVENT_RETENTION_HOURS,
    inboxRetentionHours: config.HERALD_INBOX_RETENTION_HOURS,
    deadLetterRetentionHours: config.HERALD_DEAD_LETTER_RETENTION_HOURS,
    identityRetentionHours: config.HERALD_IDENTITY_RETENTION_HOURS,
    operatorActionRetentionHours: config.HERALD_OPERATOR_ACTION_RETENTION_HOURS,
  };
}

const olderThan = (column: RawBuilder<unknown>, hours: number) => sql`${column} < now() - (${hours}::INT * INTERVAL '1 hour')`;
const where = (condition: RawBuilder<unknown> | undefined) => condition ?? sql`TRUE`;

/** One growing table: its key, and which of its rows are past retention. */
interface Rule {
  table: string;
  alias: string;
  /** Columns that identify a row (the primary key). */
  key: readonly string[];
  expired(o: PruneOptions): RawBuilder<unknown>;
}

const RULES: Record<PruneTarget, Rule> = {
  events: {
    table: "herald_outbox",
    alias: "o",
    key: ["id"],
    // Unpublished events are never past retention: the relay still owes them to the stream.
    expired: (o) => sql`${o.domain === undefined ? sql`` : sql`o.domain = ${o.domain} AND`}
      o.published_at IS NOT NULL AND ${olderThan(sql`o.published_at`, o.eventRetentionHours ?? DEFAULT_EVENT_RETENTION_HOURS)}`,
  },
  commands: {
    table: "herald_commands",
    alias: "c",
    key: ["id"],
    // A command whose events are not all published keeps its row: the relay reads them through it.
    // The outbox's foreign key cascades: the command's published events go with it.
    expired: (o) => sql`${o.domain === undefined ? sql`` : sql`c.domain = ${o.domain} AND`} c.expires_at < now()
      AND NOT EXISTS (SELECT 1 FROM herald_outbox u WHERE u.command_id = c.id AND u.published_at IS NULL)`,
  },
  inbox: {
    table: "herald_inbox",
    alias: "i",
    key: ["consumer", "event_id"],
    expired: (o) => sql`${o.consumer === undefined ? sql`` : sql`i.consumer = ${o.consumer} AND`}
      ${olderThan(sql`i.processed_at`, o.inboxRetentionHours ?? DEFAULT_INBOX_RETENTION_HOURS)}`,
  },
  deadLetters: {
    table: "herald_dead_letters",
    alias: "d",
    key: ["id"],
    expired: (o) => sql`${o.domain === undefined ? sql`` : sql`d.domain = ${o.domain} AND`}
      ${o.consumer === undefined ? sql`` : sql`d.consumer = ${o.consumer} AND`}
      ${olderThan(sql`d.created_at`, o.deadLetterRetentionHours ?? DEFAULT_DEAD_LETTER_RETENTION_HOURS)}`,
  },
  operatorActions: {
    table: "herald_operator_actions",
    alias: "a",
    key: ["id"],
    expired: (o) => sql`${o.domain === undefined ? sql`` : sql`a.domain = ${o.domain} AND`}
      ${olderThan(sql`a.at`, o.operatorActionRetentionHours ?? DEFAULT_OPERATOR_ACTION_RETENTION_HOURS)}`,
  },
  issuances: {
    table: "herald_identity_issuances",
    alias: "n",
    key: ["id"],
    // Counted from expiry: a record says who could act until then.
    expired: (o) => sql`${o.domain === undefined ? sql`` : sql`n.domain = ${o.domain} AND`}
      ${olderThan(sql`n.expires_at`, o.identityRetentionHours ?? DEFAULT_IDENTITY_RETENTION_HOURS)}`,
  },
  reactorRejections: {
    table: "herald_reactor_rejections",
    alias: "r",
    key: ["reactor", "idempotency_key"],
    // A rejection is what a dead letter is to a consumer: kept as long, for an operator to look at.
    // It has no domain column (the subject names the target's): only `consumer` (the reactor's name) scopes it.
    expired: (o) => sql`${o.consumer === undefined ? sql`` : sql`r.reactor = ${o.consumer} AND`}
      ${olderThan(sql`r.created_at`, o.deadLetterRetentionHours ?? DEFAULT_DEAD_LETTER_RETENTION_HOURS)}`,
  },
};

function count(o: PruneOptions, rule: Rule): Promise<number> {
  return sql<{ n: number }>`SELECT count(*)::BIGINT AS n FROM ${sql.table(rule.table)} AS ${sql.id(rule.alias)} WHERE ${where(rule.expired(o))}`
    .execute(o.db)
    .then((r) => Number(r.rows[0]?.n ?? 0));
}

/** One batch: `DELETE … WHERE (key) IN (SELECT key … LIMIT n)`, portable to both databases. */
async function deleteBatch(o: PruneOptions, rule: Rule, batch: number): Promise<number> {
  const key = sql.join(rule.key.map((k) => sql.id(k)));
  const selected = sql.join(rule.key.map((k) => sql.ref(`${rule.alias}.${k}`)));
  const r = await sql`
    DELETE FROM ${sql.table(rule.table)} WHERE (${key}) IN (
      SELECT ${selected} FROM ${sql.table(rule.table)} AS ${sql.id(rule.alias)} WHERE ${rule.expired(o)} LIMIT ${batch})`.execute(o.db);
  return Number(r.numAffectedRows ?? 0);
}

/** Runs batches until a round deletes fewer than `batch` rows. */
async function inBatches(o: PruneOptions, rule: Rule, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    if (o.signal?.aborted) return total;
    const n = await deleteBatch(o, rule, batch);
    total += n;
    if (n < batch) return total;
    if (o.pauseMs ?? 10) await sleep(o.pauseMs ?? 10);
  }
}

/**
 * Deletes what is past retention in every growing table: command records past
 * `expires_at`, published events, inbox rows, dead letters, reactor
 * rejections and recorded operator actions past their retention, in small autocommit batches so no statement holds many locks or
 * runs long. Never deletes an unpublished event, nor a command with one.
 * Portable to CockroachDB, whose row-level TTL is the native alternative
 * (`rowLevelTtlStatements`, docs/operations.md).
 */
export async function pruneExpired(options: PruneOptions): Promise<PruneReport> {
  const batch = options.batchSize ?? 500;
  const targets = new Set(options.targets ?? PRUNE_TARGETS);
  const report: PruneReport = { events: 0, commands: 0, inbox: 0, deadLetters: 0, issuances: 0, operatorActions: 0, reactorRejections: 0, dryRun: options.dryRun ?? false };
  for (const target of PRUNE_TARGETS) {
    if (!targets.has(target)) continue;
    report[target] = options.dryRun ? await count(options, RULES[target]) : await inBatches(options, RULES[target], batch);
  }
  return report;
}
