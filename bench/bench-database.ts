import { randomBytes } from "node:crypto";
import pg from "pg";
import { GLUE_RUN_TABLES, GLUE_SCHEMA } from "./glue/schema.js";
import { INITIAL_BALANCE, withDatabase } from "./settings.js";

const BENCH_APPLICATION = "herald-bench";

/** The most accounts any scenario uses; contended runs use the first few. */
export const SEEDED_ACCOUNTS = 10_000;

/** A database made for one bench invocation, dropped at the end. */
export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** A small pool on the bench database for setup, checks and statistics. */
  readonly pool: pg.Pool;
  dialect: "postgresql" | "cockroachdb";
  version: string;
  drop(): Promise<void>;
}

async function onAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: "herald-bench-admin" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates a uniquely named database on the server `adminUrl` points at. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `herald_bench_${randomBytes(5).toString("hex")}`;
  await onAdmin(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: BENCH_APPLICATION });
  pool.on("error", () => undefined);
  const { rows } = await pool.query<{ version: string }>("SELECT version() AS version");
  const version = rows[0]?.version ?? "";
  let dropped = false;
  return {
    name,
    url,
    pool,
    dialect: /cockroachdb/i.test(version) ? "cockroachdb" : "postgresql",
    version: version.split(" on ")[0] ?? version,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => undefined);
      await onAdmin(adminUrl, async (c) => {
        // A worker killed hard may leave sessions for a moment; PostgreSQL refuses to drop then.
        await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]).catch(() => undefined);
        await c.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => c.query(`DROP DATABASE IF EXISTS ${name} CASCADE`));
      });
    },
  };
}

/** The glue's tables, and the same seeded accounts for Herald's bank and the glue. */
export async function prepareSchema(db: BenchDatabase, options: { accountsFillfactor?: number } = {}): Promise<void> {
  for (const statement of GLUE_SCHEMA) await db.pool.query(statement);
  // Room on every page, so a balance update stays on its page (a HOT update): no new index
  // entry, so SERIALIZABLE's page-level predicate locks on the primary key index see no write.
  if (options.accountsFillfactor) {
    for (const table of ["bank_accounts", "glue_accounts"]) await db.pool.query(`ALTER TABLE ${table} SET (fillfactor = ${options.accountsFillfactor})`);
  }
  const ids = `SELECT 'acct-' || lpad(i::TEXT, 5, '0') AS id FROM generate_series(0, ${SEEDED_ACCOUNTS - 1}) AS g (i)`;
  await db.pool.query(`INSERT INTO bank_accounts (id, owner, balance) SELECT id, 'bench', ${INITIAL_BALANCE} FROM (${ids}) AS a`);
  await db.pool.query(`INSERT INTO glue_accounts (id, balance) SELECT id, ${INITIAL_BALANCE} FROM (${ids}) AS a`);
  // Planner statistics, as any database that has been running a while has them.
  await db.pool.query("ANALYZE bank_accounts").catch(() => undefined);
  await db.pool.query("ANALYZE glue_accounts").catch(() => undefined);
}

/** Empties what one run leaves behind, so every run starts from the same table sizes. */
export async function clearRunTables(db: BenchDatabase): Promise<void> {
  await db.pool.query(`TRUNCATE ${["herald_outbox", "herald_commands", ...GLUE_RUN_TABLES].join(", ")}`);
}

export interface InvariantCheck {
  ok: boolean;
  expectedSum: string;
  actualSum: string;
  negative: number;
  accounts: number;
}

/** Money is conserved and never negative: the guarantee every run must keep. */
export async function checkInvariant(db: BenchDatabase, table: "bank_accounts" | "glue_accounts"): Promise<InvariantCheck> {
  const { rows } = await db.pool.query<{ total: string; negative: string; accounts: string }>(
    `SELECT sum(balance)::TEXT AS total, count(*) FILTER (WHERE balance < 0)::TEXT AS negative, count(*)::TEXT AS accounts FROM ${table}`,
  );
  const expectedSum = (BigInt(INITIAL_BALANCE) * BigInt(SEEDED_ACCOUNTS)).toString();
  const row = rows[0]!;
  const negative = Number(row.negative);
  const accounts = Number(row.accounts);
  return { ok: row.total === expectedSum && negative === 0 && accounts === SEEDED_ACCOUNTS, expectedSum, actualSum: row.total, negative, accounts };
}

/** What the database says a run did: commands stored, retries, events left unpublished. */
export interface StoredOutcome {
  committed: number;
  rejected: number;
  /** Serialization retries: sum(attempts - 1) over stored commands. */
  retries: number;
  events: number;
  unpublished: number;
}

export async function storedOutcome(db: BenchDatabase, comparator: "glue" | "herald", domain: string): Promise<StoredOutcome> {
  // The glue's tables hold one run at a time; Herald's rows are told apart by domain.
  const [commands, outbox, where, params] =
    comparator === "herald" ? ["herald_commands", "herald_outbox", "WHERE domain = $1", [domain]] : ["glue_idempotency", "glue_outbox", "", []];
  const c = (
    await db.pool.query<Record<string, string>>(
      `SELECT count(*) FILTER (WHERE status = 'committed')::TEXT AS committed, count(*) FILTER (WHERE status = 'rejected')::TEXT AS rejected,
              COALESCE(sum(attempts - 1), 0)::TEXT AS retries FROM ${commands} ${where}`,
      params,
    )
  ).rows[0]!;
  const o = (
    await db.pool.query<Record<string, string>>(
      `SELECT count(*)::TEXT AS events, count(*) FILTER (WHERE published_at IS NULL)::TEXT AS unpublished FROM ${outbox} ${where}`,
      params,
    )
  ).rows[0]!;
  return { committed: Number(c.committed), rejected: Number(c.rejected), retries: Number(c.retries), events: Number(o.events), unpublished: Number(o.unpublished) };
}

/** Committed transactions on the bench database so far (PostgreSQL statistics); undefined elsewhere. */
export async function transactionCount(db: BenchDatabase): Promise<number | undefined> {
  if (db.dialect !== "postgresql") return undefined;
  const read = async () => {
    const { rows } = await db.pool.query<{ n: string }>("SELECT xact_commit::TEXT AS n FROM pg_stat_database WHERE datname = current_database()");
    return rows[0] ? Number(rows[0].n) : undefined;
  };
  // Ending sessions flush their counters a moment after they leave pg_stat_activity:
  // read until two readings agree (each reading adds its own one transaction).
  let last = await read();
  for (let i = 0; i < 12 && last !== undefined; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const next = await read();
    if (next === undefined || next - last <= 1) return next;
    last = next;
  }
  return last;
}

/**
 * Server process ids of the target's sessions (PostgreSQL only), to read their CPU time:
 * during a run only the target connects to the bench database besides the bench itself.
 */
export async function sessionPids(db: BenchDatabase): Promise<number[]> {
  if (db.dialect !== "postgresql") return [];
  const { rows } = await db.pool.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> $1 AND pid <> pg_backend_pid()",
    [BENCH_APPLICATION],
  );
  return rows.map((r) => r.pid);
}

/** Waits (bounded) until the stopped target's sessions are gone, so their statistics are flushed. */
export async function waitSessionsGone(db: BenchDatabase, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (await sessionPids(db)).length > 0) await new Promise((r) => setTimeout(r, 50));
}
