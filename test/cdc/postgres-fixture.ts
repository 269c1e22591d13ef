import { randomBytes } from "node:crypto";
import pg from "pg";
import type { ChangeSource } from "../../src/cdc/change-source.js";
import { createPostgresSource, type PostgresSourceOptions } from "../../src/cdc/postgres-source.js";
import { startPostgresServer, type PrivatePostgres } from "../kit/postgres-server.js";
import type { SourceFixture, Write } from "./conformance.js";

/** Settings a PostgreSQL needs for logical replication. */
export const LOGICAL_SETTINGS = { wal_level: "logical", max_replication_slots: 40, max_wal_senders: 40, wal_sender_timeout: "10s" } as const;

/** A private PostgreSQL with `wal_level = logical`, started once per test file. */
export function startLogicalPostgres(): Promise<PrivatePostgres> {
  return startPostgresServer({ settings: LOGICAL_SETTINGS });
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function statement(w: Write): { text: string; values: unknown[] } {
  if (!/^[a-z_]+$/.test(w.table)) throw new TypeError(`bad table ${w.table}`);
  if (w.op === "insert") return { text: `INSERT INTO ${w.table} (id, value) VALUES ($1, $2)`, values: [w.id, w.value ?? 0] };
  if (w.op === "update") return { text: `UPDATE ${w.table} SET value = $2 WHERE id = $1`, values: [w.id, w.value ?? 0] };
  return { text: `DELETE FROM ${w.table} WHERE id = $1`, values: [w.id] };
}

/** Runs writes in one transaction on `client`, then commits or rolls back. */
export async function runWrites(client: pg.Client | pg.PoolClient, writes: Write[], end: "COMMIT" | "ROLLBACK"): Promise<void> {
  await client.query("BEGIN");
  try {
    for (const w of writes) await client.query(statement(w));
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  await client.query(end);
}

export interface PostgresCdcDatabase {
  url: string;
  tables: string[];
  names: { slot: string; publication: string };
  sourceOptions(extra?: Partial<PostgresSourceOptions>): PostgresSourceOptions;
  /** Drops the slot (stop its bridge first) and the database. */
  drop(): Promise<void>;
}

/** A fresh database on `server` with two watched tables (`id text` primary key, `value int`) and names for a slot. */
export async function createCdcDatabase(server: PrivatePostgres, tables = ["cdc_a", "cdc_b"]): Promise<PostgresCdcDatabase> {
  const suffix = randomBytes(5).toString("hex");
  const name = `herald_cdc_${suffix}`;
  await withClient(server.url, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = server.urlFor(name);
  await withClient(url, async (c) => {
    for (const t of tables) await c.query(`CREATE TABLE ${t} (id text PRIMARY KEY, value int NOT NULL)`);
  });
  const names = { slot: `herald_${suffix}`, publication: `herald_${suffix}` };
  return {
    url,
    tables,
    names,
    sourceOptions: (extra = {}) => ({ url, ...names, tables, ...extra }),
    async drop() {
      await withClient(server.url, async (c) => {
        await c.query("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", [names.slot]);
        await c.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [names.slot]).catch(() => undefined);
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
      });
    },
  };
}

/** The conformance fixture of the PostgreSQL source. */
export async function postgresFixture(server: PrivatePostgres): Promise<SourceFixture> {
  const db = await createCdcDatabase(server);
  let current: ChangeSource = createPostgresSource(db.sourceOptions());
  return {
    get source() {
      return current;
    },
    tables: db.tables,
    commit: (writes) => withClient(db.url, (c) => runWrites(c, writes, "COMMIT")),
    rollback: (writes) => withClient(db.url, (c) => runWrites(c, writes, "ROLLBACK")),
    async reopen() {
      await current.stop();
      current = createPostgresSource(db.sourceOptions());
      return current;
    },
    async dispose() {
      await current.stop();
      await db.drop();
    },
  };
}
