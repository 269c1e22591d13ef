/**
 * The one interface every change-data-capture source implements (PostgreSQL
 * logical replication, CockroachDB changefeed webhook). The bridge consumes it
 * and never knows which database it reads; one conformance suite runs against
 * each implementation.
 */

/**
 * What happened to a row; `truncate` empties the whole table (PostgreSQL
 * TRUNCATE; its change has an empty key and no images).
 */
export type ChangeOperation = "insert" | "update" | "delete" | "truncate";

/** One committed row change, as the source delivers it. */
export interface RowChange {
  /** Table name without schema, e.g. `bank_accounts`. */
  readonly table: string;
  readonly op: ChangeOperation;
  /** Primary-key columns and their values; identifies the row (and its order) across changes. */
  readonly key: Readonly<Record<string, unknown>>;
  /** Row before the change, where the source has it (PostgreSQL with REPLICA IDENTITY FULL, CockroachDB `diff`); else null. */
  readonly before: Readonly<Record<string, unknown>> | null;
  /** Row after the change; null for a delete. */
  readonly after: Readonly<Record<string, unknown>> | null;
  /**
   * Commit position, opaque outside its source but totally ordered within it:
   * a PostgreSQL LSN (`0/16B3748`) or a CockroachDB HLC timestamp (`1700000000000000000.0000000001`).
   */
  readonly position: string;
  /** Ordinal of the change within its transaction (PostgreSQL); 0 where the source has none (CockroachDB, whose table + key + position is unique). */
  readonly seq: number;
  /** Commit time as the database reports it, for lag. */
  readonly commitTime: Date;
  /**
   * The row version the change's id derives from, when the source knows one
   * that outlives re-emission (CockroachDB `mvcc_timestamp`). Default: `position`.
   */
  readonly version?: string;
  /** The source re-emitted an unchanged row (an initial scan, a schema change's backfill); not a change made at `position`. Default false. */
  readonly backfill?: boolean;
  /** The commit time as RFC 3339 text in UTC at the source's full precision (PostgreSQL: microseconds); default `commitTime.toISOString()`. */
  readonly commitTimeText?: string;
}

/**
 * Changes the source hands over together (one PostgreSQL transaction, one
 * webhook request), in commit order. `ack` is called by the bridge only after
 * JetStream has acked every change of this batch and of every earlier batch;
 * only then may the source move its durable position (confirmed flush LSN,
 * a 2xx reply).
 */
export interface ChangeBatch {
  readonly changes: readonly RowChange[];
  /** Highest commit position covered (a resolved timestamp may cover more than its changes). */
  readonly position: string;
  ack(): Promise<void> | void;
  /** The bridge could not publish the batch: the source must send it again (no position moves). */
  nack(cause: unknown): Promise<void> | void;
}

/** Where a source stands, for `herald cdc status` and the lag gauges. */
export interface SourcePosition {
  readonly source: SourceKind;
  /** Last position acknowledged durably (confirmed flush LSN, last 2xx'd resolved timestamp); null before the first. */
  readonly acknowledged: string | null;
  /** Commit time of the newest change acknowledged. */
  readonly acknowledgedAt: Date | null;
  /** Bytes of WAL the database keeps for this source (PostgreSQL slot), where known. */
  readonly retainedBytes: number | null;
  /** Whether the source is currently connected and streaming. */
  readonly active: boolean;
}

export type SourceKind = "postgres" | "cockroachdb";

/**
 * A stream of committed changes. `start` resolves once the source streams;
 * it calls `deliver` once per batch, in commit order, and may call it again
 * before earlier batches are acked (the bridge keeps per-key order).
 * `deliver` may return a promise: the bridge has too many changes in flight,
 * and a source that can wait (stop reading its socket) should until it settles.
 * After `nack`, a source delivers nothing more it read before the nack: it
 * starts again from its durable position, so its next batch is the first unacked one.
 */
export interface ChangeSource {
  readonly kind: SourceKind;
  start(deliver: (batch: ChangeBatch) => void | Promise<void>): Promise<void>;
  position(): Promise<SourcePosition>;
  /** Stops streaming; acked positions stay durable, unacked batches will be sent again. */
  stop(): Promise<void>;
}
