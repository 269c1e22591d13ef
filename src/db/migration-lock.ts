import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { sql, type Kysely } from "kysely";
import { MigrationLockError } from "../errors.js";

/**
 * A migration lock that works on CockroachDB, which has no advisory locks: a
 * compare-and-set on one row with a lease. Every statement is a single autocommit
 * statement in SQL both CockroachDB and PostgreSQL accept, so tests on
 * PostgreSQL exercise the path production takes on CockroachDB.
 */

/** Id of the single row in the lock table. */
export const MIGRATION_LOCK_ROW_ID = "migration";

export interface MigrationLockConfig {
  /** Lock table name, e.g. `herald_migration_lock`. Required. */
  table: string;
  /** How long `acquire` keeps trying before throwing `MigrationLockError`, in ms. Default 60_000. */
  lockTimeoutMs?: number;
  /** How long a taken lock stays valid without renewal; a crashed holder's lock expires after it. Default 300_000. */
  leaseMs?: number;
  /** This holder's id, stored in the row for operators. Default `migrationLockHolderId()`. */
  holder?: string;
  /** Longest pause between two attempts to take the lock, in ms. Default 1_000. */
  maxBackoffMs?: number;
}

/** Who holds the lock now, as stored in the row. */
export interface MigrationLockState {
  holder: string | null;
  acquiredAt: Date | null;
  leaseUntil: Date | null;
}

/** A unique holder id that still tells an operator which process it was. */
export function migrationLockHolderId(): string {
  return `${randomUUID()}@${hostname()}:${process.pid}`;
}

/** Creates the lock table and its single row if missing; safe to call concurrently. */
export async function ensureMigrationLockTable(db: Kysely<any>, table: string): Promise<void> {
  const create = sql`CREATE TABLE IF NOT EXISTS ${sql.id(table)} (
    id TEXT PRIMARY KEY,
    holder TEXT NULL,
    acquired_at TIMESTAMPTZ NULL,
    lease_until TIMESTAMPTZ NULL
  )`;
  // Concurrent CREATE TABLE IF NOT EXISTS can still fail on PostgreSQL (a race on
  // the catalog); the loser's retry then sees the table.
  for (let attempt = 1; ; attempt++) {
    try {
      await create.execute(db);
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  await sql`INSERT INTO ${sql.id(table)} (id) VALUES (${MIGRATION_LOCK_ROW_ID}) ON CONFLICT (id) DO NOTHING`.execute(db);
}

/** Reads the lock row, or undefined if it does not exist. */
export async function readMigrationLock(db: Kysely<any>, table: string): Promise<MigrationLockState | undefined> {
  const { rows } = await sql<{ holder: string | null; acquired_at: Date | null; lease_until: Date | null }>`
    SELECT holder, acquired_at, lease_until FROM ${sql.id(table)} WHERE id = ${MIGRATION_LOCK_ROW_ID}`.execute(db);
  const row = rows[0];
  return row && { holder: row.holder, acquiredAt: row.acquired_at, leaseUntil: row.lease_until };
}

/** One holder's handle on the lock row. Not reentrant; one acquire per release. */
export class MigrationLock {
  readonly table: string;
  readonly holder: string;
  readonly lockTimeoutMs: number;
  readonly leaseMs: number;
  readonly maxBackoffMs: number;
  #renewTimer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;

  constructor(config: MigrationLockConfig) {
    this.table = config.table;
    this.holder = config.holder ?? migrationLockHolderId();
    this.lockTimeoutMs = config.lockTimeoutMs ?? 60_000;
    this.leaseMs = config.leaseMs ?? 300_000;
    this.maxBackoffMs = config.maxBackoffMs ?? 1_000;
  }

  /** One compare-and-set: takes the lock if it is free or its lease ran out. */
  async tryAcquire(db: Kysely<any>): Promise<boolean> {
    const { rows } = await sql<{ holder: string }>`
      UPDATE ${sql.id(this.table)}
      SET holder = ${this.holder}, acquired_at = now(),
          lease_until = now() + (${this.leaseMs}::INT * INTERVAL '1 millisecond')
      WHERE id = ${MIGRATION_LOCK_ROW_ID} AND (holder IS NULL OR lease_until < now())
      RETURNING holder`.execute(db);
    return rows.length > 0;
  }

  /** Takes the lock, polling with capped, jittered backoff; throws `MigrationLockError` after `lockTimeoutMs`. */
  async acquire(db: Kysely<any>): Promise<void> {
    await ensureMigrationLockTable(db, this.table);
    const started = Date.now();
    const deadline = started + this.lockTimeoutMs;
    for (let delay = 25; ; delay = Math.min(delay * 2, this.maxBackoffMs)) {
      if (await this.tryAcquire(db)) return;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      // Jitter keeps several waiting migrators from polling in lockstep.
      const pause = Math.min(remaining, delay / 2 + Math.random() * (delay / 2));
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    const state = await readMigrationLock(db, this.table).catch(() => undefined);
    const held = state?.holder
      ? `held by ${state.holder} (lease until ${state.leaseUntil?.toISOString() ?? "unknown"})`
      : "contended";
    throw new MigrationLockError(
      `could not take the migration lock "${this.table}" within ${Date.now() - started} ms: it is ${held}`,
    );
  }

  /** Extends the lease; false if this holder no longer has the lock. */
  async renew(db: Kysely<any>): Promise<boolean> {
    const { rows } = await sql<{ holder: string }>`
      UPDATE ${sql.id(this.table)}
      SET lease_until = now() + (${this.leaseMs}::INT * INTERVAL '1 millisecond')
      WHERE id = ${MIGRATION_LOCK_ROW_ID} AND holder = ${this.holder}
      RETURNING holder`.execute(db);
    return rows.length > 0;
  }

  /**
   * Renews the lease every third of it until `stopRenewal`, so a live but slow
   * migration (a long index backfill) is not taken over. `db` should be a pool:
   * the migrating session is busy running the migration.
   */
  startRenewal(db: Kysely<any>): void {
    this.stopRenewal();
    const timer = setInterval(() => {
      if (this.#renewing) return;
      // A failed renewal is retried next tick; the lease leaves room for two misses.
      this.#renewing = this.renew(db).then(
        () => undefined,
        () => undefined,
      ).finally(() => {
        this.#renewing = undefined;
      });
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    timer.unref();
    this.#renewTimer = timer;
  }

  /** Stops renewing; the promise settles once a renewal in flight has finished. */
  stopRenewal(): Promise<void> {
    clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    return this.#renewing ?? Promise.resolve();
  }

  /** Gives the lock back if this holder still has it. */
  async release(db: Kysely<any>): Promise<void> {
    void this.stopRenewal();
    await sql`
      UPDATE ${sql.id(this.table)} SET holder = NULL, lease_until = NULL
      WHERE id = ${MIGRATION_LOCK_ROW_ID} AND holder = ${this.holder}`.execute(db);
  }
}
