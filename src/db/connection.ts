import { Kysely, sql } from "kysely";
import pg from "pg";
import { passwordFileClient } from "./password-file.js";
import { HeraldPostgresDialect } from "./pg-driver.js";
import type { HeraldTables } from "./schema.js";
import {
  DEFAULT_STATEMENT_TIMEOUT_MS,
  deadlineClient,
  sessionTimeoutStatement,
  type StatementDeadlineOptions,
} from "./statement-deadline.js";

/** Which server is behind DATABASE_URL; SQL is written for both, a few behaviours differ. */
export type DialectName = "postgresql" | "cockroachdb";

export interface DatabaseOptions {
  /** postgresql:// connection string (CockroachDB uses the same form). */
  url: string;
  /** Pool size. Default 10. */
  poolMax?: number;
  /** Shown in `pg_stat_activity` / CockroachDB's session list. Default `herald`. */
  applicationName?: string;
  /** Called when an idle pooled connection breaks; the pool replaces it. Default: ignore. */
  onIdleError?: (err: Error) => void;
  /** File holding the password, read for every new connection (overrides the URL's). Default: none. */
  passwordFile?: string;
  /**
   * Bounds on every statement: a client-side deadline that destroys the
   * connection (default 5000 ms), and the server's statement_timeout,
   * lock_timeout and idle_in_transaction_session_timeout, set on each new
   * connection. See StatementDeadlineOptions; `{ statementTimeoutMs: 0,
   * lockTimeoutMs: 0, idleInTransactionTimeoutMs: 0 }` turns them off.
   */
  timeouts?: StatementDeadlineOptions;
  /**
   * node-postgres' pipeline mode, which sends a transaction's BEGIN and its
   * first statement with parameters in one write. Default true; false is the
   * escape hatch (`HERALD_DB_PIPELINE=false`) for a server or proxy whose
   * pipelining misbehaves, at one round trip more per such transaction.
   */
  pipeline?: boolean;
}

/** A pool's connections right now: a worker at rest has none in use and nobody waiting. */
export interface PoolUsage {
  /** Open connections. */
  total: number;
  idle: number;
  /** Checked out (running a statement or a transaction). */
  inUse: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** Reads the pool's counters (read-only). */
export function poolUsage(pool: pg.Pool): PoolUsage {
  return { total: pool.totalCount, idle: pool.idleCount, inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount };
}

/** A pool plus the Kysely instance over it and the detected dialect. */
export interface Database<DB = HeraldTables> {
  readonly db: Kysely<DB>;
  readonly dialect: DialectName;
  readonly pool: pg.Pool;
  /** Closes every connection. */
  destroy(): Promise<void>;
}

// BIGINT (int8) columns hold balances and stream sequences; they stay within 2^53
// in practice, and JSON replies must carry numbers, not strings.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const typeParsers = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Creates the pg pool and Kysely instance; does not connect yet. */
export function createPool(options: DatabaseOptions): pg.Pool {
  const timeouts = options.timeouts ?? {};
  const statementMs = timeouts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const Base = options.passwordFile ? passwordFileClient(options.passwordFile) : pg.Client;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    application_name: options.applicationName ?? "herald",
    types: typeParsers as pg.CustomTypesConfig,
    // A stalled server must not hold a caller longer on connect than on a statement.
    connectionTimeoutMillis: statementMs > 0 ? Math.min(10_000, statementMs) : 10_000,
    idleTimeoutMillis: 30_000,
    Client: deadlineClient(Base, statementMs),
  });
  const session = sessionTimeoutStatement(timeouts);
  // Without a listener a dropped idle connection would crash the process.
  pool.on("error", (err) => options.onIdleError?.(err));
  // The pool listens only while a client is idle; a connection killed mid-query
  // (pg_terminate_backend, a restart) would otherwise emit an unhandled 'error'.
  // The failing query reports it, and the pool drops the broken client on release.
  pool.on("connect", (client) => {
    client.on("error", () => undefined);
    // Queued ahead of the caller's first statement on this connection: no extra wait.
    // A server that refuses a setting still serves; the client-side deadline remains.
    if (session) client.query(session).catch((err: Error) => options.onIdleError?.(err));
  });
  return pool;
}

/** Detects the dialect from `SELECT version()`. */
export async function detectDialect(db: Kysely<unknown>): Promise<DialectName> {
  const { rows } = await sql<{ version: string }>`SELECT version() AS version`.execute(db);
  return /cockroachdb/i.test(rows[0]?.version ?? "") ? "cockroachdb" : "postgresql";
}

/** Connects (one round trip to detect the dialect) and returns the database handle. */
export async function connectDatabase<DB = HeraldTables>(options: DatabaseOptions): Promise<Database<DB>> {
  const pool = createPool(options);
  const db = new Kysely<DB>({ dialect: new HeraldPostgresDialect(pool, { pipeline: options.pipeline }) });
  try {
    const dialect = await detectDialect(db as Kysely<unknown>);
    return { db, dialect, pool, destroy: () => db.destroy() };
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
}
