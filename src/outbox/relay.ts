import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { silentLogger, type Logger } from "../telemetry/logger.js";
import type { EventPublisher } from "./publisher.js";
import { leaseUnpublished } from "./store.js";

export interface RelayOptions {
  db: Kysely<HeraldTables>;
  publisher: EventPublisher;
  domain: string;
  /** Pause between rounds in ms. Default 1000. */
  intervalMs?: number;
  /** Events younger than this are left to the worker that committed them, in ms. Default 5000. */
  graceMs?: number;
  /** Events per round. Default 200. */
  batchSize?: number;
  /** How long a relay owns the events it took, in ms. Default 30000. */
  leaseMs?: number;
  /** Default: silent. */
  logger?: Logger;
}

/**
 * The forwarder: publishes what a crash or a NATS outage left in the outbox.
 * Every worker runs one; leases keep them from doing the same work, and
 * `Nats-Msg-Id` makes a publication repeated by two relays harmless.
 */
export interface OutboxRelay {
  /** One pass until the backlog is empty (or a publish fails); returns events published. */
  runOnce(overrides?: { graceMs?: number }): Promise<number>;
  /** Stops the timer and waits for the current pass. */
  stop(): Promise<void>;
}

export function startOutboxRelay(options: RelayOptions): OutboxRelay {
  const intervalMs = options.intervalMs ?? 1000;
  const batchSize = options.batchSize ?? 200;
  const leaseMs = options.leaseMs ?? 30_000;
  const logger = options.logger ?? silentLogger;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<number> = Promise.resolve(0);

  async function pass(graceMs: number): Promise<number> {
    let total = 0;
    for (;;) {
      const events = await leaseUnpublished(options.db, { domain: options.domain, limit: batchSize, graceMs, leaseMs });
      if (events.length === 0) return total;
      const report = await options.publisher.publish(events, { relayed: true });
      total += report.published;
      if (report.failed > 0 || events.length < batchSize) return total;
    }
  }

  const runOnce = (overrides: { graceMs?: number } = {}): Promise<number> => {
    // Passes never overlap within one relay.
    current = current.catch(() => 0).then(() => pass(overrides.graceMs ?? options.graceMs ?? 5000));
    return current;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      runOnce()
        .then((n) => n > 0 && logger.info({ domain: options.domain, published: n }, "outbox relay published backlog"))
        .catch((err) => logger.warn({ err: (err as Error).message }, "outbox relay pass failed"))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current.catch(() => 0);
    },
  };
}
