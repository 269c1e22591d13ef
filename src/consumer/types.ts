import type { NatsConnection } from "@nats-io/nats-core";
import type { Kysely, Transaction } from "kysely";
import type { z } from "zod";
import type { ConsumerRetention } from "../config.js";
import type { RetryPolicy } from "../db/transact.js";
import type { ConsistencyToken } from "../protocol/consistency-token.js";
import type { PrunerSettings } from "../operations/pruner.js";
import type { Logger } from "../telemetry/logger.js";

/** zod schemas by event name (the last subject segment), e.g. a command's `events`. */
export type EventSchemaMap = Record<string, z.ZodType>;

/** What every consumed event carries, decoded from its CloudEvents headers. */
export interface HeraldEventBase {
  /** `ce-id`: the event's UUID, unique per event; the inbox key. */
  readonly id: string;
  /** `ce-type`, e.g. `bank.transferred`. */
  readonly type: string;
  /** `ce-source`, e.g. `herald/bank`. */
  readonly source: string;
  /** `ce-time`: when the command committed. */
  readonly time: Date;
  /** The subject the message arrived on (a replay may re-target it). */
  readonly subject: string;
  /** Event name, the subject's last segment, e.g. `transferred`. */
  readonly name: string;
  /** `ce-commandid`: the command that emitted the event. */
  readonly commandId: string;
  /** `ce-idempotencykey`: that command's key. */
  readonly idempotencyKey: string;
  /** Every header, first value of each. */
  readonly headers: Readonly<Record<string, string>>;
  /** Stream sequence. */
  readonly seq: number;
  /** 1 on the first delivery, higher on redeliveries. */
  readonly deliveryCount: number;
}

/**
 * A consumed event. With schemas, a union over the event names whose `data` is
 * each schema's output; without, `data` is the parsed JSON body.
 */
export type HeraldEvent<S extends EventSchemaMap = EventSchemaMap> = string extends keyof S
  ? HeraldEventBase & { readonly data: unknown }
  : { [K in keyof S & string]: HeraldEventBase & { readonly name: K; readonly data: z.output<S[K]> } }[keyof S & string];

/** What a handler sees besides the event. */
export interface ConsumerContext {
  /** The durable consumer's name. */
  readonly consumer: string;
  readonly domain: string;
  /** Transaction attempt, 1 first; higher when a serialization conflict re-ran the handler. Always 1 without `db`. */
  readonly attempt: number;
  readonly logger: Logger;
}

/** The context of a consumer with a database: its writes go through `tx`. */
export interface TransactionalContext<DB> extends ConsumerContext {
  /**
   * SERIALIZABLE transaction that also records the event in the inbox: the
   * handler's writes and that record commit together, or not at all.
   */
  readonly tx: Transaction<DB>;
}

/** Options every consumer takes. */
export interface ConsumeOptionsBase<S extends EventSchemaMap> {
  /** NATS connection; the caller owns it (stop() leaves it open). Required. */
  nc: NatsConnection;
  /** Domain whose events to consume. Required. */
  domain: string;
  /**
   * Durable consumer name (`[A-Za-z0-9_-]`, 1-64): shared by every instance, the
   * inbox's key and the last token of the dead-letter subject. Required.
   */
  durable: string;
  /** JetStream stream. Default `<DOMAIN>_EVENTS`. */
  stream?: string;
  /** Subject filter(s); several need NATS server 2.10+. Default `<domain>.evt.>`. */
  filter?: string | readonly string[];
  /**
   * zod schema per event name. An event that fails its schema, or has none here,
   * is poison: dead-lettered at once. Default: no validation.
   */
  schemas?: S;
  /** Deliveries of an event before it is dead-lettered. Default 5. */
  maxDeliver?: number;
  /** NAK delay after the n-th failed delivery in ms; a list is indexed by n, its last entry repeats. Default [1000, 5000, 15000, 30000]. */
  backoffMs?: number | readonly number[];
  /** Messages pulled per request; the instance processes them one at a time. Default 10. */
  batch?: number;
  /** Time the server waits for an ack before redelivering, in ms; long handlers keep it alive. Default 30000. */
  ackWaitMs?: number;
  /** Unacknowledged messages the server hands out, across all instances. Default 1000. */
  maxAckPending?: number;
  /** Where a new durable starts: every stored event, or only new ones. Default `all`. */
  deliverPolicy?: "all" | "new";
  /**
   * Serve `<domain>.applied.<durable>` (the `<domain>-applied` micro service), where
   * clients ask whether a command's events are applied (`send`'s
   * `awaitConsumers`). A consumer without `db` answers `not_tracked`. Default true.
   */
  appliedEndpoint?: boolean;
  /** Longest a request to that endpoint may wait for events, in ms; longer asks are cut to it. Default 30000. */
  maxAwaitMs?: number;
  /** Retry policy of the handler's transaction. Default DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy>;
  /** Default: silent. */
  logger?: Logger;
}

/** A consumer that writes to the database: exactly-once effects through the inbox. */
export interface TransactionalConsumeOptions<DB, S extends EventSchemaMap> extends ConsumeOptionsBase<S> {
  /** Database holding `herald_inbox` (migration 0002) and the handler's tables; the caller closes it. Required here. */
  db: Kysely<DB>;
  /** Applies one event inside `ctx.tx`; may run again if the transaction is retried. Throw to retry the event later. */
  handle(event: HeraldEvent<S>, ctx: TransactionalContext<DB>): Promise<void> | void;
  /**
   * Periodic prune of this durable's inbox rows and dead letters past their
   * retention (interval, batch, `inboxRetentionHours`, `deadLetterRetentionHours`),
   * or `false` to leave it to `herald prune`. Hours given here win over `retention`.
   * Keep the inbox retention longer than any replay or redelivery you may run: an
   * event older than it would be applied again. Default: on, every 10 minutes.
   */
  prune?: false | Omit<PrunerSettings, "eventRetentionHours">;
  /**
   * Retention the pruner follows. Default: HERALD_INBOX_RETENTION_HOURS and
   * HERALD_DEAD_LETTER_RETENTION_HOURS (720 h each), as `herald prune` uses them,
   * read through `consumerRetention()` of the configuration module.
   */
  retention?: ConsumerRetention;
}

/** A consumer without a database: at-least-once, de-duplicate on `event.id` yourself. */
export interface PlainConsumeOptions<S extends EventSchemaMap> extends ConsumeOptionsBase<S> {
  /** No database: no inbox, dead letters only as messages. */
  db?: undefined;
  /**
   * JetStream stream that keeps this consumer's dead letters, created at start
   * when missing on `<domain>.dlq.>`. A dead letter is TERMed only once a stream
   * acknowledged its message; otherwise the event is NAKed and comes back. `false`
   * creates nothing: a stream of your own must take `<domain>.dlq.<durable>`, or
   * failing events are retried until one does. Default `<DOMAIN>_DLQ`.
   */
  deadLetterStream?: string | false;
  /** Handles one event. Throw to retry it later. */
  handle(event: HeraldEvent<S>, ctx: ConsumerContext): Promise<void> | void;
}

/** Counters of one consumer instance. */
export interface ConsumerStats {
  /** Events handled and acknowledged. */
  processed: number;
  /** Events found in the inbox and acknowledged without running the handler. */
  duplicates: number;
  /** Failed deliveries that were NAKed for a retry. */
  retried: number;
  /** Events sent to the dead letter. */
  deadLettered: number;
}

/** A running consumer instance. */
export interface HeraldConsumer {
  readonly durable: string;
  readonly stream: string;
  readonly stats: Readonly<ConsumerStats>;
  /**
   * Read your writes: resolves true once this durable has applied (or
   * dead-lettered) every event of the command the token comes from, false when
   * `timeoutMs` passed first. Only events matching the consumer's filter are
   * waited for. Throws ConsistencyTokenError for a malformed token or one from
   * another domain (`code` `invalid_token` / `wrong_domain`), RangeError for a
   * timeout that is not above 0, TypeError for a consumer without `db`.
   */
  caughtUp(token: ConsistencyToken | string, options: { timeoutMs: number }): Promise<boolean>;
  /** Stops pulling, finishes the events already received, flushes their acks. Leaves `nc` and `db` open. */
  stop(): Promise<void>;
}
