/**
 * The CDC fault scenarios: the bridge killed with SIGKILL mid-stream, NATS
 * restarted mid-stream, PostgreSQL restarted mid-stream, each under a workload
 * of concurrent transactions, some rolled back (./cdc-workload.ts). Each run
 * has its own private PostgreSQL and cleans up everything it started, so the
 * short mode (`npm test`) and the long one (`npm run test:faults`) run the same code.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { createCdcBridge } from "../../src/cdc/bridge.js";
import { cdcWildcard } from "../../src/cdc/change-message.js";
import { ensurePostgresCdc } from "../../src/cdc/postgres-setup.js";
import { createPostgresSource } from "../../src/cdc/postgres-source.js";
import { loadConfig } from "../../src/config.js";
import { connectNats } from "../../src/messaging/connection.js";
import { ensureStream } from "../../src/messaging/stream.js";
import { createCdcDatabase, startLogicalPostgres, withClient } from "../cdc/postgres-fixture.js";
import { runCli, spawnCli } from "../kit/cli.js";
import { uniqueDomain } from "../kit/names.js";
import { startNatsServer } from "../kit/nats-server.js";
import type { PrivatePostgres } from "../kit/postgres-server.js";
import { readStream, streamCount } from "../kit/stream.js";
import { waitFor } from "../kit/wait.js";
import { CDC_TABLE, cdcViolations, createTableSql, finalValues, seedRows, startCdcWorkload, type CdcWorkload } from "./cdc-workload.js";
import { createStreamPublisher } from "../../src/messaging/stream-publisher.js";

/** Size of a CDC fault run. */
export interface CdcFaultMode {
  /** Concurrent writer transactions. */
  writers: number;
  /** Rows the writers update. */
  rows: number;
  /** How many times the fault strikes. */
  repeats: number;
  /** Changes the stream must gain before each fault, and after the last. */
  between: number;
}

export const CDC_SHORT: CdcFaultMode = { writers: 4, rows: 12, repeats: 2, between: 50 };
export const CDC_LONG: CdcFaultMode = { writers: 8, rows: 40, repeats: 8, between: 400 };

export interface CdcFaultReport {
  name: string;
  /** Writer transactions committed, rolled back, and failed (serialization, or lost with the server). */
  committed: number;
  rolledBack: number;
  failed: number;
  /** Row changes the stream had to hold, and was checked against. */
  changesChecked: number;
  durationMs: number;
  violations: string[];
}

interface Run {
  server: PrivatePostgres;
  url: string;
  names: { slot: string; publication: string; tables: string[] };
  defer(cleanup: () => Promise<unknown>): void;
}

/** A private PostgreSQL with the watched table, its slot and publication, and seeded rows; everything deferred is undone after `body`. */
async function withRun<T>(body: (run: Run) => Promise<T>): Promise<T> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const server = await startLogicalPostgres();
  try {
    const db = await createCdcDatabase(server, []);
    await withClient(db.url, (c) => c.query(createTableSql));
    const names = { ...db.names, tables: [CDC_TABLE] };
    await ensurePostgresCdc({ url: db.url }, names);
    return await body({ server, url: db.url, names, defer: (c) => void cleanups.push(c) });
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await server.dispose();
  }
}

/** Waits until `stream` gains `count` more messages than it holds once NATS answers. */
async function gain(nc: NatsConnection, stream: string, count: number): Promise<void> {
  // Right after a NATS restart the connection may still be reconnecting, and a bridge just started may not
  // have made its stream yet: take the count once there is one.
  const before = await waitFor(() => streamCount(nc, stream).catch(() => undefined), { what: "NATS answering", timeoutMs: 30_000 });
  await waitFor(async () => (await streamCount(nc, stream)) >= before + count, { what: `${count} more changes in the stream`, timeoutMs: 60_000 });
}

/** Stops the workload, waits for one message per committed change, and checks the invariants. */
async function finish(name: string, mode: CdcFaultMode, started: number, run: Run, nc: NatsConnection, stream: string, workload: CdcWorkload): Promise<CdcFaultReport> {
  const counts = await workload.stop();
  const finals = await finalValues(run.url);
  const expected = [...finals.values()].reduce((n, v) => n + v + 1, 0);
  await waitFor(async () => (await streamCount(nc, stream)) >= expected, { what: `${expected} changes in the stream`, timeoutMs: 60_000 });
  const violations = cdcViolations(await readStream(nc, stream), finals);
  // The stream gained `between` changes before every fault and after the last: fewer committed means the workload stalled.
  const least = (mode.repeats + 1) * mode.between;
  if (expected < least) violations.push(`only ${expected} committed changes, fewer than the ${least} the stream gained`);
  return { name, ...counts, changesChecked: expected, durationMs: Date.now() - started, violations };
}

/** A bridge in this process, on `natsUrl`, into a fresh stream. */
async function inProcessBridge(run: Run, natsUrl: string) {
  const domain = uniqueDomain("cdcf");
  const stream = `${domain.toUpperCase()}_CDC`;
  const nc = await connectNats({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: stream, subjects: [cdcWildcard(domain)] });
  const bridge = createCdcBridge({ publisher: createStreamPublisher(nc), source: createPostgresSource({ url: run.url, ...run.names }), domain, ackTimeoutMs: 1000 });
  run.defer(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });
  await bridge.start();
  run.defer(() => bridge.stop());
  return { nc, stream };
}

/** 1. `herald cdc start` killed with SIGKILL mid-stream, `repeats + 1` times; then `herald cdc status` must see it streaming, and a stuck slot once it stops. */
export function cdcKillBridge(mode: CdcFaultMode): Promise<CdcFaultReport> {
  return withRun(async (run) => {
    const started = Date.now();
    const name = "CDC bridge killed with SIGKILL mid-stream";
    await seedRows(run.url, mode.rows);
    const domain = uniqueDomain("cdck");
    const stream = `${domain.toUpperCase()}_CDC`;
    const nc = await connectNats({ servers: loadConfig().NATS_URL });
    run.defer(async () => {
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
      await nc.close();
    });
    const env = {
      HERALD_DOMAIN: domain,
      HERALD_CDC_DATABASE_URL: run.url,
      HERALD_CDC_TABLES: CDC_TABLE,
      HERALD_CDC_SLOT: run.names.slot,
      HERALD_CDC_PUBLICATION: run.names.publication,
      LOG_LEVEL: "warn",
    };
    const spawnBridge = async () => {
      const p = spawnCli(["cdc", "start"], { env });
      run.defer(async () => p.child.kill("SIGKILL"));
      await p.waitForLine(/herald cdc ready/, 60_000);
      return p;
    };
    const workload = startCdcWorkload(run.url, { writers: mode.writers, rows: mode.rows });
    run.defer(() => workload.stop());
    for (let kill = 0; kill <= mode.repeats; kill++) {
      const bridge = await spawnBridge();
      await gain(nc, stream, mode.between);
      bridge.child.kill("SIGKILL");
      await bridge.exited;
    }
    const last = await spawnBridge();
    const report = await finish(name, mode, started, run, nc, stream, workload);
    const healthy = await runCli(["cdc", "status", "--json"], { env });
    if (healthy.code !== 0 || JSON.parse(healthy.stdout || "{}").active !== true) {
      report.violations.push(`cdc status of a streaming bridge: exit ${healthy.code}, ${healthy.stdout || healthy.stderr}`);
    }
    last.child.kill("SIGTERM");
    const code = await last.stopped(20_000);
    if (code !== 0) report.violations.push(`the bridge stopped with exit ${code}: ${last.stderr().slice(-500)}`);
    const stuck = await runCli(["cdc", "status"], { env });
    if (stuck.code !== 3 || !/no bridge is streaming/.test(stuck.stderr)) {
      report.violations.push(`cdc status of an inactive slot: exit ${stuck.code} (want 3), ${stuck.stderr}`);
    }
    return report;
  });
}

/** 2. A private NATS server restarted `repeats` times mid-stream, the last time and every other one with SIGKILL. */
export function cdcRestartNats(mode: CdcFaultMode): Promise<CdcFaultReport> {
  return withRun(async (run) => {
    const started = Date.now();
    await seedRows(run.url, mode.rows);
    const nats = await startNatsServer();
    run.defer(() => nats.dispose());
    const { nc, stream } = await inProcessBridge(run, nats.url);
    const workload = startCdcWorkload(run.url, { writers: mode.writers, rows: mode.rows, seed: 11 });
    run.defer(() => workload.stop());
    for (let restart = 0; restart < mode.repeats; restart++) {
      await gain(nc, stream, mode.between);
      await nats.stop({ hard: (mode.repeats - restart) % 2 === 1 });
      await nats.start();
    }
    await gain(nc, stream, mode.between);
    return finish("NATS restarted mid-stream (CDC)", mode, started, run, nc, stream, workload);
  });
}

/** 3. The private PostgreSQL restarted `repeats` times mid-stream, alternating fast and immediate (crash-like) shutdowns. */
export function cdcRestartPostgres(mode: CdcFaultMode): Promise<CdcFaultReport> {
  return withRun(async (run) => {
    const started = Date.now();
    await seedRows(run.url, mode.rows);
    const { nc, stream } = await inProcessBridge(run, loadConfig().NATS_URL);
    const workload = startCdcWorkload(run.url, { writers: mode.writers, rows: mode.rows, seed: 23 });
    run.defer(() => workload.stop());
    for (let restart = 0; restart < mode.repeats; restart++) {
      await gain(nc, stream, mode.between);
      await run.server.stop({ hard: restart % 2 === 1 });
      await run.server.start();
    }
    await gain(nc, stream, mode.between);
    return finish("PostgreSQL restarted mid-stream (CDC)", mode, started, run, nc, stream, workload);
  });
}

export const CDC_SCENARIOS = { cdcKillBridge, cdcRestartNats, cdcRestartPostgres };

/** One screen per scenario. */
export function formatCdcReport(r: CdcFaultReport): string {
  return [
    `scenario: ${r.name}`,
    `  transactions committed ${r.committed}, rolled back ${r.rolledBack}, failed ${r.failed}`,
    `  row changes checked ${r.changesChecked}, took ${(r.durationMs / 1000).toFixed(1)} s`,
    `  invariants: ${r.violations.length === 0 ? "all held" : `${r.violations.length} VIOLATED\n    ${r.violations.slice(0, 10).join("\n    ")}`}`,
  ].join("\n");
}
