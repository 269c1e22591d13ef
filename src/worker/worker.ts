import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import type { HeraldApp } from "../commands/define-app.js";
import { createDispatcher, type Dispatcher } from "../commands/dispatcher.js";
import type { DispatchStats } from "../commands/dispatch-stats.js";
import type { HeraldTables } from "../db/schema.js";
import type { RetryPolicy } from "../db/transact.js";
import { startCommandService, type CommandService } from "../messaging/command-service.js";
import { ensureStream } from "../messaging/stream.js";
import { createEventPublisher, type EventPublisher } from "../outbox/publisher.js";
import { startOutboxRelay, type OutboxRelay } from "../outbox/relay.js";
import { defaultStreamName, eventWildcard } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";

export interface WorkerOptions {
  app: HeraldApp;
  nc: NatsConnection;
  db: Kysely<HeraldTables>;
  /** Serve the app's commands under another domain name (tests, staging). Default: the app's. */
  domain?: string;
  /** JetStream stream for the events. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /** Default 65536. */
  maxPayloadBytes?: number;
  /** Hours an idempotency key is kept. Default 168. */
  retentionHours?: number;
  /** Transaction retries. Defaults: DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** Commands processed at once. Default 512. */
  maxInFlight?: number;
  /** Outbox relay tuning. Defaults: interval 1000 ms, grace 5000 ms, batch 200, lease 30000 ms. */
  outbox?: { intervalMs?: number; graceMs?: number; batchSize?: number; leaseMs?: number };
  /** PubAck timeout in ms. Default 5000. */
  publishTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

/** A running worker of one domain. */
export interface Worker {
  readonly domain: string;
  readonly stream: string;
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
  const jsm = await jetstreamManager(options.nc);
  await ensureStream(jsm, { name: stream, subjects: [eventWildcard(domain)] });

  const dispatcher = createDispatcher({
    db: options.db,
    domain,
    commands: options.app.commands,
    maxPayloadBytes: options.maxPayloadBytes,
    retentionHours: options.retentionHours,
    retry: options.retry,
    logger,
  });
  const publisher = createEventPublisher({ js: jetstream(options.nc), db: options.db, ackTimeoutMs: options.publishTimeoutMs, logger });
  const relay = startOutboxRelay({ db: options.db, publisher, domain, logger, ...options.outbox });
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
        await relay.runOnce({ graceMs: 0 }).catch((err) => logger.warn({ err: (err as Error).message }, "final outbox flush failed"));
      })();
      return stopping;
    },
  };
}
