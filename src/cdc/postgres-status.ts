import { withPgClient, type PgTarget } from "./pg-client.js";

/** A PostgreSQL replication slot as `herald cdc status` reports it. */
export interface PostgresSlotStatus {
  slot: string;
  /** A bridge is connected and streaming. */
  active: boolean;
  /** What the bridge has acked: the server sends from here after a restart. */
  confirmedFlushLsn: string | null;
  /** The server's current WAL position. */
  currentLsn: string;
  /** WAL written since the confirmed position: how far the bridge is behind, in bytes. */
  lagBytes: number | null;
  /** WAL the server keeps for this slot (from its restart LSN), in bytes. */
  retainedBytes: number | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+): `lost` means the slot is broken. */
  walStatus: string | null;
  /** The server's measure of the bridge's delay (time between WAL written and the bridge's flush report), ms; null when caught up. */
  flushLagMs: number | null;
}

/** The status columns of every slot; `herald cdc status` and the console both read slots through it. */
export const SLOT_STATUS_SQL = `SELECT s.slot_name, s.active, s.confirmed_flush_lsn::text, pg_current_wal_lsn()::text AS current_lsn,
              pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag_bytes,
              pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained_bytes,
              s.wal_status,
              (EXTRACT(EPOCH FROM r.flush_lag) * 1000)::bigint::text AS flush_lag_ms
         FROM pg_replication_slots s
         LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid`;

/** One row of SLOT_STATUS_SQL. */
export interface SlotStatusRow {
  slot_name: string;
  active: boolean;
  confirmed_flush_lsn: string | null;
  current_lsn: string;
  lag_bytes: string | null;
  retained_bytes: string | null;
  wal_status: string | null;
  flush_lag_ms: string | null;
}

/** A row of SLOT_STATUS_SQL as a status. */
export function toSlotStatus(r: SlotStatusRow): PostgresSlotStatus {
  const num = (v: string | null) => (v === null ? null : Number(v));
  return {
    slot: r.slot_name,
    active: r.active,
    confirmedFlushLsn: r.confirmed_flush_lsn,
    currentLsn: r.current_lsn,
    lagBytes: num(r.lag_bytes),
    retainedBytes: num(r.retained_bytes),
    walStatus: r.wal_status,
    flushLagMs: num(r.flush_lag_ms),
  };
}

/** Reads the slot's state from `pg_replication_slots` (and `pg_stat_replication` while streaming); null when there is no such slot. */
export async function postgresSlotStatus(target: PgTarget, slot: string): Promise<PostgresSlotStatus | null> {
  return withPgClient(target, async (client) => {
    const { rows } = await client.query<SlotStatusRow>(`${SLOT_STATUS_SQL}\n        WHERE s.slot_name = $1`, [slot]);
    return rows[0] ? toSlotStatus(rows[0]) : null;
  });
}
