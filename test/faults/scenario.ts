import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { bankApp, openAccount } from "../../examples/bank/index.js";
import { createClient } from "../../src/client/client.js";
import { connectDatabase, type Database } from "../../src/db/connection.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { connectNats } from "../../src/messaging/connection.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import { waitFor } from "../kit/wait.js";
import { checkInvariants, type InvariantReport } from "./invariants.js";
import { runTransfers, type OpOutcome } from "./workload.js";

/** What a fault may do while the load runs. */
export interface FaultContext {
  readonly domain: string;
  readonly stream: string;
  readonly databaseUrl: string;
  readonly nc: NatsConnection;
  /** Resolves once this fraction of the operations has settled. */
  waitProgress(fraction: number): Promise<void>;
  /** Kills worker `i` (SIGKILL) and starts a new one in its place, resolving when it is ready. */
  restartWorker(i: number): Promise<void>;
  workerPids(): number[];
}

export interface ScenarioSpec {
  name: string;
  /** Server to create the scenario's database on (a postgresql:// URL of any database there). */
  databaseServerUrl: string;
  /** Database URL the workers use, from the created database's URL (e.g. through a proxy). Default: the same. */
  workerDatabaseUrl?: (url: string) => string;
  natsUrls: string[];
  /**
   * Longest time from the fault's end to the first committed reply after it, in
   * ms: the bound the README's fault table promises. Past it the run fails.
   */
  recoverBoundMs: number;
  transfers: number;
  concurrency: number;
  accounts?: number;
  /** Client timeout per attempt in ms. Default 4000. */
  clientTimeoutMs?: number;
  workerEnv?: Record<string, string>;
  /** Runs before the workers start (e.g. create a replicated stream). */
  prepare?(ctx: { nc: NatsConnection; stream: string; domain: string }): Promise<void>;
  /** The fault, run alongside the load; returns when it is done. */
  fault(ctx: FaultContext): Promise<void>;
}

export interface ScenarioReport {
  name: string;
  sent: number;
  confirmed: number;
  rejected: number;
  indeterminate: number;
  clientRetries: number;
  duplicatesAbsorbed: number;
  eventsChecked: number;
  recoverMs: number;
  /** The documented bound on recoverMs. */
  recoverBoundMs: number;
  durationMs: number;
  violations: string[];
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(url: string, statement: (db: Kysely<unknown>) => Promise<unknown>): Promise<void> {
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
  try {
    await statement(db);
  } finally {
    await db.destroy();
  }
}

/** Runs a bank workload through the real client against two worker processes while `fault` strikes, then checks. */
export async function runScenario(spec: ScenarioSpec): Promise<ScenarioReport> {
  const started = Date.now();
  const domain = uniqueDomain("f");
  const stream = `${domain.toUpperCase()}_EVENTS`;
  const dbName = `herald_fault_${randomBytes(5).toString("hex")}`;
  await admin(spec.databaseServerUrl, (db) => sql`CREATE DATABASE ${sql.id(dbName)}`.execute(db));
  const databaseUrl = withDatabase(spec.databaseServerUrl, dbName);
  let database: Database<any> | undefined;
  let nc: NatsConnection | undefined;
  const workers: CliProcess[] = [];
  try {
    database = await connectDatabase({ url: databaseUrl, poolMax: 4 });
    await migrateApp(database.db, bankApp);
    nc = await connectNats({ servers: spec.natsUrls, name: "fault-client" });
    await spec.prepare?.({ nc, stream, domain });

    const env = {
      DATABASE_URL: spec.workerDatabaseUrl?.(databaseUrl) ?? databaseUrl,
      NATS_URL: spec.natsUrls.join(","),
      LOG_LEVEL: "error",
      HERALD_OUTBOX_INTERVAL_MS: "200",
      HERALD_OUTBOX_GRACE_MS: "1000",
      ...spec.workerEnv,
    };
    const startWorker = async (i: number) => {
      const w = spawnCli(["start", "--domain", domain], { env });
      workers[i] = w;
      await w.waitForLine(/herald worker ready/, 60_000);
    };
    await Promise.all([startWorker(0), startWorker(1)]);

    const retriesByKey = new Map<string, number>();
    const client = createClient(nc, {
      domain,
      timeoutMs: spec.clientTimeoutMs ?? 4000,
      retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
      onRetry: (info) => retriesByKey.set(info.idempotencyKey, (retriesByKey.get(info.idempotencyKey) ?? 0) + 1),
    });
    const accounts = Array.from({ length: spec.accounts ?? 5 }, (_, i) => `acct_${i}`);
    const initial: Record<string, number> = {};
    for (const id of accounts) {
      const r = await waitFor(() => client.send(openAccount, { accountId: id, owner: id, initialBalance: 10_000 }), { what: "account opened", timeoutMs: 30_000 });
      if (r.status !== "committed") throw new Error(`could not open ${id}: ${JSON.stringify(r)}`);
      initial[id] = 10_000;
    }

    let settled = 0;
    const waiters: Array<{ at: number; resolve: () => void }> = [];
    let faultEndedAt = 0;
    const ctx: FaultContext = {
      domain,
      stream,
      databaseUrl,
      nc,
      waitProgress: (fraction) =>
        new Promise((resolve) => {
          const at = Math.floor(spec.transfers * fraction);
          if (settled >= at) resolve();
          else waiters.push({ at, resolve });
        }),
      async restartWorker(i) {
        const old = workers[i];
        old?.child.kill("SIGKILL");
        await old?.exited;
        await startWorker(i);
      },
      workerPids: () => workers.map((w) => w.child.pid ?? 0),
    };
    const faultDone = spec.fault(ctx).then(() => {
      faultEndedAt = Date.now();
    });
    const outcomes: OpOutcome[] = await runTransfers({
      client,
      accounts,
      transfers: spec.transfers,
      concurrency: spec.concurrency,
      opDeadlineMs: 90_000,
      retriesByKey,
      onProgress: (n) => {
        settled = n;
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (settled >= waiters[i]!.at) waiters.splice(i, 1)[0]!.resolve();
        }
      },
    });
    for (const w of waiters.splice(0)) w.resolve();
    await faultDone;

    // Let the relays finish whatever the fault left behind.
    const db = database.db;
    await waitFor(
      async () => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM herald_outbox WHERE published_at IS NULL`.execute(db)).rows[0]!.n) === 0 || undefined,
      { what: "outbox drained", timeoutMs: 60_000, intervalMs: 100 },
    ).catch(() => undefined);
    const firstAfter = outcomes.filter((o) => o.status === "committed" && o.settledAt >= faultEndedAt).map((o) => o.settledAt);
    const report: InvariantReport = await checkInvariants(db, nc, stream, outcomes, initial);
    const recoverMs = firstAfter.length ? Math.max(0, Math.min(...firstAfter) - faultEndedAt) : 0;
    return {
      name: spec.name,
      sent: outcomes.length,
      confirmed: outcomes.filter((o) => o.status === "committed").length,
      rejected: outcomes.filter((o) => o.status === "rejected").length,
      indeterminate: outcomes.filter((o) => o.status === "indeterminate" || o.status === "failed").length,
      clientRetries: outcomes.reduce((s, o) => s + o.clientRetries + o.resends, 0),
      duplicatesAbsorbed: outcomes.filter((o) => o.duplicate).length,
      eventsChecked: report.eventsChecked,
      recoverMs,
      recoverBoundMs: spec.recoverBoundMs,
      durationMs: Date.now() - started,
      violations: [
        ...report.violations,
        ...(recoverMs > spec.recoverBoundMs ? [`recovered in ${recoverMs} ms, past the documented ${spec.recoverBoundMs} ms`] : []),
        ...outcomes.filter((o) => o.status === "indeterminate" || o.status === "failed").map((o) => `${o.key} never settled (${o.code})`),
      ],
    };
  } finally {
    await Promise.allSettled(workers.map(async (w) => {
      w.child.kill("SIGTERM");
      await w.stopped(20_000).catch(() => w.child.kill("SIGKILL"));
    }));
    if (nc) {
      await jetstreamManager(nc).then((jsm) => jsm.streams.delete(stream)).catch(() => undefined);
      await nc.close().catch(() => undefined);
    }
    await database?.destroy().catch(() => undefined);
    await admin(spec.databaseServerUrl, async (db) => {
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${dbName} AND pid <> pg_backend_pid()`.execute(db);
      await sql`DROP DATABASE IF EXISTS ${sql.id(dbName)}`.execute(db);
    }).catch(() => undefined);
  }
}

/** One screen per scenario. */
export function formatReport(r: ScenarioReport): string {
  return [
    `scenario: ${r.name}`,
    `  commands sent ${r.sent}, confirmed ${r.confirmed}, rejected ${r.rejected}, unsettled ${r.indeterminate}`,
    `  retried by clients ${r.clientRetries}, duplicates absorbed ${r.duplicatesAbsorbed}`,
    `  events checked ${r.eventsChecked}, time to recover ${r.recoverMs} ms (bound ${r.recoverBoundMs} ms), took ${(r.durationMs / 1000).toFixed(1)} s`,
    `  invariants: ${r.violations.length === 0 ? "all held" : `${r.violations.length} VIOLATED\n    ${r.violations.slice(0, 10).join("\n    ")}`}`,
  ].join("\n");
}

/** Prints the report and fails the test unless every invariant held for every operation sent. */
export function assertHeld(report: ScenarioReport, transfers: number): void {
  console.log(formatReport(report));
  assert.deepEqual(report.violations, []);
  assert.ok(report.recoverMs <= report.recoverBoundMs, `recovered in ${report.recoverMs} ms; the README promises ${report.recoverBoundMs} ms`);
  assert.equal(report.sent, transfers);
  assert.ok(report.confirmed > 0);
}
