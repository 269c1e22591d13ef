import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { bankApp } from "../../examples/bank/index.js";
import { loadConfig } from "../../src/config.js";
import { migrateApp } from "../../src/db/migrate-app.js";
import { spawnCli, type CliProcess } from "../kit/cli.js";
import { createTestDatabase, type TestDatabase } from "../kit/database.js";
import { connectSharedNats } from "../kit/nats-server.js";
import { uniqueDomain } from "../kit/names.js";
import { RssSampler } from "../kit/process-memory.js";

/**
 * A bank worker run as users run it (`herald start`, dist build) in its own
 * process, so its memory can be read from /proc and a crash is visible as an
 * exit rather than taking the test runner down with it.
 */
export interface WorkerProcess {
  readonly cli: CliProcess;
  readonly pid: number;
  readonly rss: RssSampler;
  /** Set when the process exited before stop() asked it to. */
  unexpectedExit(): string | undefined;
  stop(): Promise<void>;
}

export async function startWorkerProcess(options: { databaseUrl: string; domain: string; env?: Record<string, string> }): Promise<WorkerProcess> {
  const cli = spawnCli(["start", "--domain", options.domain], {
    env: {
      DATABASE_URL: options.databaseUrl,
      NATS_URL: loadConfig().NATS_URL,
      LOG_LEVEL: "warn",
      // Short relay timings so the outbox drains soon after the load stops.
      HERALD_OUTBOX_INTERVAL_MS: "200",
      HERALD_OUTBOX_GRACE_MS: "1000",
      ...options.env,
    },
  });
  let stopping = false;
  let exit: string | undefined;
  void cli.exited.then((code) => {
    if (!stopping) exit = `worker exited with ${code} (signal ${cli.child.signalCode}); stderr: ${cli.stderr().slice(-2000)}`;
  });
  try {
    await cli.waitForLine(/herald worker ready/, 30_000);
  } catch (err) {
    cli.child.kill("SIGKILL");
    throw err;
  }
  const rss = new RssSampler(cli.child.pid!).start();
  return {
    cli,
    pid: cli.child.pid!,
    rss,
    unexpectedExit: () => exit,
    async stop() {
      stopping = true;
      rss.stop();
      if (cli.child.exitCode !== null || cli.child.signalCode !== null) return;
      cli.child.kill("SIGTERM");
      await cli.stopped(30_000).catch(() => undefined);
    },
  };
}

/** A migrated database, a NATS connection, a unique domain and a worker process on them. */
export interface WorkerSetup {
  readonly database: TestDatabase<any>;
  readonly nc: NatsConnection;
  readonly domain: string;
  readonly worker: WorkerProcess;
  /** Stops the worker, deletes the stream, closes NATS, drops the database; safe to call twice. */
  close(): Promise<void>;
}

export async function setupWorker(env: Record<string, string> = {}, prefix = "fz"): Promise<WorkerSetup> {
  const database = await createTestDatabase();
  let nc: NatsConnection | undefined;
  let worker: WorkerProcess | undefined;
  const domain = uniqueDomain(prefix);
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await worker?.stop();
      if (nc) {
        const jsm = await jetstreamManager(nc).catch(() => undefined);
        await jsm?.streams.delete(`${domain.toUpperCase()}_EVENTS`).catch(() => undefined);
        await nc.close().catch(() => undefined);
      }
      await database.drop();
    })());
  try {
    await migrateApp(database.db, bankApp);
    nc = await connectSharedNats(`herald-${prefix}-client`);
    worker = await startWorkerProcess({ databaseUrl: database.url, domain, env });
    return { database, nc, domain, worker, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
