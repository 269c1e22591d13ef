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

/** Creates a fresh, uniquely named database on the server DATABASE_URL points at. */
export async function createTestDatabase<DB = any>(options: { poolMax?: number } = {}): Promise<TestDatabase<DB>> {
  const name = `herald_t_${randomBytes(6).toString("hex")}`;
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
        // Workers spawned by tests may still hold connections for a moment.
        await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`.execute(db);
        await sql`DROP DATABASE IF EXISTS ${sql.id(name)}`.execute(db);
      });
    },
  };
}
