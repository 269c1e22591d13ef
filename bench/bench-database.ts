import { randomBytes } from "node:crypto";
import pg from "pg";
import { GLUE_RUN_TABLES, GLUE_SCHEMA } from "./glue/schema.js";
import { childPids, isServerHelper, parentPid, processTitle } from "./proc-stats.js";
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
  // One session, closed at the end: ending it flushes its statistics at once, so the
  // seed's rows never show up late among a run's rows written.
  const client = await db.pool.connect();
  try {
    for (const statement of GLUE_SCHEMA) await client.query(statement);
    // Room on every page, so a balance update stays on its page (a HOT update): no new index
    // entry, so SERIALIZABLE's page-level predicate locks on the primary key index see no write.
    if (options.accountsFillfactor) {
      for (const table of ["bank_accounts", "glue_accounts"]) await client.query(`ALTER TABLE ${table} SET (fillfactor = ${options.accountsFillfactor})`);
    }
    const ids = `SELECT 'acct-' || lpad(i::TEXT, 5, '0') AS id FROM generate_series(0, ${SEEDED_ACCOUNTS - 1}) AS g (i)`;
    await client.query(`INSERT INTO bank_accounts (id, owner, balance) SELECT id, 'bench', ${INITIAL_BALANCE} FROM (${ids}) AS a`);
    await client.query(`INSERT INTO glue_accounts (id, balance) SELECT id, ${INITIAL_BALANCE} FROM (${ids}) AS a`);
    // Planner statistics, as any database that has been running a while has them.
    await client.query("ANALYZE bank_accounts").catch(() => undefined);
    await client.query("ANALYZE glue_accounts").catch(() => undefined);
  } finally {
    client.release(true);
  }
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

/** Money added by a domain's committed deposits (the `deposit` scenario): what the accounts' sum must have grown by. */
export async function depositedSum(db: BenchDatabase, domain: string): Promise<bigint> {
  const { rows } = await db.pool.query<{ total: string }>(
    "SELECT COALESCE(sum((payload->>'amount')::BIGINT), 0)::TEXT AS total FROM herald_commands WHERE domain = $1 AND command = 'deposit' AND status = 'committed'",
    [domain],
  );
  return BigInt(rows[0]?.total ?? "0");
}

/** Every bank account back to its seeded balance, after deposits grew the sum. */
export async function resetBankBalances(db: BenchDatabase): Promise<void> {
  await db.pool.query(`UPDATE bank_accounts SET balance = ${INITIAL_BALANCE} WHERE balance <> ${INITIAL_BALANCE}`);
}

/** Money is conserved (grown by exactly `added`) and never negative: the guarantee every run must keep. */
export async function checkInvariant(db: BenchDatabase, table: "bank_accounts" | "glue_accounts", added = 0n): Promise<InvariantCheck> {
  const { rows } = await db.pool.query<{ total: string; negative: string; accounts: string }>(
    `SELECT sum(balance)::TEXT AS total, count(*) FILTER (WHERE balance < 0)::TEXT AS negative, count(*)::TEXT AS accounts FROM ${table}`,
  );
  const expectedSum = (BigInt(INITIAL_BALANCE) * BigInt(SEEDED_ACCOUNTS) + added).toString();
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

/** Server statistics of the bench database: committed transactions and rows written (inserted, updated, deleted). */
export interface DatabaseCounters {
  transactions: number;
  rowsWritten: number;
}

/** The bench database's counters so far (PostgreSQL statistics); undefined elsewhere. */
export async function databaseCounters(db: BenchDatabase): Promise<DatabaseCounters | undefined> {
  if (db.dialect !== "postgresql") return undefined;
  const read = async (): Promise<DatabaseCounters | undefined> => {
    const { rows } = await db.pool.query<{ n: string; w: string }>(
      "SELECT xact_commit::TEXT AS n, (tup_inserted + tup_updated + tup_deleted)::TEXT AS w FROM pg_stat_database WHERE datname = current_database()",
    );
    return rows[0] ? { transactions: Number(rows[0].n), rowsWritten: Number(rows[0].w) } : undefined;
  };
  // Ending sessions flush their counters a moment after they leave pg_stat_activity:
  // read until two readings agree (each reading adds its own one transaction).
  let last = await read();
  for (let i = 0; i < 12 && last !== undefined; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const next = await read();
    if (next === undefined || (next.transactions - last.transactions <= 1 && next.rowsWritten === last.rowsWritten)) return next;
    last = next;
  }
  return last;
}

/** Committed transactions on the bench database so far (PostgreSQL statistics); undefined elsewhere. */
export async function transactionCount(db: BenchDatabase): Promise<number | undefined> {
  return (await databaseCounters(db))?.transactions;
}

/**
 * The server-wide PostgreSQL processes whose work a run causes (WAL writer,
 * checkpointer, background writer, autovacuum of this database): children of
 * the server process, found from the bench's own session. Empty elsewhere.
 */
export async function serverHelperPids(db: BenchDatabase): Promise<number[]> {
  if (db.dialect !== "postgresql") return [];
  const { rows } = await db.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
  const postmaster = rows[0] ? parentPid(rows[0].pid) : undefined;
  if (postmaster === undefined) return [];
  return childPids(postmaster).filter((pid) => isServerHelper(processTitle(pid) ?? "", db.name));
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
