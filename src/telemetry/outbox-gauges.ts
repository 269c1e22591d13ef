import { ValueType, type BatchObservableCallback, type Attributes } from "@opentelemetry/api";
import type { Kysely } from "kysely";
import type { HeraldTables } from "../db/schema.js";
import { pendingStats } from "../outbox/store.js";
import type { Logger } from "./logger.js";
import { heraldInstruments } from "./metrics.js";
import { ATTR_HERALD_DOMAIN, METRIC } from "./semconv.js";

export interface OutboxGaugesOptions {
  /** Database holding the outbox. Required. */
  db: Kysely<HeraldTables>;
  /** Domain whose events are counted. Required. */
  domain: string;
  /** How often the pending count is queried while a metric reader collects, in ms. Default 15000. */
  intervalMs?: number;
  /** Told when a sample query fails. Required. */
  logger: Logger;
}

/** The outbox gauges of one domain; `stop()` detaches them and ends the sampling. */
export interface OutboxGauges {
  /** Queries the outbox now (tests; the timer does this on its own). */
  sample(): Promise<void>;
  stop(): void;
}

/**
 * `herald.outbox.pending` and `herald.outbox.oldest_age`, observable gauges fed
 * by a periodic query rather than one per collection, so scrape rate and the
 * number of readers do not load the database. The timer queries only after a
 * reader has collected once: with no metrics SDK registered, nothing is queried.
 */
export function startOutboxGauges(options: OutboxGaugesOptions): OutboxGauges {
  const { meter } = heraldInstruments();
  const attrs: Attributes = { [ATTR_HERALD_DOMAIN]: options.domain };
  const pending = meter.createObservableGauge(METRIC.outboxPending, {
    description: "Committed events not yet acknowledged by JetStream",
    unit: "{event}",
    valueType: ValueType.INT,
  });
  const oldestAge = meter.createObservableGauge(METRIC.outboxOldestAge, {
    description: "Age of the oldest unpublished event (0 when none)",
    unit: "s",
  });

  let latest: { count: number; oldestAgeMs: number } | undefined;
  let collected = false;
  let inflight: Promise<void> | undefined;

  const sample = (): Promise<void> =>
    (inflight ??= pendingStats(options.db, options.domain)
      .then((stats) => {
        latest = stats;
      })
      .catch((err) => options.logger.warn({ err: (err as Error).message }, "outbox gauge query failed"))
      .finally(() => {
        inflight = undefined;
      }));

  const observe: BatchObservableCallback = async (result) => {
    collected = true;
    // The first collection waits for one query; later ones report the last sample.
    if (!latest) await sample();
    if (!latest) return;
    result.observe(pending, latest.count, attrs);
    result.observe(oldestAge, latest.oldestAgeMs / 1000, attrs);
  };
  meter.addBatchObservableCallback(observe, [pending, oldestAge]);

  const timer = setInterval(() => {
    if (collected) void sample();
  }, options.intervalMs ?? 15_000);
  timer.unref();

  return {
    sample,
    stop() {
      clearInterval(timer);
      meter.removeBatchObservableCallback(observe, [pending, oldestAge]);
    },
  };
}
