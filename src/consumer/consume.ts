import { jetstream, type ConsumerMessages, type JetStreamManager } from "@nats-io/jetstream";
import { consumerRetention } from "../config.js";
import { ensureStream, openStreamManager } from "../messaging/stream.js";
import { startPruner } from "../operations/pruner.js";
import { assertSegment, defaultStreamName, eventWildcard } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { deadLetterSubject, defaultDeadLetterStream } from "./dead-letter.js";
import { ensureDurable } from "./durable.js";
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

/**
 * Consumes a domain's confirmed events on a durable JetStream pull consumer.
 * With `db`, each event's handler runs in a SERIALIZABLE transaction that also
 * records the event in `herald_inbox`: effects are applied exactly once, however
 * often the event is delivered. Messages of one instance are handled one at a
 * time in stream order; several instances may share the durable.
 */
export function consume<DB, S extends EventSchemaMap = EventSchemaMap>(options: TransactionalConsumeOptions<DB, S>): Promise<HeraldConsumer>;
export function consume<S extends EventSchemaMap = EventSchemaMap>(options: PlainConsumeOptions<S>): Promise<HeraldConsumer>;
export async function consume(
  options: TransactionalConsumeOptions<any, EventSchemaMap> | PlainConsumeOptions<EventSchemaMap>,
): Promise<HeraldConsumer> {
  const { nc, domain, durable } = options;
  assertSegment("domain", domain);
  if (!DURABLE.test(durable)) throw new TypeError(`consume: durable "${durable}" must be 1-64 characters of A-Z, a-z, 0-9, _ and -`);
  const stream = options.stream ?? defaultStreamName(domain);
  const filters = options.filter === undefined ? [eventWildcard(domain)] : typeof options.filter === "string" ? [options.filter] : [...options.filter];
  if (filters.length === 0) throw new TypeError("consume: filter must name at least one subject");
  const ackWaitMs = positiveInt("ackWaitMs", options.ackWaitMs, 30_000);
  const batch = positiveInt("batch", options.batch, 10);
  const logger = (options.logger ?? silentLogger).child({ consumer: durable, domain });
  const stats: ConsumerStats = { processed: 0, duplicates: 0, retried: 0, deadLettered: 0 };
  const processor: Processor = {
    nc,
    db: options.db,
    domain,
    durable,
    schemas: options.schemas,
    maxDeliver: positiveInt("maxDeliver", options.maxDeliver, 5),
    backoffMs: backoffList(options.backoffMs),
    ackWaitMs,
    retry: options.retry,
    handle: options.handle as Processor["handle"],
    logger,
    stats,
  };

  const jsm = await openStreamManager(nc);
  // Without a database the dead-letter message is the only record: a stream must keep it.
  if (!options.db && options.deadLetterStream !== false) {
    await ensureDeadLetterStream(jsm, options.deadLetterStream ?? defaultDeadLetterStream(domain), domain, logger);
  }
  await ensureDurable(jsm, {
    stream,
    durable,
    filters,
    ackWaitMs,
    maxAckPending: positiveInt("maxAckPending", options.maxAckPending, 1000),
    deliverPolicy: options.deliverPolicy ?? "all",
  });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  // The inbox and dead letters grow with every event: the consumer prunes its own rows.
  const pruner =
    options.db && options.prune !== false
      ? startPruner({
          // The documented settings, unless the caller passes its own hours.
          ...(options.retention ?? consumerRetention()),
          ...options.prune,
          db: options.db as never,
          domain,
          consumer: durable,
          targets: ["inbox", "deadLetters"],
          logger,
        })
      : undefined;

  let stopping = false;
  let messages: ConsumerMessages | undefined;
  let wake: () => void = () => undefined;

  async function run(): Promise<void> {
    while (!stopping && !nc.isClosed()) {
      try {
        messages = await consumer.consume({ max_messages: batch });
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

  let stopped: Promise<void> | undefined;
  return {
    durable,
    stream,
    stats,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wake();
        // Closing ends the pull; messages already received are still handled, then the loop ends.
        await messages?.close().catch(() => undefined);
        await running;
        await pruner?.stop();
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
      })();
      return stopped;
    },
  };
}
