import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import type { HeraldApp } from "../commands/define-app.js";
import { createDispatcher, type Dispatcher } from "../commands/dispatcher.js";
import type { DispatchStats } from "../commands/dispatch-stats.js";
import { detectDialect, type DialectName } from "../db/connection.js";
import type { HeraldTables } from "../db/schema.js";
import type { RetryPolicy } from "../db/transact.js";
import { startCommandService, type CommandService } from "../messaging/command-service.js";
import { DEFAULT_DUPLICATE_WINDOW_MS, duplicateWindowOf, ensureStream, openStreamManager } from "../messaging/stream.js";
import { createStreamPublisher } from "../messaging/stream-publisher.js";
import { createEventPublisher, type EventPublisher } from "../outbox/publisher.js";
import { startOutboxRelay, type OutboxRelay } from "../outbox/relay.js";
import { startPruner, type PrunerSettings } from "../operations/pruner.js";
import { defaultStreamName, eventWildcard } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { startOutboxGauges } from "../telemetry/outbox-gauges.js";

export interface WorkerOptions {
  app: HeraldApp;
  nc: NatsConnection;
  db: Kysely<HeraldTables>;
  /** Serve the app's commands under another domain name (tests, staging). Default: the app's. */
  domain?: string;
  /** JetStream stream for the events. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /**
   * Duplicate window of the stream when this worker creates it, in ms; an existing
   * stream keeps its own (a shorter one is logged as a warning). Default 900000 (15 min).
   */
  duplicateWindowMs?: number;
  /** Default 65536. */
  maxPayloadBytes?: number;
  /** Hours an idempotency key is kept. Default 168. */
  retentionHours?: number;
  /** Transaction retries. Defaults: DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** Commands processed at once. Default 512. */
  maxInFlight?: number;
  /** Most transactions at once (the limit adapts down under contention). Default 10: match the pool size. */
  maxConcurrentTransactions?: number;
  /** Most commands per transaction when requests queue up (group commit); 1 turns it off. Default 64. */
  maxBatchSize?: number;
  /** Outbox relay tuning. Defaults: interval 1000 ms, grace 5000 ms, batch 200, lease 30000 ms. */
  outbox?: { intervalMs?: number; graceMs?: number; batchSize?: number; leaseMs?: number };
  /** PubAck timeout in ms. Default 5000. */
  publishTimeoutMs?: number;
  /** Background pruning of this domain's expired commands and events (as `herald prune`); false turns it off. Defaults: every 10 min, batches of 500, events kept 168 h. */
  prune?: PrunerSettings | false;
  /** Default: silent. */
  logger?: Logger;
  /** The database server, for `db.system.name` on spans. Default: detected with one query at start. */
  dialect?: DialectName;
  /** How often the outbox gauges re-count unpublished events while metrics are collected, in ms. Default 15000. */
  outboxStatsIntervalMs?: number;
}

/** A running worker of one domain. */
export interface Worker {
  readonly domain: string;
  readonly stream: string;
  /** The stream's duplicate window in ms, as the stream has it. */
  readonly duplicateWindowMs: number;
  readonly stats: DispatchStats;
  readonly dispatcher: Dispatcher;
  readonly publisher: EventPublisher;
  readonly relay: OutboxRelay;
  readonly service: CommandService;
  /**
   * Graceful stop: no new requests, in-flight ones finished, their events
   * published, one last relay pass. Leaves the NATS connection and pool open:
   * the caller owns them.
   */
  stop(): Promise<void>;
}

/** Starts serving a domain: ensures its stream, then its micro service and outbox relay. */
export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const domain = options.domain ?? options.app.domain;
  const stream = options.stream ?? defaultStreamName(domain);
  const logger = (options.logger ?? silentLogger).child({ domain });
  const jsm = await openStreamManager(options.nc);
  const duplicateWindowMs = await ensureEventStream(jsm, stream, domain, options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS, logger);
  // Only labels spans: a database unreachable at start must not stop the worker here.
  const dialect = options.dialect ?? (await detectDialect(options.db as Kysely<unknown>).catch((): DialectName => "postgresql"));

  const dispatcher = createDispatcher({
    db: options.db,
    domain,
    commands: options.app.commands,
    maxPayloadBytes: options.maxPayloadBytes,
    retentionHours: options.retentionHours,
    retry: options.retry,
    logger,
    dialect,
    maxConcurrentTransactions: options.maxConcurrentTransactions,
    maxBatchSize: options.maxBatchSize,
  });
  // Its own inbox subscription on the caller's connection, closed when the worker stops.
  const streamPublisher = createStreamPublisher(options.nc);
  const publisher = createEventPublisher({ stream: streamPublisher, db: options.db, ackTimeoutMs: options.publishTimeoutMs, logger });
  const relay = startOutboxRelay({ db: options.db, publisher, domain, logger, ...options.outbox });
  const pruner = options.prune === false ? undefined : startPruner({ db: options.db, domain, logger, ...options.prune });
  const gauges = startOutboxGauges({ db: options.db, domain, intervalMs: options.outboxStatsIntervalMs, logger });
  const service = await startCommandService({
    nc: options.nc,
    dispatcher,
    commands: options.app.commands,
    maxInFlight: options.maxInFlight,
    version: options.app.version,
    description: options.app.description,
    logger,
    // Reply first, then publish: the client's confirmation never waits on JetStream.
    afterReply: (result) => publisher.publish(result.events),
  });

  let stopping: Promise<void> | undefined;
  return {
    domain,
    stream,
    duplicateWindowMs,
    stats: dispatcher.stats,
    dispatcher,
    publisher,
    relay,
    service,
    stop() {
      stopping ??= (async () => {
        await service.stop();
        await publisher.idle();
        await relay.stop();
        await pruner?.stop();
        await relay.runOnce({ graceMs: 0 }).catch((err) => logger.warn({ err: (err as Error).message }, "final outbox flush failed"));
        publisher.close();
        streamPublisher.close();
        gauges.stop();
      })();
      return stopping;
    },
  };
}

/**
 * Creates the domain's stream with the duplicate window when it is missing. An
 * existing stream is left as its operator configured it; a window shorter than
 * the setting is logged, since events republished past it are stored twice.
 */
async function ensureEventStream(jsm: JetStreamManager, stream: string, domain: string, wantedMs: number, logger: Logger): Promise<number> {
  const info = await ensureStream(jsm, { name: stream, subjects: [eventWildcard(domain)], duplicateWindowMs: wantedMs });
  const windowMs = duplicateWindowOf(info);
  if (windowMs < wantedMs) {
    logger.warn(
      { stream, duplicateWindowMs: windowMs, wantedMs },
      "the event stream's duplicate window is shorter than HERALD_STREAM_DUPLICATE_WINDOW_MS: an event republished after it (a long outage) may be stored twice; raise it with `nats stream edit <stream> --dupe-window`",
    );
  }
  return windowMs;
}
