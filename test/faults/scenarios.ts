import { sql } from "kysely";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { loadConfig } from "../../src/config.js";
import { startNatsCluster } from "../kit/nats-cluster.js";
import { startNatsServer } from "../kit/nats-server.js";
import { startPostgresServer } from "../kit/postgres-server.js";
import { startTcpProxy } from "../kit/tcp-proxy.js";
import { waitFor } from "../kit/wait.js";
import { runScenario, type ScenarioReport } from "./scenario.js";

/** Size of a run: CI uses the short mode, `npm run test:faults` the long one. */
export interface FaultMode {
  transfers: number;
  concurrency: number;
  /** How many times a repeated fault strikes. */
  repeats: number;
}

export const SHORT: FaultMode = { transfers: 150, concurrency: 12, repeats: 2 };
export const LONG: FaultMode = { transfers: 2000, concurrency: 32, repeats: 6 };

/**
 * Time to recover, the README's fault table promises: from the fault's end to
 * the first committed reply after it. Each is what the mechanism allows plus
 * room for a shared CI machine: after a kill the other worker serves new
 * requests at once, but a closed-loop client whose requests the dead worker
 * held hears nothing until its request timeout (4 s) ends and its retry commits
 * (docs/reliability.md, section 8); a NATS restart costs the clients' reconnect wait (2 s) and a request timeout
 * (4 s); a lost cluster node costs a leader election; a restarted database costs
 * the pool a new connection; a stall ends with the retry deadline (1.5 s here).
 */
export const RECOVERY_BOUNDS_MS = {
  killWorkers: 5000,
  restartNats: 6000,
  clusterNodeLoss: 5000,
  databaseOutage: 5000,
  slowDatabase: 3000,
} as const;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sharedDb = () => loadConfig().DATABASE_URL;
const sharedNats = () => loadConfig().NATS_URL.split(",");

/** 1. kill -9 one of two workers repeatedly during the load, restarting it each time. */
export function killWorkers(mode: FaultMode): Promise<ScenarioReport> {
  return runScenario({
    name: "kill -9 workers during load",
    recoverBoundMs: RECOVERY_BOUNDS_MS.killWorkers,
    databaseServerUrl: sharedDb(),
    natsUrls: sharedNats(),
    ...mode,
    async fault(ctx) {
      for (let i = 0; i < mode.repeats; i++) {
        await ctx.waitProgress((i + 1) / (mode.repeats + 2));
        await ctx.restartWorker(i % 2);
      }
    },
  });
}

/** 2. restart a private NATS server in the middle of the load. */
export async function restartNats(mode: FaultMode): Promise<ScenarioReport> {
  const server = await startNatsServer();
  try {
    return await runScenario({
      name: "NATS server restart during load",
      recoverBoundMs: RECOVERY_BOUNDS_MS.restartNats,
      databaseServerUrl: sharedDb(),
      natsUrls: [server.url],
      ...mode,
      async fault(ctx) {
        for (let i = 0; i < Math.max(1, mode.repeats / 2); i++) {
          await ctx.waitProgress((i + 1) / (mode.repeats / 2 + 2));
          await server.stop({ hard: true });
          await sleep(500);
          await server.start();
        }
      },
    });
  } finally {
    await server.dispose();
  }
}

/** 3. a three-node cluster with the stream at three replicas; one node stops during the load. */
export async function clusterNodeLoss(mode: FaultMode): Promise<ScenarioReport> {
  const cluster = await startNatsCluster(3);
  try {
    return await runScenario({
      name: "NATS cluster node lost during load",
      recoverBoundMs: RECOVERY_BOUNDS_MS.clusterNodeLoss,
      databaseServerUrl: sharedDb(),
      natsUrls: cluster.urls,
      ...mode,
      async prepare({ nc, stream, domain }) {
        // A new cluster elects its JetStream meta leader first; until then the API times out.
        await waitFor(async () => {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.streams.add({ name: stream, subjects: [`${domain}.evt.>`], num_replicas: 3, duplicate_window: 120_000_000_000 });
          return true;
        }, { what: "replicated stream", timeoutMs: 30_000, intervalMs: 250 });
      },
      async fault(ctx) {
        await ctx.waitProgress(0.3);
        await cluster.stopNode(0, { hard: true });
      },
    });
  } finally {
    await cluster.dispose();
  }
}

/** 4. terminate the workers' connections repeatedly, and stop/start a private PostgreSQL. */
export async function databaseOutage(mode: FaultMode): Promise<ScenarioReport> {
  const server = await startPostgresServer();
  try {
    return await runScenario({
      name: "database connections killed and database restarted",
      recoverBoundMs: RECOVERY_BOUNDS_MS.databaseOutage,
      databaseServerUrl: server.url,
      natsUrls: sharedNats(),
      workerEnv: { HERALD_TX_DEADLINE_MS: "5000" },
      ...mode,
      async fault(ctx) {
        for (let i = 0; i < mode.repeats; i++) {
          await ctx.waitProgress((i + 1) / (mode.repeats + 3));
          const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server.url, max: 1 }) }) });
          await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'herald-%'`.execute(db).catch(() => undefined);
          await db.destroy();
        }
        await ctx.waitProgress((mode.repeats + 1) / (mode.repeats + 3));
        await server.stop();
        await sleep(1000);
        await server.start();
      },
    });
  } finally {
    await server.dispose();
  }
}

/** 5. a slow database: a proxy delays, then stalls, the workers' database traffic. */
export async function slowDatabase(mode: FaultMode): Promise<ScenarioReport> {
  const target = new URL(sharedDb());
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  try {
    return await runScenario({
      name: "slow and stalled database",
      recoverBoundMs: RECOVERY_BOUNDS_MS.slowDatabase,
      databaseServerUrl: sharedDb(),
      workerDatabaseUrl: (url) => {
        const u = new URL(url);
        u.port = String(proxy.port);
        return u.toString();
      },
      natsUrls: sharedNats(),
      clientTimeoutMs: 2500,
      workerEnv: { HERALD_TX_DEADLINE_MS: "1500" },
      ...mode,
      async fault(ctx) {
        await ctx.waitProgress(0.2);
        proxy.setDelay(30);
        await ctx.waitProgress(0.4);
        proxy.setDelay(0);
        proxy.stall();
        await sleep(3000);
        proxy.resume();
      },
    });
  } finally {
    await proxy.close();
  }
}

export const ALL_SCENARIOS = { killWorkers, restartNats, clusterNodeLoss, databaseOutage, slowDatabase };
