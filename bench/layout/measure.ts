import type pg from "pg";
import type { BenchDatabase } from "../bench-database.js";
import { serverHelperPids } from "../bench-database.js";
import { processCpuSeconds } from "../proc-stats.js";
import { verifyConnection, type MeasuredConnection } from "./connections.js";
import { rowsBetween, settledCounters, totalRows, type TableCounters } from "./table-counters.js";
import { walPosition, walSince, type WalHold, type WalUsage } from "./wal.js";

/** Where phases are measured: the bench database and whether its WAL can be read back. */
export interface MeasureEnv {
  db: BenchDatabase;
  walInspection: boolean;
  /** Holds the WAL a phase reads back (set whenever walInspection is). */
  walHold: WalHold | undefined;
}

/** What one phase cost the database. */
export interface PhaseMeasurement {
  /** What the phase counts per: commands committed, traces read, events replayed, commands pruned. */
  units: number;
  wallMs: number;
  /** CPU (user + system) of the backends serving the phase's connections. */
  backendCpuMs: number;
  /** CPU of the server's helpers (WAL writer, checkpointer, background writer, this database's autovacuum). */
  helperCpuMs: number;
  statements: number;
  /** Serialization failures retried. */
  retries: number;
  rows: TableCounters;
  rowsWritten: number;
  wal: WalUsage;
}

const cpuMs = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + (processCpuSeconds(pid) ?? 0), 0) * 1000;

/** Waits (at most `deadlineMs`, default 10000) until the closed sessions' backends have exited and published their statistics. */
async function waitBackendsGone(pool: pg.Pool, pids: readonly number[], deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::INT AS n FROM pg_stat_activity WHERE pid = ANY($1::INT[])", [pids]);
    if (rows[0]!.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Measures `work` on `connections`: opened by the caller, closed here once
 * read, so their sessions publish their statistics. With `checkpoint`, a
 * checkpoint first, so the phase starts with the same full-page-image state
 * whatever ran before (a page's first change after a checkpoint logs the whole page).
 */
export async function measurePhase(
  env: MeasureEnv,
  connections: readonly MeasuredConnection[],
  work: () => Promise<{ units: number; retries: number }>,
  options: {
    /** Run CHECKPOINT before the phase (no default: each caller says whether its phase follows a checkpoint). */
    checkpoint: boolean;
  },
): Promise<PhaseMeasurement> {
  const pool = env.db.pool;
  try {
    const before = await settledCounters(pool);
    if (options.checkpoint && env.db.dialect === "postgresql") await pool.query("CHECKPOINT");
    await env.walHold?.advance();
    const helpers = await serverHelperPids(env.db);
    const backends = connections.map((c) => c.pid);
    const statements0 = connections.reduce((sum, c) => sum + c.statements(), 0);
    const wal0 = await walPosition(pool);
    const helper0 = cpuMs(helpers);
    const backend0 = cpuMs(backends);
    const t0 = performance.now();
    const { units, retries } = await work();
    const wallMs = performance.now() - t0;
    const backendCpuMs = cpuMs(backends) - backend0;
    const helperCpuMs = cpuMs(helpers) - helper0;
    const statements = connections.reduce((sum, c) => sum + c.statements(), 0) - statements0;
    for (const c of connections) await verifyConnection(c);
    await Promise.all(connections.map((c) => c.close()));
    await waitBackendsGone(pool, backends);
    const rows = rowsBetween(before, await settledCounters(pool));
    const wal = await walSince(pool, wal0, env.walInspection);
    return { units, wallMs, backendCpuMs, helperCpuMs, statements, retries, rows, rowsWritten: totalRows(rows), wal };
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  }
}
