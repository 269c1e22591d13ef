import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { toNatsHeaders } from "../messaging/nats-headers.js";
import type { StreamPublisher } from "../messaging/stream-publisher.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { PublishTelemetry } from "../telemetry/publish-telemetry.js";
import type { OutboxEvent } from "./outbox-event.js";
import { markPublished, recordPublishFailure } from "./store.js";

export interface PublisherOptions {
  /** Where events go: `createStreamPublisher(nc)` (as the worker does), or `jetstream(nc)`. */
  stream: StreamPublisher;
  db: Kysely<HeraldTables>;
  /** Time to wait for each PubAck in ms. Default 5000. */
  ackTimeoutMs?: number;
  /**
   * How long the first PubAck waits for others before their published marks are
   * written, in ms: at low load marks then share an UPDATE (and a commit) instead
   * of taking one each. Keep it far below the relay's grace. Default 20.
   */
  markLingerMs?: number;
  /**
   * Publishes of just-committed events running at once. Past it (JetStream slower
   * than the database, or away) new ones are not started: their events stay in
   * the outbox and the relay publishes them after its grace. This bounds the
   * worker's memory without holding back commands the database has confirmed.
   * Relay publishes are not counted. Default 1024.
   */
  maxInFlight?: number;
  /**
   * PubAcks whose "published" mark could not be written (database away) are
   * kept and written again every this many ms until it works, so the events are
   * not published a second time, perhaps past the stream's duplicate window.
   * Shorter than the relay's interval, so that when the database is back the
   * marks are usually written before another worker's relay takes the events.
   * Default 250.
   */
  markRetryMs?: number;
  /** Most such PubAcks kept; past it the oldest are dropped (the relay then publishes them again). Default 100000. */
  maxHeldMarks?: number;
  /** Default: silent. */
  logger?: Logger;
}

export interface PublishReport {
  published: number;
  /** Of those, how many JetStream reported as duplicates (already in the stream). */
  duplicates: number;
  failed: number;
  /** Left in the outbox for the relay because too many publishes were running. */
  deferred: number;
}

/** How a batch is being published. */
export interface PublishOptions {
  /** The outbox relay is publishing what the committing worker left (spans link to the command's trace). Default false. */
  relayed?: boolean;
}

/** Publishes committed events to JetStream and records each PubAck in the outbox. */
export interface EventPublisher {
  publish(events: readonly OutboxEvent[], options?: PublishOptions): Promise<PublishReport>;
  /** Resolves when every publish started so far has finished. */
  idle(): Promise<void>;
  /** PubAcks held because their mark could not be written yet. */
  heldMarks(): number;
  /** Stops retrying held marks (they are dropped: the relay publishes those events again). */
  close(): void;
}

const encoder = new TextEncoder();

function byCommand(events: readonly OutboxEvent[]): OutboxEvent[][] {
  const groups = new Map<string, OutboxEvent[]>();
  for (const e of events) {
    const group = groups.get(e.commandId);
    if (group) group.push(e);
    else groups.set(e.commandId, [e]);
  }
  return [...groups.values()];
}

export function createEventPublisher(options: PublisherOptions): EventPublisher {
  const { stream, db } = options;
  const timeout = options.ackTimeoutMs ?? 5000;
  const logger = options.logger ?? silentLogger;
  const maxInFlight = options.maxInFlight ?? 1024;
  const inFlight = new Set<Promise<unknown>>();
  let direct = 0;
  const marks = createMarkBuffer(db, logger, {
    lingerMs: options.markLingerMs ?? 20,
    retryMs: options.markRetryMs ?? 250,
    maxHeld: options.maxHeldMarks ?? 100_000,
  });
  const telemetry = new PublishTelemetry();

  async function publishAll(events: readonly OutboxEvent[], relayed: boolean): Promise<PublishReport> {
    const acks: Array<{ id: string; seq: number }> = [];
    const failed: string[] = [];
    let duplicates = 0;
    // One command's events go out in order; different commands in parallel.
    await Promise.all(
      byCommand(events).map(async (group) => {
        for (const [i, event] of group.entries()) {
          // Already in the stream, only its mark is missing: record it, never publish it again.
          const held = marks.heldSeq(event.id);
          if (held !== undefined) {
            acks.push({ id: event.id, seq: held });
            continue;
          }
          const span = telemetry.start(event, relayed);
          try {
            // Headers go out as stored: their traceparent names the command's process span.
            const ack = await stream.publish(event.subject, encoder.encode(JSON.stringify(event.data)), {
              msgID: event.id,
              headers: toNatsHeaders(event.headers),
              timeout,
            });
            telemetry.acked(span, event, relayed, ack);
            if (ack.duplicate) duplicates++;
            acks.push({ id: event.id, seq: ack.seq });
          } catch (err) {
            telemetry.failed(span, event, relayed, err);
            // Later events of the command wait for the relay, keeping their order.
            failed.push(...group.slice(i).map((e) => e.id));
            logger.warn({ eventId: event.id, subject: event.subject, err: (err as Error).message }, "publish failed; the outbox relay will retry");
            return;
          }
        }
      }),
    );
    await marks.record(acks);
    if (failed.length > 0) {
      await recordPublishFailure(db, failed).catch((err) => logger.warn({ err: (err as Error).message }, "could not count failed publishes"));
    }
    return { published: acks.length, duplicates, failed: failed.length, deferred: 0 };
  }

  return {
    publish(events, publishOptions) {
      const relayed = publishOptions?.relayed ?? false;
      if (events.length === 0) return Promise.resolve({ published: 0, duplicates: 0, failed: 0, deferred: 0 });
      if (!relayed && direct >= maxInFlight) {
        telemetry.deferred(events[0]!.domain, events.length);
        return Promise.resolve({ published: 0, duplicates: 0, failed: 0, deferred: events.length });
      }
      if (!relayed) direct++;
      const p = publishAll(events, relayed);
      inFlight.add(p);
      void p
        .finally(() => {
          inFlight.delete(p);
          if (!relayed) direct--;
        })
        .catch(() => undefined);
      return p;
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    heldMarks: () => marks.held(),
    close: () => marks.close(),
  };
}

const MAX_MARKS_PER_STATEMENT = 500;

interface MarkBuffer {
  record(acks: Array<{ id: string; seq: number }>): Promise<void>;
  /** Stream sequence of an event whose mark failed and is held for another try. */
  heldSeq(id: string): number | undefined;
  held(): number;
  close(): void;
}

/**
 * Records PubAcks in as few statements as possible: acks that arrive within the
 * linger, or while one UPDATE runs, go out together in the next, so marking
 * costs one round trip per flush instead of one per command. `record` resolves
 * once its acks are written or, when the write failed, held: held acks are
 * written again every `retryMs`, and the publisher records (never republishes)
 * a held event the relay hands it, so a database outage does not make this
 * worker store an event twice. Another worker's relay may still take such an
 * event before the mark is written; a worker that stops or crashes loses what it held:
 * another relay then publishes those events again, and JetStream drops the copy
 * only inside the stream's duplicate window.
 */
function createMarkBuffer(
  db: Kysely<HeraldTables>,
  logger: Logger,
  settings: { lingerMs: number; retryMs: number; maxHeld: number },
): MarkBuffer {
  let queued: Array<{ id: string; seq: number }> = [];
  let waiters: Array<() => void> = [];
  let flushing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const held = new Map<string, number>();
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  function hold(batch: ReadonlyArray<{ id: string; seq: number }>): void {
    if (closed) return;
    for (const a of batch) held.set(a.id, a.seq);
    let dropped = 0;
    for (const id of held.keys()) {
      if (held.size <= settings.maxHeld) break;
      held.delete(id);
      dropped++;
    }
    if (dropped > 0) logger.warn({ dropped }, "too many unwritten published marks; the relay will publish the oldest again");
    retryTimer ??= setTimeout(retryHeld, settings.retryMs);
    retryTimer.unref();
  }

  function retryHeld(): void {
    retryTimer = undefined;
    if (closed || held.size === 0) return;
    queued.push(...[...held].slice(0, MAX_MARKS_PER_STATEMENT).map(([id, seq]) => ({ id, seq })));
    if (!flushing) void flush();
  }

  async function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    flushing = true;
    while (queued.length > 0) {
      // One row per event: a held ack may also come back through the relay.
      const batch = [...new Map(queued.splice(0, MAX_MARKS_PER_STATEMENT).map((a) => [a.id, a])).values()];
      const done = queued.length === 0 ? waiters.splice(0) : [];
      try {
        await markPublished(db, batch);
        for (const a of batch) held.delete(a.id);
      } catch (err) {
        logger.warn({ err: (err as Error).message, count: batch.length }, "could not record published events; holding them to retry");
        hold(batch);
      }
      for (const resolve of done) resolve();
    }
    for (const resolve of waiters.splice(0)) resolve();
    flushing = false;
    if (held.size > 0 && !closed) retryTimer ??= setTimeout(retryHeld, settings.retryMs);
    retryTimer?.unref();
  }

  return {
    record(acks) {
      if (acks.length === 0) return Promise.resolve();
      queued.push(...acks);
      const written = new Promise<void>((resolve) => waiters.push(resolve));
      if (flushing) return written;
      if (settings.lingerMs <= 0 || queued.length >= MAX_MARKS_PER_STATEMENT) void flush();
      else timer ??= setTimeout(() => void flush(), settings.lingerMs);
      return written;
    },
    heldSeq: (id) => held.get(id),
    held: () => held.size,
    close() {
      closed = true;
      clearTimeout(retryTimer);
      held.clear();
    },
  };
}
