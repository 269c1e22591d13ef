import { sql, type Kysely, type RawBuilder } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { OperationInputError, parseTime } from "./inputs.js";

/** Largest page of a listing. */
export const MAX_PAGE_SIZE = 100;
/** Longest time range a listing or a window may cover. */
export const MAX_RANGE_MS = 7 * 86_400_000;

const STATUSES = ["committed", "rejected", "pending"] as const;
export type CommandStatus = (typeof STATUSES)[number];

/** A checked command filter; every field bounded. */
export interface CommandFilter {
  domain: string;
  /** Command name (the subject's last segment). Default: any. */
  command?: string;
  status?: CommandStatus;
  /** Received at or after. */
  since: Date;
  /** Received before. */
  until: Date;
  /** Rows per page, 1 to 100. */
  limit: number;
  /** Keyset cursor: the last row of the previous page. Default: the first page. */
  before?: { receivedAt: string; id: string };
}

/** One command in a listing. */
export interface CommandRow {
  id: string;
  command: string;
  idempotencyKey: string;
  status: string;
  receivedAt: Date;
  committedAt: Date | null;
  attempts: number;
  /** The database's own text of received_at, for the next page's cursor. */
  cursor: string;
}

export interface CommandPage {
  rows: CommandRow[];
  /** The cursor of the next (older) page, when there is one. */
  next?: string;
}

/** Raw filter fields as a form or a query string gives them. */
export interface CommandFilterInput {
  command?: string;
  status?: string;
  since?: string;
  until?: string;
  limit?: string;
  before?: string;
}

const NAME = /^[a-z0-9_]{1,64}$/;
/** A timestamptz as the database prints it (`2025-03-14 09:26:53.123456+00`). */
const DB_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks a listing filter; a malformed or unbounded one is an OperationInputError. Default range: the last hour. */
export function parseCommandFilter(domain: string, input: CommandFilterInput, now = new Date()): CommandFilter {
  const since = input.since ? parseTime(input.since, "since", now) : new Date(now.getTime() - 3_600_000);
  const until = input.until ? parseTime(input.until, "until", now) : now;
  if (since >= until) throw new OperationInputError(`since (${since.toISOString()}) must be before until (${until.toISOString()})`);
  if (until.getTime() - since.getTime() > MAX_RANGE_MS) throw new OperationInputError("the time range may cover at most 7 days");
  if (input.command && !NAME.test(input.command)) throw new OperationInputError(`command "${input.command.slice(0, 64)}" must be 1-64 characters of a-z, 0-9 and _`);
  if (input.status && !(STATUSES as readonly string[]).includes(input.status)) throw new OperationInputError(`status must be one of ${STATUSES.join(", ")}`);
  const limit = input.limit ? Number(input.limit) : 25;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw new OperationInputError(`page size must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  return {
    domain,
    command: input.command || undefined,
    status: (input.status || undefined) as CommandStatus | undefined,
    since,
    until,
    limit,
    before: input.before ? parseCursor(input.before) : undefined,
  };
}

function parseCursor(text: string): { receivedAt: string; id: string } {
  const at = text.lastIndexOf("|");
  const receivedAt = text.slice(0, at);
  const id = text.slice(at + 1);
  if (at < 0 || !UUID.test(id) || !DB_TIME.test(receivedAt)) throw new OperationInputError("the page cursor is malformed");
  return { receivedAt, id };
}

/**
 * How long the domain's newest command is kept (expires_at − received_at), read
 * from one row through the expires_at index. Time ranges on received_at then use
 * that index too: herald_commands has no index on received_at on purpose (no
 * extra write on the hot path), and expires_at = received_at + retention.
 */
export async function domainRetentionMs(db: Kysely<HeraldTables>, domain: string): Promise<number | undefined> {
  const { rows } = await sql<{ ms: string }>`
    SELECT (EXTRACT(EPOCH FROM (expires_at - received_at)) * 1000)::BIGINT AS ms
      FROM herald_commands WHERE domain = ${domain} ORDER BY expires_at DESC LIMIT 1`.execute(db);
  return rows[0] ? Number(rows[0].ms) : undefined;
}

/**
 * `received_at` in [since, until), with the same range on expires_at shifted by
 * the retention so the expires_at index bounds the scan. A command stored under
 * another retention than the newest one falls outside the shifted range.
 */
export function receivedBetween(since: Date, until: Date, retentionMs: number): RawBuilder<unknown> {
  const shift = (d: Date) => new Date(d.getTime() + retentionMs);
  return sql`c.expires_at >= ${shift(since)} AND c.expires_at < ${shift(until)} AND c.received_at >= ${since} AND c.received_at < ${until}`;
}

/** A page of the domain's commands, newest first, matching the filter. */
export async function listCommands(db: Kysely<HeraldTables>, filter: CommandFilter): Promise<CommandPage> {
  const retention = await domainRetentionMs(db, filter.domain);
  if (retention === undefined) return { rows: [] };
  const parts: RawBuilder<unknown>[] = [sql`c.domain = ${filter.domain}`, receivedBetween(filter.since, filter.until, retention)];
  if (filter.command) parts.push(sql`c.command = ${filter.command}`);
  if (filter.status) parts.push(sql`c.status = ${filter.status}`);
  if (filter.before) parts.push(sql`(c.received_at, c.id) < (${filter.before.receivedAt}::TIMESTAMPTZ, ${filter.before.id}::UUID)`);
  const { rows } = await sql<{
    id: string;
    command: string;
    idempotency_key: string;
    status: string;
    received_at: Date;
    committed_at: Date | null;
    attempts: number;
    cursor_at: string;
  }>`
    SELECT c.id, c.command, c.idempotency_key, c.status, c.received_at, c.committed_at, c.attempts, c.received_at::TEXT AS cursor_at
      FROM herald_commands c
     WHERE ${sql.join(parts, sql` AND `)}
     ORDER BY c.received_at DESC, c.id DESC
     LIMIT ${filter.limit + 1}`.execute(db);
  const page = rows.slice(0, filter.limit).map((r) => ({
    id: r.id,
    command: r.command,
    idempotencyKey: r.idempotency_key,
    status: r.status,
    receivedAt: r.received_at,
    committedAt: r.committed_at,
    attempts: r.attempts,
    cursor: `${r.cursor_at}|${r.id}`,
  }));
  return { rows: page, next: rows.length > filter.limit ? page.at(-1)!.cursor : undefined };
}
