import { randomBytes } from "node:crypto";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";

/** A database made for one test file, dropped by `drop()`. */
export interface TestDatabase<DB> extends Database<DB> {
  readonly url: string;
  readonly name: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({ connectionString: loadConfig().DATABASE_URL, max: 1 });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

/** Where the tests' PostgreSQL is when it comes from `docker compose up -d` (service test-postgres). */
export const COMPOSE_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/postgres";

/** The one line that says what the tests need, when DATABASE_URL is not a PostgreSQL they can use. */
export function testDatabaseRequirement(reason: string): string {
  return `tests need PostgreSQL (${reason}): run \`docker compose up -d test-postgres\` and DATABASE_URL=${COMPOSE_TEST_DATABASE_URL} npm test, or point DATABASE_URL at any PostgreSQL 14+ with trust auth`;
}

let checked: Promise<void> | undefined;

/**
 * Set by `npm run test:cockroach` (test/cockroach-live/run.ts) for the test
 * files it runs against a real CockroachDB: the kit then requires CockroachDB
 * instead of PostgreSQL.
 */
export const LIVE_COCKROACH = process.env.HERALD_TEST_DATABASE === "cockroachdb";

/** Once per process: the server must answer and be PostgreSQL (the tests kill backends, start private instances, …). */
function checkServer(): Promise<void> {
  checked ??= admin((db) => sql<{ version: string }>`SELECT version() AS version`.execute(db)).then(
    ({ rows }) => {
      const cockroach = /cockroachdb/i.test(rows[0]?.version ?? "");
      if (LIVE_COCKROACH && !cockroach) throw new Error(`npm run test:cockroach needs CockroachDB at DATABASE_URL; found ${rows[0]?.version ?? "an unknown server"}`);
      if (!LIVE_COCKROACH && cockroach) throw new Error(testDatabaseRequirement("DATABASE_URL points at CockroachDB"));
    },
    (err: unknown) => {
      throw new Error(testDatabaseRequirement(`nothing usable answers at DATABASE_URL: ${(err as Error).message}`), { cause: err });
    },
  );
  return checked;
}

/** Creates a fresh, uniquely named database on the server DATABASE_URL points at. */
export async function createTestDatabase<DB = any>(options: { poolMax?: number } = {}): Promise<TestDatabase<DB>> {
  const name = `herald_t_${randomBytes(6).toString("hex")}`;
  await checkServer();
  await admin((db) => sql`CREATE DATABASE ${sql.id(name)}`.execute(db));
  const url = withDatabase(loadConfig().DATABASE_URL, name);
  const database = await connectDatabase<DB>({ url, poolMax: options.poolMax ?? 20 });
  let dropped = false;
  return {
    ...database,
    url,
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await database.destroy().catch(() => undefined);
      await admin(async (db) => {
        // CockroachDB drops a database its sessions still use; it has no pg_terminate_backend.
        if (LIVE_COCKROACH) return void (await sql`DROP DATABASE IF EXISTS ${sql.id(name)} CASCADE`.execute(db));
        // Workers spawned by tests may still hold connections for a moment.
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`.execute(db);
        await sql`DROP DATABASE IF EXISTS ${sql.id(name)}`.execute(db);
      });
    },
  };
}
