import { parseArgs } from "node:util";
import { loadConfig, type HeraldConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import { checkLicense } from "../db/license-check.js";
import { connectNats } from "../messaging/connection.js";
import { createLogger } from "../telemetry/logger.js";
import { startTelemetry } from "../telemetry/sdk.js";
import { assertDomainName } from "../security/naming.js";
import { stopGracefully } from "../worker/graceful-stop.js";
import { parseProcessCount, ProcessCountError } from "../supervisor/process-count.js";
import { READY_MESSAGE } from "../supervisor/supervisor.js";
import { startWorker, type WorkerOptions } from "../worker/worker.js";
import { CliError } from "./cli-error.js";
import { databaseOptionsFromConfig, natsOptionsFromConfig } from "./connection-options.js";
import { loadApp } from "./load-app.js";
import { runWorkerProcesses } from "./start-processes.js";
import type { CliCommand } from "./command.js";

/** Worker options from the environment's configuration. */
export function workerOptionsFromConfig(config: HeraldConfig): Omit<WorkerOptions, "app" | "nc" | "db"> {
  return {
    domain: config.HERALD_DOMAIN,
    stream: config.HERALD_STREAM,
    duplicateWindowMs: config.HERALD_STREAM_DUPLICATE_WINDOW_MS,
    maxPayloadBytes: config.HERALD_MAX_PAYLOAD_BYTES,
    retentionHours: config.HERALD_IDEMPOTENCY_RETENTION_HOURS,
    maxInFlight: config.HERALD_MAX_IN_FLIGHT,
    maxConcurrentTransactions: config.HERALD_DB_POOL_MAX,
    maxBatchSize: config.HERALD_MAX_BATCH_SIZE,
    maxBatchBytes: config.HERALD_MAX_BATCH_BYTES,
    retry: {
      maxAttempts: config.HERALD_TX_MAX_ATTEMPTS,
      deadlineMs: config.HERALD_TX_DEADLINE_MS,
      baseDelayMs: config.HERALD_TX_BACKOFF_BASE_MS,
      maxDelayMs: config.HERALD_TX_BACKOFF_MAX_MS,
    },
    outbox: {
      intervalMs: config.HERALD_OUTBOX_INTERVAL_MS,
      graceMs: config.HERALD_OUTBOX_GRACE_MS,
      batchSize: config.HERALD_OUTBOX_BATCH_SIZE,
    },
    prune: { eventRetentionHours: config.HERALD_EVENT_RETENTION_HOURS },
  };
}

function processCount(value: string): number {
  try {
    return parseProcessCount(value);
  } catch (err) {
    if (err instanceof ProcessCountError) throw new CliError(err.message);
    throw err;
  }
}

export const startCommand: CliCommand = {
  name: "start",
  summary: "run a worker for a domain until SIGTERM",
  usage: "herald start [--app <module>] [--domain <name>] [--processes <n|auto>]",
  help: `Serves the app's commands as a NATS micro service (queue group herald-<domain>),
publishes confirmed events to JetStream and relays whatever the outbox holds.
Prints one line when ready. On SIGTERM or SIGINT it stops taking requests,
finishes those in flight, flushes the outbox, drains NATS and closes the pool.

With --processes, that many worker processes serve the domain, each with its
own NATS connection and pool (HERALD_DB_POOL_MAX shared among them, at least
one connection each), all in one queue group; they stop together on SIGTERM or SIGINT, and a process that crashes is
started again after a backoff (250 ms, doubling to 30 s).

Options:
  --app <module>          module exporting the app (default: the bank reference domain)
  --domain <name>         serve the app under another domain (default: HERALD_DOMAIN or the app's)
  --processes <n|auto>    worker processes, 1 to 64, or auto: one per core (default 1)
  -h, --help              show this help

Configuration comes from the environment (see the README's table).`,
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { app: { type: "string" }, domain: { type: "string" }, processes: { type: "string" } }, strict: true });
    const processes = values.processes === undefined ? 1 : processCount(values.processes);
    const config = loadConfig();
    const logger = createLogger({ level: config.LOG_LEVEL });
    if (values.domain !== undefined) assertDomainName(values.domain);
    const app = await loadApp(values.app, io.cwd);
    if (processes > 1) return runWorkerProcesses(processes, { app: values.app, domain: values.domain ?? config.HERALD_DOMAIN ?? app.domain }, config, io, logger);
    const natsOptions = natsOptionsFromConfig(config, { domain: values.domain ?? config.HERALD_DOMAIN ?? app.domain, role: "worker" });
    // Before the worker: its metric instruments bind to the provider registered now. Silent without OTEL_* settings.
    const telemetry = await startTelemetry(config, {
      serviceName: `herald-${values.domain ?? config.HERALD_DOMAIN ?? app.domain}`,
      serviceVersion: app.version,
      logger,
    });
    if (telemetry.enabled) logger.info({ traces: telemetry.plan.traces, metrics: telemetry.plan.metrics }, "OpenTelemetry enabled");
    const database = await connectDatabase({
      ...databaseOptionsFromConfig(config),
      poolMax: config.HERALD_DB_POOL_MAX,
      applicationName: `herald-${app.domain}`,
      onIdleError: (err) => logger.warn({ err: err.message }, "idle database connection lost"),
    }).catch(async (err) => {
      await telemetry.shutdown();
      throw err;
    });
    await checkLicense(database.pool, { dialect: database.dialect, poolMax: config.HERALD_DB_POOL_MAX, logger });
    const nc = await connectNats({ ...natsOptions, name: `herald-${app.domain}`, logger }).catch(async (err) => {
      await database.destroy();
      await telemetry.shutdown();
      throw err;
    });
    const options = workerOptionsFromConfig(config);
    const worker = await startWorker({ app, nc, db: database.db, logger, dialect: database.dialect, ...options, domain: values.domain ?? options.domain }).catch(
      async (err) => {
        await nc.close();
        await database.destroy();
        await telemetry.shutdown();
        throw err;
      },
    );
    // A supervisor (herald start --processes) hears it over the IPC channel and says it once for all.
    if (process.send) process.send(READY_MESSAGE);
    else io.out(`herald worker ready: domain=${worker.domain} stream=${worker.stream} database=${database.dialect}`);

    const signal = await io.stopSignal;
    logger.info({ signal }, "stopping");
    // Worker, NATS drain, pool and telemetry, all within HERALD_SHUTDOWN_TIMEOUT_MS.
    const { abandoned } = await stopGracefully({ worker, nc, database, telemetry, timeoutMs: config.HERALD_SHUTDOWN_TIMEOUT_MS, logger });
    io.err(`herald worker stopped (${signal})`);
    return abandoned.length > 0 ? 1 : 0;
  },
};
