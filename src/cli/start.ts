import { parseArgs } from "node:util";
import { loadConfig, type HeraldConfig } from "../config.js";
import { connectDatabase } from "../db/connection.js";
import { checkLicense } from "../db/license-check.js";
import { connectNats } from "../messaging/connection.js";
import { createLogger } from "../telemetry/logger.js";
import { startTelemetry } from "../telemetry/sdk.js";
import { assertDomainName } from "../security/naming.js";
import { startWorker, type WorkerOptions } from "../worker/worker.js";
import { databaseOptionsFromConfig, natsOptionsFromConfig } from "./connection-options.js";
import { loadApp } from "./load-app.js";
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

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | "timeout"> =>
  Promise.race([p, new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms).unref())]);

export const startCommand: CliCommand = {
  name: "start",
  summary: "run a worker for a domain until SIGTERM",
  usage: "herald start [--app <module>] [--domain <name>]",
  help: `Serves the app's commands as a NATS micro service (queue group herald-<domain>),
publishes confirmed events to JetStream and relays whatever the outbox holds.
Prints one line when ready. On SIGTERM or SIGINT it stops taking requests,
finishes those in flight, flushes the outbox, drains NATS and closes the pool.

Options:
  --app <module>     module exporting the app (default: the bank reference domain)
  --domain <name>    serve the app under another domain (default: HERALD_DOMAIN or the app's)
  -h, --help         show this help

Configuration comes from the environment (see the README's table).`,
  async run(argv, io) {
    const { values } = parseArgs({ args: argv, options: { app: { type: "string" }, domain: { type: "string" } }, strict: true });
    const config = loadConfig();
    const logger = createLogger({ level: config.LOG_LEVEL });
    if (values.domain !== undefined) assertDomainName(values.domain);
    const app = await loadApp(values.app, io.cwd);
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
    io.out(`herald worker ready: domain=${worker.domain} stream=${worker.stream} database=${database.dialect}`);

    const signal = await io.stopSignal;
    logger.info({ signal }, "stopping");
    const stopped = await withTimeout(worker.stop(), config.HERALD_SHUTDOWN_TIMEOUT_MS);
    if (stopped === "timeout") logger.warn({}, "graceful stop timed out; abandoning in-flight work");
    await withTimeout(nc.drain(), 5000).catch(() => undefined);
    await database.destroy();
    // The last spans and metrics (the final outbox flush's included).
    await withTimeout(telemetry.shutdown(), 5000);
    io.err(`herald worker stopped (${signal})`);
    return stopped === "timeout" ? 1 : 0;
  },
};
