import type { JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely } from "kysely";
import { transact, type RetryPolicy } from "../db/transact.js";
import { AmbiguousCommitError } from "../errors.js";
import { traceConsumed } from "../telemetry/consumer-telemetry.js";
import type { Logger } from "../telemetry/logger.js";
import { recordDeadLetter } from "./dead-letter.js";
import { decodeEvent, headersOf, PoisonEventError, rawData } from "./decode.js";
import { claimInbox } from "./inbox.js";
import type { PositionRecorder } from "./position.js";
import type { ConsumerContext, ConsumerStats, EventSchemaMap, HeraldEvent, TransactionalContext } from "./types.js";

/** Everything processing one message needs; fixed for a consumer's lifetime. */
export interface Processor {
  nc: NatsConnection;
  db: Kysely<any> | undefined;
  domain: string;
  durable: string;
  schemas: EventSchemaMap | undefined;
  maxDeliver: number;
  backoffMs: readonly number[];
  ackWaitMs: number;
  retry: Partial<RetryPolicy> | undefined;
  handle(event: HeraldEvent, ctx: ConsumerContext | TransactionalContext<any>): Promise<void> | void;
  logger: Logger;
  stats: ConsumerStats;
  /** Records the durable's applied position in each inbox transaction (with a database). */
  position?: PositionRecorder;
  /** Told after an event is applied, found applied, or dead-lettered (its id). */
  onSettled?: (eventId: string) => void;
  /** Failures that never count towards maxDeliver (a reactor's `unavailable` target). Default: none. */
  transient?: (err: unknown) => boolean;
}

/** One line for any thrown value, bounded so a dead letter stays small. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s*\n\s*/g, " ").slice(0, 2000);
}

/** Delay before the next delivery after the n-th failed one. */
export function nakDelay(backoffMs: readonly number[], deliveries: number): number {
  return backoffMs[Math.min(Math.max(deliveries, 1), backoffMs.length) - 1] ?? 0;
}

/** ack/nak/term throw once the connection is closed; the server then redelivers, which is safe. */
function settle(p: Processor, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    p.logger.warn({ err: errorText(err) }, `could not ${what} the message; it will be redelivered`);
  }
}

/** Runs the handler; in the inbox transaction when there is a database. False for an event applied before. */
async function apply(p: Processor, event: HeraldEvent): Promise<boolean> {
  const logger = p.logger.child({ eventId: event.id, seq: event.seq });
  const base = { consumer: p.durable, domain: p.domain, logger };
  if (!p.db) {
    await p.handle(event, { ...base, attempt: 1 });
    return true;
  }
  const { value } = await transact(
    p.db,
    async (tx, attempt) => {
      const fresh = await claimInbox(tx, p.durable, event.id);
      if (fresh) await p.handle(event, { ...base, attempt, tx });
      await p.position?.record(tx);
      return fresh;
    },
    { policy: p.retry },
  );
  p.position?.committed();
  return value;
}

async function deadLetter(p: Processor, msg: JsMsg, error: string, eventId: string | null): Promise<void> {
  const deliveries = msg.info.deliveryCount;
  try {
    const letter = await recordDeadLetter(p.db, p.nc, {
      consumer: p.durable,
      domain: p.domain,
      eventId,
      subject: msg.subject,
      streamSeq: msg.seq,
      data: rawData(msg),
      headers: headersOf(msg),
      error,
      deliveries,
    });
    p.stats.deadLettered++;
    // TERM, not ack: the server stops redelivering and emits a MSG_TERMINATED advisory.
    settle(p, "terminate", () => msg.term());
    if (eventId) p.onSettled?.(eventId.toLowerCase());
    p.logger.error({ seq: msg.seq, eventId, deliveries, deadLetterId: letter.id, error }, "event dead-lettered");
  } catch (err) {
    // Not recorded: keep the event and try again later rather than lose it.
    p.stats.retried++;
    settle(p, "nak", () => msg.nak(nakDelay(p.backoffMs, deliveries)));
    p.logger.error({ seq: msg.seq, eventId, err: errorText(err) }, "could not dead-letter the event; retrying it later");
  }
}

/**
 * Processes one message to its end: applied and acked, found in the inbox and
 * acked, NAKed for a later retry, or dead-lettered and TERMed. Never throws, so
 * a failing handler never stops the consumer. Acks only after the commit.
 */
export function processMessage(p: Processor, msg: JsMsg): Promise<void> {
  // In a `process <subject>` span linked to the event's trace; consumer lag and dead-letter metrics.
  return traceConsumed(p, msg, () => processOne(p, msg));
}

async function processOne(p: Processor, msg: JsMsg): Promise<void> {
  p.position?.refresh();
  let event: HeraldEvent;
  try {
    event = decodeEvent(msg, p.schemas);
  } catch (err) {
    const id = headersOf(msg)["ce-id"] ?? null;
    await deadLetter(p, msg, errorText(err), id);
    return;
  }
  // A handler slower than ack_wait would be redelivered to another instance meanwhile.
  const keepAlive = setInterval(() => settle(p, "extend", () => msg.working()), Math.max(250, Math.floor(p.ackWaitMs / 3)));
  keepAlive.unref();
  try {
    if (await apply(p, event)) p.stats.processed++;
    else p.stats.duplicates++;
    settle(p, "ack", () => msg.ack());
    p.onSettled?.(event.id);
  } catch (err) {
    const deliveries = msg.info.deliveryCount;
    // After an ambiguous commit the effect may be applied: one more delivery lets the inbox tell.
    const exhausted = deliveries >= p.maxDeliver && !(err instanceof AmbiguousCommitError) && !p.transient?.(err);
    if (err instanceof PoisonEventError || exhausted) {
      await deadLetter(p, msg, errorText(err), event.id);
      return;
    }
    p.stats.retried++;
    const delay = nakDelay(p.backoffMs, deliveries);
    settle(p, "nak", () => msg.nak(delay));
    p.logger.warn({ seq: msg.seq, eventId: event.id, deliveries, retryInMs: delay, err: errorText(err) }, "event handler failed; retrying later");
  } finally {
    clearInterval(keepAlive);
  }
}
