import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Migrator, type DialectAdapter, type Kysely, type MigrationLockOptions } from "kysely";
import { MigrationLock } from "./migration-lock.js";
import { SqlMigrationProvider } from "./sql-migration-provider.js";

/** Kysely's migration table by default, and the lock tables named after it (see migrateToLatest). */
export const DEFAULT_MIGRATION_TABLE = "herald_migration";
/** Bookkeeping tables `herald migrate` creates besides those of migrations/. */
/**
 * The identity issuer's tables (migration 0003): who held which credentials,
 * and revocations. Never granted to workers: a compromised worker must not
 * rewrite that record.
 */
export const HERALD_IDENTITY_TABLES: readonly string[] = Object.freeze(["herald_identity_issuances", "herald_identity_revocations"]);

/** The operator console's log (migration 0004): written by the console alone, never granted to workers. */
export const HERALD_CONSOLE_TABLES: readonly string[] = Object.freeze(["herald_operator_actions"]);

/** Herald's tables a worker uses: all of its migrations' but the identity issuer's and the console's. */
export const workerUsesTable = (table: string): boolean => !HERALD_IDENTITY_TABLES.includes(table) && !HERALD_CONSOLE_TABLES.includes(table);

export const HERALD_BOOKKEEPING_TABLES: readonly string[] = Object.freeze([
  DEFAULT_MIGRATION_TABLE,
  `${DEFAULT_MIGRATION_TABLE}_lock`,
  `${DEFAULT_MIGRATION_TABLE}_kysely_lock`,
]);

export interface MigrateOptions {
  /** An open Kysely over a pool (from `connectDatabase`). Required. */
  db: Kysely<any>;
  /** Absolute path of the folder of `NNNN_name.sql` migrations. Required. */
  folder: string;
  /** Kysely's migration table. Default `herald_migration`; the lock table is `${tableName}_lock`. */
  tableName?: string;
  /** How long to wait for another migrator's lock before throwing `MigrationLockError`, in ms. Default 60_000. */
  lockTimeoutMs?: number;
  /** Lease of the lock, renewed while migrating; a crashed migrator's lock expires after it, in ms. Default 300_000. */
  lockLeaseMs?: number;
}

/**
 * Kysely's PostgreSQL adapter with the migration lock swapped for the lease lock
 * (`pg_advisory_lock` excludes nothing on CockroachDB) and transactional DDL
 * turned off (CockroachDB handles DDL in explicit transactions poorly), so each
 * migration runs on its own. Used on PostgreSQL too, to test the CockroachDB path.
 */
class LeaseLockAdapter implements DialectAdapter {
  /** Set when releasing failed; the lease then expires on its own. */
  releaseError: unknown;

  constructor(
    private readonly inner: DialectAdapter,
    private readonly lock: MigrationLock,
    private readonly pool: Kysely<any>,
  ) {}

  get supportsCreateIfNotExists(): boolean {
    return this.inner.supportsCreateIfNotExists;
  }
  get supportsTransactionalDdl(): boolean {
    return false;
  }
  get supportsReturning(): boolean {
    return this.inner.supportsReturning;
  }
  get supportsOutput(): boolean {
    return this.inner.supportsOutput ?? false;
  }

  async acquireMigrationLock(db: Kysely<any>, _options: MigrationLockOptions): Promise<void> {
    await this.lock.acquire(db);
    this.lock.startRenewal(this.pool);
  }

  async releaseMigrationLock(db: Kysely<any>, _options: MigrationLockOptions): Promise<void> {
    // Kysely releases in a `finally`; a throw here would hide the migration's own error.
    try {
      await this.lock.release(db);
    } catch (err) {
      this.releaseError = err;
    }
  }
}

/**
 * The Migrator reads the adapter from `db.getExecutor().adapter` and offers no
 * option to replace it, so it gets a view of `db` whose executor reports ours.
 * Everything else is the original object (bound, for its private fields).
 */
function withAdapter(db: Kysely<any>, adapter: DialectAdapter): Kysely<any> {
  const bind = (target: object, value: unknown) => (typeof value === "function" ? value.bind(target) : value);
  const executor = db.getExecutor();
  const executorView = new Proxy(executor, {
    get: (target, prop) => (prop === "adapter" ? adapter : bind(target, Reflect.get(target, prop, target))),
  });
  return new Proxy(db, {
    get: (target, prop) => (prop === "getExecutor" ? () => executorView : bind(target, Reflect.get(target, prop, target))),
  });
}

/**
 * Applies every pending migration of `folder`, one at a time, under the lease
 * lock. Resolves with the names applied by this call (empty if another migrator
 * got there first); throws on the first failed migration, naming it.
 */
export async function migrateToLatest(options: MigrateOptions): Promise<{ applied: string[] }> {
  const tableName = options.tableName ?? DEFAULT_MIGRATION_TABLE;
  const lock = new MigrationLock({
    table: `${tableName}_lock`,
    lockTimeoutMs: options.lockTimeoutMs ?? 60_000,
    leaseMs: options.lockLeaseMs ?? 300_000,
  });
  const adapter = new LeaseLockAdapter(options.db.getExecutor().adapter, lock, options.db);
  const migrator = new Migrator({
    db: withAdapter(options.db, adapter),
    provider: new SqlMigrationProvider(options.folder),
    migrationTableName: tableName,
    // Kysely still creates and fills its own lock table; the lease lock ignores it.
    migrationLockTableName: `${tableName}_kysely_lock`,
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  await lock.stopRenewal();
  const applied = results.filter((r) => r.status === "Success").map((r) => r.migrationName);
  if (error !== undefined) {
    const failed = results.find((r) => r.status === "Error");
    if (failed) {
      const reason = error instanceof Error ? error.message : String(error);
      const before = applied.length > 0 ? ` (applied before it: ${applied.join(", ")})` : "";
      throw new Error(`migration ${failed.migrationName} failed: ${reason}${before}`, { cause: error });
    }
    throw error instanceof Error ? error : new Error(`migration failed: ${String(error)}`, { cause: error });
  }
  if (adapter.releaseError !== undefined) {
    const reason = adapter.releaseError instanceof Error ? adapter.releaseError.message : String(adapter.releaseError);
    throw new Error(
      `migrations applied (${applied.join(", ") || "none"}) but releasing the lock failed; it expires after its lease: ${reason}`,
      { cause: adapter.releaseError },
    );
  }
  return { applied };
}

let cachedRoot: string | undefined;

/** The directory of Herald's package.json, found by walking up from this file (src/ or dist/src/). */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown };
      if (name === "herald") return (cachedRoot = dir);
    }
    if (dirname(dir) === dir) throw new Error(`no package.json named "herald" above ${start}`);
  }
}

/** Herald's own migrations: `<packageRoot>/migrations`. */
export function coreMigrationsFolder(): string {
  return join(packageRoot(), "migrations");
}
