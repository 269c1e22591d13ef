import { toNatsHeaders } from "../messaging/nats-headers.js";
import type { StreamPublisher } from "../messaging/stream-publisher.js";
import { assertSegment } from "../protocol/subjects.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import { CdcTelemetry } from "./cdc-telemetry.js";
import { assertWatchedTable, encodeChange, keyText } from "./change-message.js";
import type { ChangeBatch, ChangeSource, RowChange } from "./change-source.js";

export interface CdcBridgeOptions {
  /** Where changes go: `createStreamPublisher(nc)` (as `herald cdc start` does), or `jetstream(nc)`. */
  publisher: StreamPublisher;
  source: ChangeSource;
  /** Domain whose `<domain>.cdc.>` subjects the changes go to. */
  domain: string;
  /** Time to wait for each PubAck in ms. Default 5000. */
  ackTimeoutMs?: number;
  /**
   * Publishes awaiting their PubAck, at most; a change delivered past it waits
   * for an ack, and `deliver`'s promise holds the source back (it stops reading
   * its socket) until the delivered changes fit again. Default 4096.
   */
  maxInFlight?: number;
  /** How long `stop()` waits for publishes in flight to be acked, in ms. Default 10000. */
  drainTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

export interface CdcBridgeStats {
  /** Changes JetStream acked (duplicates included). */
  published: number;
  /** Of those, copies JetStream dropped by `Nats-Msg-Id`. */
  duplicates: number;
  /** Changes that got no PubAck (their batch was nacked and comes again). */
  failed: number;
  /** Batches acked back to the source. */
  batchesAcked: number;
  /** Batches nacked back to the source. */
  batchesNacked: number;
  /** Changes delivered, not yet settled. */
  inFlight: number;
  /** Publishes awaiting their PubAck now (never above `maxInFlight`). */
  publishing: number;
  /** The most publishes that awaited their PubAck at once. */
  peakPublishing: number;
}

/** Publishes a source's committed row changes into JetStream, exactly once per change. */
export interface CdcBridge {
  /** Starts the source; resolves once it streams. */
  start(): Promise<void>;
  /** Stops taking batches, waits for publishes in flight (up to the drain timeout), acks what is done, stops the source. */
  stop(): Promise<void>;
  /** Resolves when every delivered batch is settled. */
  idle(): Promise<void>;
  stats(): Readonly<CdcBridgeStats>;
}

interface BatchState {
  readonly batch: ChangeBatch;
  remaining: number;
  failed: boolean;
}

const encoder = new TextEncoder();

/**
 * The bridge. Every change of a row (table + key) goes out after the previous
 * change of that row was acked, so per-key order is commit order; different
 * rows publish concurrently with many acks in flight. A batch is acked to the
 * source only when it and every earlier batch are fully acked, so the source's
 * durable position never passes an unpublished change. A failed publish nacks
 * its batch and every later one still pending; the source then sends them
 * again from its durable position and JetStream drops the copies by msg-id.
 */
export function createCdcBridge(options: CdcBridgeOptions): CdcBridge {
  const { publisher, source, domain } = options;
  assertSegment("domain", domain);
  const timeout = options.ackTimeoutMs ?? 5000;
  const maxInFlight = options.maxInFlight ?? 4096;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const logger = (options.logger ?? silentLogger).child({ component: "cdc-bridge", domain, source: source.kind });
  const stats: CdcBridgeStats = { published: 0, duplicates: 0, failed: 0, batchesAcked: 0, batchesNacked: 0, inFlight: 0, publishing: 0, peakPublishing: 0 };
  let telemetry: CdcTelemetry | undefined;
  const pending: BatchState[] = [];
  /** Tail of each row's publish chain. */
  const chains = new Map<string, Promise<void>>();
  /** A table's last truncate, until it is acked: the table's next changes wait for it. */
  const truncates = new Map<string, Promise<void>>();
  /** Changes waiting for a publish slot (at most `maxInFlight` await their PubAck). */
  let slotWaiters: Array<() => void> = [];
  let acks: Promise<void> = Promise.resolve();
  let stopping = false;
  let roomWaiters: Array<() => void> = [];
  let idleWaiters: Array<() => void> = [];

  function changed(): void {
    if (stats.inFlight < maxInFlight) for (const resolve of roomWaiters.splice(0)) resolve();
    if (pending.length === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  }

  /** Resolves once a publish may start without exceeding `maxInFlight` awaiting PubAcks. */
  function slot(): Promise<void> | undefined {
    if (stats.publishing < maxInFlight) {
      stats.publishing++;
      if (stats.publishing > stats.peakPublishing) stats.peakPublishing = stats.publishing;
      return undefined;
    }
    return new Promise<void>((resolve) => slotWaiters.push(resolve));
  }

  function releaseSlot(): void {
    const next = slotWaiters.shift();
    // The slot passes straight to the next waiter: the count stays.
    if (next) next();
    else stats.publishing--;
  }

  async function publish(state: BatchState, change: RowChange, key: string): Promise<void> {
    if (state.failed) return;
    const wait = slot();
    if (wait) await wait;
    try {
      await publishOne(state, change, key);
    } finally {
      releaseSlot();
    }
  }

  async function publishOne(state: BatchState, change: RowChange, key: string): Promise<void> {
    if (state.failed) return;
    const message = encodeChange(domain, source.kind, change, key);
    const span = telemetry!.start(message);
    try {
      const ack = await publisher.publish(message.subject, encoder.encode(JSON.stringify(message.body)), {
        msgID: message.id,
        headers: toNatsHeaders(message.headers),
        timeout,
      });
      telemetry!.acked(span, change, ack);
      stats.published++;
      if (ack.duplicate) stats.duplicates++;
      // A later change of the batch failed meanwhile: the batch is already nacked and counted out.
      if (state.failed) return;
      stats.inFlight--;
      state.remaining--;
      if (state.remaining === 0) settle();
    } catch (err) {
      telemetry!.failed(span, change, err);
      stats.failed++;
      fail(state, err);
    }
  }

  /** Acks, in order, every fully published batch at the head. */
  function settle(): void {
    while (pending.length > 0 && pending[0]!.remaining === 0) {
      const { batch } = pending.shift()!;
      stats.batchesAcked++;
      acks = acks.then(async () => {
        try {
          await batch.ack();
        } catch (err) {
          // The position moves with the next ack, or the source sends these again.
          logger.warn({ err: (err as Error).message, position: batch.position }, "source ack failed");
        }
      });
    }
    changed();
  }

  /** Nacks the failed batch and every later one: none of them may be acked past the gap. */
  function fail(state: BatchState, cause: unknown): void {
    const from = pending.indexOf(state);
    if (from < 0) return;
    const dropped = pending.splice(from);
    for (const s of dropped) {
      s.failed = true;
      stats.inFlight -= s.remaining;
      stats.batchesNacked++;
    }
    logger.warn({ err: (cause as Error)?.message, position: state.batch.position, batches: dropped.length }, "publish failed; the source sends the changes again");
    // Synchronously first, so the source stops before it delivers anything else.
    for (const s of dropped) {
      try {
        void Promise.resolve(s.batch.nack(cause)).catch((err) => logger.warn({ err: (err as Error).message }, "source nack failed"));
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "source nack failed");
      }
    }
    changed();
  }

  function deliver(batch: ChangeBatch): Promise<void> | void {
    // Not acked: the source sends it again after the restart.
    if (stopping) return;
    const state: BatchState = { batch, remaining: batch.changes.length, failed: false };
    for (const change of batch.changes) assertWatchedTable(change.table);
    pending.push(state);
    stats.inFlight += state.remaining;
    if (state.remaining === 0) settle();
    for (const change of batch.changes) {
      if (change.op === "truncate") {
        truncate(state, change);
        continue;
      }
      const key = keyText(change.key);
      const k = `${change.table}\0${key}`;
      const previous = chains.get(k) ?? truncates.get(change.table);
      // Most changes are the only one of their row in flight: they go out at once.
      const next = previous ? previous.then(() => publish(state, change, key)) : publish(state, change, key);
      chains.set(k, next);
      void next.then(() => {
        if (chains.get(k) === next) chains.delete(k);
      });
    }
    if (stats.inFlight < maxInFlight) return;
    return new Promise<void>((resolve) => roomWaiters.push(resolve));
  }

  /**
   * A truncate is a barrier for its table: it goes out after every earlier
   * change of the table is acked, and the table's later changes after it, so
   * the stream stores it between them.
   */
  function truncate(state: BatchState, change: RowChange): void {
    const prefix = `${change.table}\0`;
    const earlier: Array<Promise<void>> = [];
    for (const [k, tail] of chains) {
      if (!k.startsWith(prefix)) continue;
      earlier.push(tail);
      chains.delete(k);
    }
    const previous = truncates.get(change.table);
    if (previous) earlier.push(previous);
    const key = keyText(change.key);
    const next = Promise.all(earlier).then(() => publish(state, change, key));
    truncates.set(change.table, next);
    void next.then(() => {
      if (truncates.get(change.table) === next) truncates.delete(change.table);
    });
  }

  function idle(): Promise<void> {
    if (pending.length === 0) return acks;
    return new Promise<void>((resolve) => idleWaiters.push(resolve)).then(() => acks);
  }

  return {
    async start() {
      telemetry ??= new CdcTelemetry(domain);
      stopping = false;
      await source.start(deliver);
      logger.info({}, "cdc bridge streaming");
    },
    async stop() {
      stopping = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const drained = await Promise.race([
        idle().then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        // Neither acked nor nacked: the source is stopping, and its next start sends them again.
        for (const s of pending.splice(0)) s.failed = true;
        logger.warn({ inFlight: stats.inFlight }, "stopped with publishes in flight; the source sends them again");
        stats.inFlight = 0;
      }
      await acks;
      for (const resolve of roomWaiters.splice(0)) resolve();
      // Publishes still queued for a slot belong to abandoned batches: let them end (each releases the slot it is given).
      stats.publishing += slotWaiters.length;
      for (const resolve of slotWaiters.splice(0)) resolve();
      await source.stop();
    },
    idle,
    stats: () => ({ ...stats }),
  };
}
