import type pg from "pg";

/** Rows written to one table, from PostgreSQL's statistics. */
export interface TableRows {
  inserted: number;
  updated: number;
  /** Of `updated`, those that stayed on their page with no new index entry (HOT). */
  hotUpdated: number;
  deleted: number;
}

export type TableCounters = Record<string, TableRows>;

/** Thrown when the statistics never settle before the deadline. */
export class CountersUnsettledError extends Error {
  override readonly name = "CountersUnsettledError";
  constructor(readonly waitedMs: number) {
    super(`table statistics still changing after ${waitedMs} ms`);
  }
}

async function readOnce(pool: pg.Pool): Promise<TableCounters> {
  const client = await pool.connect();
  try {
    // A fresh view of the shared statistics, not one cached earlier in the session.
    await client.query("SELECT pg_stat_clear_snapshot()");
    const { rows } = await client.query<{ relname: string; ins: string; upd: string; hot: string; del: string }>(
      "SELECT relname, n_tup_ins::TEXT AS ins, n_tup_upd::TEXT AS upd, n_tup_hot_upd::TEXT AS hot, n_tup_del::TEXT AS del FROM pg_stat_user_tables",
    );
    return Object.fromEntries(rows.map((r) => [r.relname, { inserted: Number(r.ins), updated: Number(r.upd), hotUpdated: Number(r.hot), deleted: Number(r.del) }]));
  } finally {
    client.release();
  }
}

const same = (a: TableCounters, b: TableCounters): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The tables' counters once settled. Sessions publish their counts at the end
 * of a transaction at most once a second, and at exit: the caller ends its
 * measured sessions first, then this polls until two readings `settleMs`
 * apart agree, within `deadlineMs`.
 */
export async function settledCounters(
  pool: pg.Pool,
  options: {
    /** Time between two readings that must agree, in ms. Default 300. */
    settleMs?: number;
    /** Longest wait before CountersUnsettledError, in ms. Default 15000. */
    deadlineMs?: number;
  } = {},
): Promise<TableCounters> {
  const settleMs = options.settleMs ?? 300;
  const deadlineMs = options.deadlineMs ?? 15_000;
  const started = Date.now();
  let last = await readOnce(pool);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const next = await readOnce(pool);
    if (same(last, next)) return next;
    if (Date.now() - started > deadlineMs) throw new CountersUnsettledError(Date.now() - started);
    last = next;
  }
}

/** Rows written per table from one reading to the next (tables absent from `to` are left out). */
export function rowsBetween(from: TableCounters, to: TableCounters): TableCounters {
  const out: TableCounters = {};
  for (const [table, end] of Object.entries(to)) {
    const start = from[table] ?? { inserted: 0, updated: 0, hotUpdated: 0, deleted: 0 };
    const d = { inserted: end.inserted - start.inserted, updated: end.updated - start.updated, hotUpdated: end.hotUpdated - start.hotUpdated, deleted: end.deleted - start.deleted };
    if (d.inserted || d.updated || d.deleted) out[table] = d;
  }
  return out;
}

/** All rows written: inserted + updated + deleted over every table. */
export const totalRows = (rows: TableCounters): number => Object.values(rows).reduce((sum, r) => sum + r.inserted + r.updated + r.deleted, 0);
