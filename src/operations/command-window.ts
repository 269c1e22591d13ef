import { sql, type Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { domainRetentionMs, receivedBetween } from "./command-list.js";

/** Commands received in one second of the window, by stored outcome. */
export interface CommandSecond {
  /** Start of the second, epoch seconds. */
  t: number;
  committed: number;
  rejected: number;
}

/** What the database says about a domain's recent commands. */
export interface CommandWindow {
  /** Window length in seconds. */
  seconds: number;
  /** One entry per second that received commands, oldest first. */
  perSecond: CommandSecond[];
  committed: number;
  rejected: number;
  /** Transaction attempts beyond the first (serialization conflicts retried). */
  retries: number;
  /** Receive-to-commit time of the window's commands, ms; null without commands. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Longest window, in seconds: the query stays one bounded range of the expires_at index. */
export const MAX_WINDOW_SECONDS = 3600;

/**
 * Commands per second by outcome, retries and receive-to-commit percentiles
 * over the last `seconds`, all from herald_commands (the stored outcome: a
 * duplicate or an error reply stores nothing; workers count those, see
 * `discoverWorkers`). Times come from the database clock.
 */
export async function commandWindow(db: Kysely<HeraldTables>, domain: string, seconds = 60): Promise<CommandWindow> {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_WINDOW_SECONDS) throw new RangeError(`window must be 1-${MAX_WINDOW_SECONDS} s`);
  const empty: CommandWindow = { seconds, perSecond: [], committed: 0, rejected: 0, retries: 0, p50Ms: null, p99Ms: null };
  const retention = await domainRetentionMs(db, domain);
  if (retention === undefined) return empty;
  const { rows: clock } = await sql<{ now: Date }>`SELECT now() AS now`.execute(db);
  const until = new Date(clock[0]!.now.getTime() + 1);
  const since = new Date(until.getTime() - seconds * 1000);
  const range = receivedBetween(since, until, retention);
  const [buckets, summary] = await Promise.all([
    sql<{ t: string; committed: string; rejected: string }>`
      SELECT floor(EXTRACT(EPOCH FROM c.received_at))::BIGINT AS t,
             count(*) FILTER (WHERE c.status = 'committed') AS committed,
             count(*) FILTER (WHERE c.status = 'rejected') AS rejected
        FROM herald_commands c WHERE c.domain = ${domain} AND ${range}
       GROUP BY 1 ORDER BY 1`.execute(db),
    sql<{ retries: string | null; p50: number | null; p99: number | null }>`
      SELECT sum(c.attempts - 1) AS retries,
             percentile_disc(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (c.committed_at - c.received_at)) * 1000) AS p50,
             percentile_disc(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (c.committed_at - c.received_at)) * 1000) AS p99
        FROM herald_commands c WHERE c.domain = ${domain} AND ${range} AND c.committed_at IS NOT NULL`.execute(db),
  ]);
  const perSecond = buckets.rows.map((r) => ({ t: Number(r.t), committed: Number(r.committed), rejected: Number(r.rejected) }));
  const s = summary.rows[0];
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(Number(v) * 10) / 10);
  return {
    seconds,
    perSecond,
    committed: perSecond.reduce((n, r) => n + r.committed, 0),
    rejected: perSecond.reduce((n, r) => n + r.rejected, 0),
    retries: Number(s?.retries ?? 0),
    p50Ms: ms(s?.p50),
    p99Ms: ms(s?.p99),
  };
}
