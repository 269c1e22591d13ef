import type pg from "pg";
import type { BenchDatabase } from "../bench-database.js";
import { serverHelperPids } from "../bench-database.js";
import { processCpuSeconds } from "../proc-stats.js";
import { isStillMeasured, type MeasuredConnection } from "./connections.js";
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
  /** Connections replaced mid-phase: their backends' CPU escaped the reading (0 in a sound run). */
  lostBackends: number;
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
 * Measures `work` on the connections `open` gives: opened once the phase is
 * ready to start (an idle pooled connection is closed after 30 s, and a
 * replaced one would escape the CPU reading), closed here once read, so their
 * sessions publish their statistics. With `checkpoint`, a
 * checkpoint first, so the phase starts with the same full-page-image state
 * whatever ran before (a page's first change after a checkpoint logs the whole page).
 */
export async function measurePhase(
  env: MeasureEnv,
  open: () => Promise<readonly MeasuredConnection[]>,
  work: (connections: readonly MeasuredConnection[]) => Promise<{ units: number; retries: number }>,
  options: {
    /** Run CHECKPOINT before the phase (no default: each caller says whether its phase follows a checkpoint). */
    checkpoint: boolean;
  },
): Promise<PhaseMeasurement> {
  const pool = env.db.pool;
  let connections: readonly MeasuredConnection[] = [];
  try {
    const before = await settledCounters(pool);
    if (options.checkpoint && env.db.dialect === "postgresql") await pool.query("CHECKPOINT");
    connections = await open();
    await env.walHold?.advance();
    const helpers = await serverHelperPids(env.db);
    const backends = connections.map((c) => c.pid);
    const statements0 = connections.reduce((sum, c) => sum + c.statements(), 0);
    const wal0 = await walPosition(pool);
    const helper0 = cpuMs(helpers);
    const backend0 = cpuMs(backends);
    const t0 = performance.now();
    const { units, retries } = await work(connections);
    const wallMs = performance.now() - t0;
    const backendCpuMs = cpuMs(backends) - backend0;
    const helperCpuMs = cpuMs(helpers) - helper0;
    const statements = connections.reduce((sum, c) => sum + c.statements(), 0) - statements0;
    let lostBackends = 0;
    for (const c of connections) if (!(await isStillMeasured(c))) lostBackends++;
    await Promise.all(connections.map((c) => c.close()));
    await waitBackendsGone(pool, backends);
    const rows = rowsBetween(before, await settledCounters(pool));
    const wal = await walSince(pool, wal0, env.walInspection);
    return { units, wallMs, backendCpuMs, helperCpuMs, statements, retries, rows, rowsWritten: totalRows(rows), wal, lostBackends };
  } finally {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
  }
}
