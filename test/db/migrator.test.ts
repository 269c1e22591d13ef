import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import { connectDatabase } from "../../src/db/connection.js";
import { MigrationLockError } from "../../src/errors.js";
import { MigrationLock, ensureMigrationLockTable, readMigrationLock } from "../../src/db/migration-lock.js";
import { coreMigrationsFolder, migrateToLatest } from "../../src/db/migrator.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { waitFor } from "../kit/wait.js";

const LOCK_TABLE = "herald_migration_lock";
const folders: string[] = [];
after(() => Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true }))));

/** A temp folder holding the given files. */
async function sqlFolder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "herald-migrations-"));
  folders.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

async function withDatabase(fn: (tdb: TestDatabase<any>) => Promise<void>): Promise<void> {
  const tdb = await createTestDatabase();
  try {
    await fn(tdb);
  } finally {
    await tdb.drop();
  }
}

async function appliedNames(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom("herald_migration").select("name").orderBy("name").execute();
  return rows.map((row) => row.name as string);
}

async function tableExists(db: Kysely<any>, table: string): Promise<boolean> {
  const { rows } = await sql`SELECT 1 FROM information_schema.tables WHERE table_name = ${table}`.execute(db);
  return rows.length > 0;
}

async function runLog(db: Kysely<any>): Promise<string[]> {
  const rows = await db.selectFrom("run_log").select("name").orderBy("name").execute();
  return rows.map((row) => row.name as string);
}

async function lockHolder(db: Kysely<any>): Promise<string | null | undefined> {
  return (await readMigrationLock(db, LOCK_TABLE))?.holder;
}

// Plain CREATE TABLE (no IF NOT EXISTS): running a migration twice fails loudly.
const once = (table: string, name: string, extra = "") =>
  `CREATE TABLE ${table} (id INT PRIMARY KEY);\n${extra}INSERT INTO run_log (name) VALUES ('${name}');\n`;
const LOG = "CREATE TABLE run_log (name TEXT NOT NULL);\n";

test("applies the core migrations, then has nothing left to apply", () =>
  withDatabase(async ({ db }) => {
    const first = await migrateToLatest({ db, folder: coreMigrationsFolder() });
    assert.deepEqual(first.applied, ["0001_herald_core", "0002_consumers", "0003_identity", "0004_consumer_positions", "0005_operator_actions"]);
    assert.ok(await tableExists(db, "herald_commands"));
    assert.ok(await tableExists(db, "herald_outbox"));
    assert.equal(await lockHolder(db), null);
    const second = await migrateToLatest({ db, folder: coreMigrationsFolder() });
    assert.deepEqual(second.applied, []);
    assert.deepEqual(await appliedNames(db), ["0001_herald_core", "0002_consumers", "0003_identity", "0004_consumer_positions", "0005_operator_actions"]);
  }));

test("five concurrent migrators apply each migration exactly once", () =>
  withDatabase(async ({ db, url }) => {
    const folder = await sqlFolder({
      "0001_first.sql": LOG + once("first_guard", "0001", "SELECT pg_sleep(0.2);\n"),
      "0002_second.sql": once("second_guard", "0002"),
    });
    const handles = await Promise.all(Array.from({ length: 5 }, () => connectDatabase<any>({ url, poolMax: 2 })));
    try {
      const outcomes = await Promise.allSettled(handles.map((h) => migrateToLatest({ db: h.db, folder })));
      const failures = outcomes.filter((o) => o.status === "rejected");
      assert.deepEqual(failures, []);
      const applied = outcomes.flatMap((o) => (o.status === "fulfilled" ? o.value.applied : []));
      assert.deepEqual(applied.sort(), ["0001_first", "0002_second"]);
    } finally {
      await Promise.all(handles.map((h) => h.destroy()));
    }
    assert.deepEqual(await runLog(db), ["0001", "0002"]);
    assert.deepEqual(await appliedNames(db), ["0001_first", "0002_second"]);
    assert.equal(await lockHolder(db), null);
  }));

test("a lock held by a live migrator makes another wait, then fail with MigrationLockError", () =>
  withDatabase(async ({ db }) => {
    const folder = await sqlFolder({ "0001_first.sql": LOG + once("first_guard", "0001") });
    const other = new MigrationLock({ table: LOCK_TABLE, holder: "other-migrator@test", leaseMs: 600_000 });
    await other.acquire(db);
    const started = Date.now();
    await assert.rejects(migrateToLatest({ db, folder, lockTimeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof MigrationLockError, String(err));
      assert.match(err.message, /other-migrator@test/);
      return true;
    });
    assert.ok(Date.now() - started >= 300, "gave up before lockTimeoutMs");
    assert.deepEqual(await appliedNames(db), []);
    assert.equal(await tableExists(db, "run_log"), false);
    assert.equal(await lockHolder(db), "other-migrator@test");

    await other.release(db);
    assert.deepEqual((await migrateToLatest({ db, folder, lockTimeoutMs: 300 })).applied, ["0001_first"]);
  }));

test("an expired lease is taken over; non-.sql files are ignored", () =>
  withDatabase(async ({ db }) => {
    const folder = await sqlFolder({ "0001_first.sql": LOG + once("first_guard", "0001"), "README.md": "# notes" });
    await ensureMigrationLockTable(db, LOCK_TABLE);
    await sql`UPDATE ${sql.id(LOCK_TABLE)} SET holder = 'crashed@test', acquired_at = now() - INTERVAL '10 minutes',
      lease_until = now() - INTERVAL '1 minute' WHERE id = 'migration'`.execute(db);
    const result = await migrateToLatest({ db, folder, lockTimeoutMs: 300 });
    assert.deepEqual(result.applied, ["0001_first"]);
    assert.deepEqual(await runLog(db), ["0001"]);
    assert.equal(await lockHolder(db), null);
  }));

test("a live but slow migrator keeps its lock past the lease by renewing it", () =>
  withDatabase(async ({ db }) => {
    const folder = await sqlFolder({ "0001_slow.sql": LOG + once("slow_guard", "0001", "SELECT pg_sleep(1.2);\n") });
    const slow = migrateToLatest({ db, folder, lockLeaseMs: 300 });
    await waitFor(async () => Boolean(await lockHolder(db)), { what: "the first migrator to take the lock" });
    const waiting = migrateToLatest({ db, folder, lockLeaseMs: 300, lockTimeoutMs: 10_000 });
    const [first, second] = await Promise.all([slow, waiting]);
    assert.deepEqual(first.applied, ["0001_slow"]);
    assert.deepEqual(second.applied, []);
    assert.deepEqual(await runLog(db), ["0001"]);
  }));

test("a broken migration is named, stops the run and releases the lock", () =>
  withDatabase(async ({ db }) => {
    const files = {
      "0001_ok.sql": LOG + once("ok_guard", "0001"),
      "0002_broken.sql": "CREATE TABLE broken_guard (id INT PRIMARY KEY;\n",
      "0003_after.sql": once("after_guard", "0003"),
    };
    const folder = await sqlFolder(files);
    await assert.rejects(migrateToLatest({ db, folder }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /0002_broken/);
      assert.match(err.message, /syntax error/);
      assert.ok(err.cause instanceof Error);
      return true;
    });
    assert.deepEqual(await appliedNames(db), ["0001_ok"]);
    assert.equal(await tableExists(db, "after_guard"), false);
    assert.equal(await lockHolder(db), null);

    await writeFile(join(folder, "0002_broken.sql"), once("broken_guard", "0002"));
    const fixed = await migrateToLatest({ db, folder, lockTimeoutMs: 300 });
    assert.deepEqual(fixed.applied, ["0002_broken", "0003_after"]);
    assert.deepEqual(await runLog(db), ["0001", "0002", "0003"]);
  }));

test("a badly named migration file is rejected with a clear error", () =>
  withDatabase(async ({ db }) => {
    const folder = await sqlFolder({ "0001_ok.sql": LOG, "2_Add-Orders.sql": "SELECT 1;" });
    await assert.rejects(migrateToLatest({ db, folder }), /"2_Add-Orders\.sql".*badly named.*0002_add_orders\.sql/);
    assert.equal(await tableExists(db, "run_log"), false);
  }));
