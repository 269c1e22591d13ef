import pg from "pg";

/** WAL written between two positions, with the part this database's transactions wrote. */
export interface WalUsage {
  /** Everything the server wrote in the window, every database and its own housekeeping. */
  serverBytes: number;
  /**
   * Records of this database's transactions (their changes and commit records) and
   * records touching its relations; null when pg_walinspect is not available.
   */
  databaseBytes: number | null;
  /** Of databaseBytes, full-page images (the first change of a page after a checkpoint). */
  fullPageBytes: number | null;
  /** databaseBytes by table (its indexes included); "(no relation)" holds commit records. */
  byTable: Record<string, number> | null;
}

/** pg_walinspect reads WAL records back; the bench uses it to tell its own WAL from other databases'. */
export async function enableWalInspection(pool: pg.Pool): Promise<boolean> {
  try {
    await pool.query("CREATE EXTENSION IF NOT EXISTS pg_walinspect");
    return true;
  } catch {
    return false;
  }
}

/** The current WAL insert position (pg_lsn as text). */
export async function walPosition(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::TEXT AS lsn");
  return rows[0]!.lsn;
}

/**
 * WAL from `start` to the insert position now, read once the WAL writer has
 * flushed it (records can be read back only up to the flushed end). A record is this database's when
 * it touches one of its relations or belongs to a transaction that did (that
 * brings in commit records, which touch no relation).
 */
export async function walSince(pool: pg.Pool, start: string, inspect: boolean): Promise<WalUsage> {
  const end = (await pool.query<{ lsn: string; bytes: string }>(
    "SELECT pg_current_wal_insert_lsn()::TEXT AS lsn, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::TEXT AS bytes",
    [start],
  )).rows[0]!;
  if (inspect) {
    // A transaction with an id commits with a flush, taking the window's WAL to disk with it
    // (a read-only window may leave a partial page the WAL writer keeps unflushed).
    await pool.query("SELECT txid_current()");
    await waitFlushed(pool, end.lsn);
  }
  const serverBytes = Number(end.bytes);
  if (!inspect) return { serverBytes, databaseBytes: null, fullPageBytes: null, byTable: null };
  if (serverBytes <= 0) return { serverBytes, databaseBytes: 0, fullPageBytes: 0, byTable: {} };
  const { rows } = await pool.query<{ table_name: string; bytes: string; fpi: string }>(
    `WITH db AS (SELECT oid::TEXT AS oid FROM pg_database WHERE datname = current_database()),
          r AS (SELECT xid::TEXT AS xid, record_length, fpi_length,
                       substring(block_ref FROM 'rel [0-9]+/([0-9]+)/') AS db_oid,
                       substring(block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)') AS relfilenode
                  FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)),
          ours AS (SELECT DISTINCT xid FROM r WHERE xid <> '0' AND db_oid = (SELECT oid FROM db)),
          rel AS (SELECT c.relfilenode::TEXT AS relfilenode, COALESCE(t.relname, c.relname)::TEXT AS table_name
                    FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
                   WHERE c.relfilenode <> 0)
     SELECT COALESCE(rel.table_name, CASE WHEN r.relfilenode IS NULL THEN '(no relation)' ELSE '(other relation)' END) AS table_name,
            sum(r.record_length)::TEXT AS bytes, sum(r.fpi_length)::TEXT AS fpi
       FROM r LEFT JOIN rel ON rel.relfilenode = r.relfilenode AND r.db_oid = (SELECT oid FROM db)
      WHERE r.db_oid = (SELECT oid FROM db) OR r.xid IN (SELECT xid FROM ours)
      GROUP BY 1`,
    [start, end.lsn],
  );
  const byTable: Record<string, number> = {};
  let databaseBytes = 0;
  let fullPageBytes = 0;
  for (const row of rows) {
    byTable[row.table_name] = Number(row.bytes);
    databaseBytes += Number(row.bytes);
    fullPageBytes += Number(row.fpi);
  }
  return { serverBytes, databaseBytes, fullPageBytes, byTable };
}

/** Thrown when the server does not flush its WAL up to a position in time. */
export class WalNotFlushedError extends Error {
  override readonly name = "WalNotFlushedError";
  constructor(readonly lsn: string, readonly waitedMs: number) {
    super(`WAL not flushed up to ${lsn} after ${waitedMs} ms`);
  }
}

/** Waits until the WAL is flushed up to `lsn` (the WAL writer does so within wal_writer_delay). */
async function waitFlushed(pool: pg.Pool, lsn: string, deadlineMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const { rows } = await pool.query<{ done: boolean }>("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS done", [lsn]);
    if (rows[0]!.done) return;
    if (Date.now() - started > deadlineMs) throw new WalNotFlushedError(lsn, Date.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Keeps the server from removing WAL a phase will read back (a checkpoint during the phase would). */
export interface WalHold {
  /** Lets go of WAL before now: call before a phase starts. */
  advance(): Promise<void>;
  /** Drops the hold (ending its session drops it too). */
  release(): Promise<void>;
}

/**
 * A temporary physical replication slot reserving WAL from now on, owned by a
 * session of its own: the server drops it when that session ends, so a killed
 * bench leaves nothing behind. Undefined when the server refuses one.
 */
export async function holdWal(url: string, name: string): Promise<WalHold | undefined> {
  const client = new pg.Client({ connectionString: url, application_name: "herald-bench" });
  await client.connect();
  client.on("error", () => undefined);
  try {
    await client.query("SELECT pg_create_physical_replication_slot($1, true, true)", [name]);
  } catch {
    await client.end().catch(() => undefined);
    return undefined;
  }
  return {
    async advance() {
      await client.query("SELECT pg_replication_slot_advance($1, pg_current_wal_insert_lsn())", [name]);
    },
    async release() {
      await client.query("SELECT pg_drop_replication_slot($1)", [name]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
