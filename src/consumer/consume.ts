import { jetstream, type Consumer, type ConsumerMessages, type JetStreamManager } from "@nats-io/jetstream";
import { consumerRetention } from "../config.js";
import { ensureStream, openStreamManager } from "../messaging/stream.js";
import { startPruner } from "../operations/pruner.js";
import { decodeConsistencyToken } from "../protocol/consistency-token.js";
import { assertSegment, defaultStreamName, eventWildcard } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { startAppliedEndpoint, type AppliedEndpoint } from "./applied-endpoint.js";
import { createAppliedTracker, type AppliedTracker } from "./applied-tracker.js";
import { deadLetterSubject, defaultDeadLetterStream } from "./dead-letter.js";
import { ensureDurable } from "./durable.js";
import { createPositionRecorder } from "./position.js";
import { processMessage, type Processor } from "./process-message.js";
import type {
  ConsumerStats,
  EventSchemaMap,
  HeraldConsumer,
  PlainConsumeOptions,
  TransactionalConsumeOptions,
} from "./types.js";

const DEFAULT_BACKOFF_MS: readonly number[] = [1000, 5000, 15_000, 30_000];
/** Pause before pulling again after the pull ended on its own (NATS restart, consumer re-created). */
const RESUME_DELAY_MS = 1000;
const DURABLE = /^[A-Za-z0-9_-]{1,64}$/;

type AnyConsumeOptions = TransactionalConsumeOptions<any, EventSchemaMap> | PlainConsumeOptions<EventSchemaMap>;

/** What other helpers built on consume() (react) add to the processing of each message. */
export type ConsumerExtras = Pick<Processor, "transient"> & {
  /** Least time between two reads of the ack floor for the applied position. Default 1000 ms. */
  positionRefreshMs?: number;
};

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new TypeError(`consume: ${name} must be a positive integer, got ${String(value)}`);
  return v;
}

function backoffList(value: number | readonly number[] | undefined): readonly number[] {
  const list = value === undefined ? DEFAULT_BACKOFF_MS : typeof value === "number" ? [value] : value;
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new TypeError("consume: backoffMs must be a non-negative number or a non-empty list of them");
  }
  return list;
}

/** Creates the dead-letter stream when missing; one of the operator's own that already takes `<domain>.dlq.>` is fine. */
async function ensureDeadLetterStream(jsm: JetStreamManager, name: string, domain: string, logger: Logger): Promise<void> {
  try {
    await ensureStream(jsm, { name, subjects: [deadLetterSubject(domain, "*").replace(/\*$/, ">")] });
  } catch (err) {
    if (!/overlap/i.test(String((err as Error).message))) throw err;
    logger.info({ stream: name }, "another stream already takes the dead-letter subjects");
  }
}

/** Options checked, defaults filled in. */
function resolve(options: AnyConsumeOptions) {
  const { domain, durable } = options;
  assertSegment("domain", domain);
  if (!DURABLE.test(durable)) throw new TypeError(`consume: durable "${durable}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  const filters = options.filter === undefined ? [eventWildcard(domain)] : typeof options.filter === "string" ? [options.filter] : [...options.filter];
  if (filters.length === 0) throw new TypeError("consume: filter must name at least one subject");
  return {
    stream: options.stream ?? defaultStreamName(domain),
    filters,
    ackWaitMs: positiveInt("ackWaitMs", options.ackWaitMs, 30_000),
    batch: positiveInt("batch", options.batch, 10),
    maxDeliver: positiveInt("maxDeliver", options.maxDeliver, 5),
    maxAckPending: positiveInt("maxAckPending", options.maxAckPending, 1000),
    maxAwaitMs: positiveInt("maxAwaitMs", options.maxAwaitMs, 30_000),
    backoffMs: backoffList(options.backoffMs),
    logger: (options.logger ?? silentLogger).child({ consumer: durable, domain }),
    // Read now, before anything is created: a bad setting fails the start cleanly.
    retention: options.db && options.prune !== false ? (options.retention ?? consumerRetention()) : undefined,
  };
}

/**
 * Consumes a domain's confirmed events on a durable JetStream pull consumer.
 * With `db`, each event's handler runs in a SERIALIZABLE transaction that also
 * records the event in `herald_inbox` and the durable's applied position:
 * effects are applied exactly once, however often the event is delivered, and
 * clients can wait for them (`<domain>.applied.<durable>`, `caughtUp`).
 * Messages of one instance are handled one at a time in stream order; several
 * instances may share the durable.
 */
export function consume<DB, S extends EventSchemaMap = EventSchemaMap>(options: TransactionalConsumeOptions<DB, S>): Promise<HeraldConsumer>;
export function consume<S extends EventSchemaMap = EventSchemaMap>(options: PlainConsumeOptions<S>): Promise<HeraldConsumer>;
export function consume(options: AnyConsumeOptions): Promise<HeraldConsumer> {
  return startConsumer(options, {});
}

/** consume() with the extras of a helper built on it. */
export async function startConsumer(options: AnyConsumeOptions, extras: ConsumerExtras): Promise<HeraldConsumer> {
  const { nc, domain, durable } = options;
  const settings = resolve(options);
  const { stream, logger } = settings;
  const jsm = await openStreamManager(nc);
  // Without a database the dead-letter message is the only record: a stream must keep it.
  if (!options.db && options.deadLetterStream !== false) {
    await ensureDeadLetterStream(jsm, options.deadLetterStream ?? defaultDeadLetterStream(domain), domain, logger);
  }
  await ensureDurable(jsm, { ...settings, durable, deliverPolicy: options.deliverPolicy ?? "all" });
  const tracker = options.db ? createAppliedTracker({ db: options.db, durable, filters: settings.filters }) : undefined;
  const stats: ConsumerStats = { processed: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  const processor: Processor = {
    transient: extras.transient,
    nc,
    db: options.db,
    domain,
    durable,
    schemas: options.schemas,
    maxDeliver: settings.maxDeliver,
    backoffMs: settings.backoffMs,
    ackWaitMs: settings.ackWaitMs,
    retry: options.retry,
    handle: options.handle as Processor["handle"],
    logger,
    stats,
    position: options.db ? createPositionRecorder({ jsm, stream, durable, refreshMs: extras.positionRefreshMs }) : undefined,
    onSettled: tracker ? (id) => tracker.settled(id) : undefined,
  };
  const source = await jetstream(nc).consumers.get(stream, durable);
  const endpoint =
    options.appliedEndpoint === false
      ? undefined
      : await startAppliedEndpoint({ nc, domain, durable, stream, tracker, maxWaitMs: settings.maxAwaitMs, logger });
  // The inbox and dead letters grow with every event: the consumer prunes its own rows.
  const pruner =
    options.db && options.prune !== false
      ? startPruner({
          // The documented settings, unless the caller passes its own hours.
          ...settings.retention,
          ...options.prune,
          db: options.db as never,
          domain,
          consumer: durable,
          targets: ["inbox", "deadLetters"],
          logger,
        })
      : undefined;
  const loop = runLoop(source, processor, settings.batch);
  return consumerHandle({ durable, stream, domain, stats, tracker, endpoint, loop, stopExtras: () => pruner?.stop(), nc });
}

interface Loop {
  running: Promise<void>;
  stop(): Promise<void>;
}

/** Pulls and processes until stopped, resuming after a pull that ended on its own. */
function runLoop(source: Consumer, processor: Processor, batch: number): Loop {
  const { nc, logger } = processor;
  let stopping = false;
  let messages: ConsumerMessages | undefined;
  let wake: () => void = () => undefined;
  async function run(): Promise<void> {
    while (!stopping && !nc.isClosed()) {
      try {
        messages = await source.consume({ max_messages: batch });
        if (stopping) await messages.close();
        // One at a time: keeps each subject's events in stream order on this instance.
        for await (const msg of messages) await processMessage(processor, msg);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "pulling events failed");
      }
      if (stopping || nc.isClosed()) break;
      logger.warn({}, "event pull ended; resuming");
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, RESUME_DELAY_MS).unref();
      });
    }
  }
  const running = run();
  return {
    running,
    async stop() {
      stopping = true;
      wake();
      // Closing ends the pull; messages already received are still handled, then the loop ends.
      await messages?.close().catch(() => undefined);
      await running;
    },
  };
}

function consumerHandle(parts: {
  durable: string;
  stream: string;
  domain: string;
  stats: ConsumerStats;
  tracker: AppliedTracker | undefined;
  endpoint: AppliedEndpoint | undefined;
  loop: Loop;
  stopExtras: () => Promise<void> | undefined;
  nc: Processor["nc"];
}): HeraldConsumer {
  const { durable, stream, domain, stats, tracker, nc } = parts;
  let stopped: Promise<void> | undefined;
  return {
    durable,
    stream,
    stats,
    async caughtUp(token, options) {
      const timeoutMs = options?.timeoutMs;
      if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
        throw new RangeError(`caughtUp: timeoutMs must be a number > 0, got ${String(timeoutMs)}`);
      }
      const { events } = decodeConsistencyToken(token, domain);
      if (!tracker) throw new TypeError(`caughtUp: consumer ${durable} has no database, so it cannot tell which events it applied`);
      return (await tracker.wait(events, timeoutMs)).length === 0;
    },
    stop() {
      stopped ??= (async () => {
        await parts.loop.stop();
        // After the loop: the events in hand are applied, and their waiters answered.
        await parts.endpoint?.stop();
        await parts.stopExtras();
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
      })();
      return stopped;
    },
  };
}
